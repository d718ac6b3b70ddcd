"""The files of a gate's state, opened as one connection: checked, migrated, pinned.

``ledger.db`` holds the chain as applied (tickets, holders, revocations, every gate's
``redeem`` and ``void`` events, the devices' keys); ``records.db`` holds this gate's
signed decision log, its own admissions and voids, and its upload cursor; ``peers.db``
holds the records learned from peers on the LAN (:mod:`verifier.peer_records`). They
are separate files so that each has its own write lock: an admission's commit never
waits behind a block being applied, however big the block or the catch-up, nor behind
a peer's records being stored (one connection sees all three, ``records.db`` attached
as ``rec`` and ``peers.db`` as ``peer``). The record log is also the one thing a gate
cannot get back from the hub, while a damaged ledger copy can simply be moved aside and
synced again, and lost peer records are learned again from the peers and the hub.

This module is everything about the files as files, done once at open: refusing a
missing state directory or a lost record log, creating the files private, checking
their integrity, WAL (``synchronous=FULL`` for records.db: a committed admission
survives a power cut; NORMAL for the two files the gate learns again), running the
schema migrations of :mod:`verifier.schema`, and pinning the ledger key, the device and
the device key. What the files hold is read and written by
:mod:`verifier.ledger_state` and :mod:`verifier.record_log`, over :attr:`StateFiles.conn`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from errors import DeviceKeyError, DeviceMismatch, StoreCorrupt, StoreError

from .device_key import KEY_FILE
from .permissions import check_private_dir, check_private_file
from .schema import (
    MIGRATIONS,
    MOVED_TO_RECORDS,
    PEERS_MIGRATIONS,
    RECORDS_MIGRATIONS,
    SCHEMA_VERSION,
)
from .transactions import file_transaction, immediate_transaction

DB_FILE = "ledger.db"
RECORDS_FILE = "records.db"
PEERS_FILE = "peers.db"
#: ledger.db's page cache while blocks are applied (KiB; see StateFiles.bulk_cache).
BULK_CACHE_KIB = 48 * 1024
#: ledger.db's WAL checkpoint interval while blocks are applied (pages of 4 KiB: 80 MiB).
BULK_CHECKPOINT_PAGES = 20_000


class StateFiles:
    """One open connection to a state directory's files. ``close()`` is safe twice.

    ``ledger_key`` is pinned in ``ledger.db`` on first open: a state directory never
    mixes chains from two authorities. ``device`` (and the device key,
    :meth:`pin_device_key`) are pinned the same way, because the record log is one
    device's chain.
    """

    def __init__(
        self,
        state_dir: str | Path,
        *,
        ledger_key: bytes,
        device: str | None = None,
        integrity: str = "quick",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_FILE
        self.records_path = self.state_dir / RECORDS_FILE
        self.peers_path = self.state_dir / PEERS_FILE
        self.ledger_key = ledger_key
        self.device = device
        if not self.state_dir.is_dir():
            raise StoreError(
                f"state_dir {self.state_dir} does not exist or is not a directory "
                "(create it, owned by the gate's user, mode 0700)"
            )
        owner = check_private_dir(self.state_dir)
        check_private_file(self.state_dir / KEY_FILE, owner, self.state_dir)
        for name in (DB_FILE, RECORDS_FILE, PEERS_FILE):
            for suffix in ("", "-wal", "-shm"):
                path = self.state_dir / (name + suffix)
                check_private_file(path, owner, self.state_dir, tighten=True)
        records_missing = not _has_content(self.records_path)
        self._refuse_lost_device_log()
        _create_private(self.path)
        self._open = False
        try:
            self.conn: sqlite3.Connection = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, cached_statements=64
            )
            self._open = True
            self._open_file("main", self.path, integrity)
            self._refuse_lost_log(records_missing)
            _create_private(self.records_path)
            self._open_file("rec", self.records_path, integrity)
            _create_private(self.peers_path)  # lost: learned again from the peers
            self._open_file("peer", self.peers_path, integrity)
            self._migrate()
            self._move_to_records()
            self._pin("ledger_key", ledger_key.hex(), "ledger key")
            if device is not None:
                self._pin("device", device, "device id")
                self._pin("device", device, "device id", schema="rec")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreCorrupt(f"{self.path} cannot be used: {exc}") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._open:
            self._open = False
            self.conn.close()

    @contextmanager
    def bulk_cache(self) -> Iterator[None]:
        """ledger.db with a page cache of :data:`BULK_CACHE_KIB` while a batch of blocks
        is applied, and its WAL copied back every :data:`BULK_CHECKPOINT_PAGES` pages: a
        first sync inserts a million tickets at random places in the ``tickets`` B-tree,
        so each block dirties thousands of pages, which SQLite's default 2 MiB cache
        re-reads and its default checkpoint (every 1,000 pages) writes back at every
        block. Back to the defaults after, so a lane's resident memory stays small."""
        before = self.conn.execute("PRAGMA main.cache_size").fetchone()[0]
        pages = self.conn.execute("PRAGMA main.wal_autocheckpoint").fetchone()[0]
        self.conn.execute(f"PRAGMA main.cache_size=-{BULK_CACHE_KIB}")
        self.conn.execute(f"PRAGMA main.wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA main.cache_size={before}")
            self.conn.execute(f"PRAGMA main.wal_autocheckpoint={pages}")

    def __enter__(self) -> StateFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the pins ----------------------------------------------------------------------

    def meta(self, key: str, schema: str = "main") -> str | None:
        """A value from ``schema``'s meta table (``main``: ledger.db, ``rec``: records.db)."""
        row = self.conn.execute(f"SELECT value FROM {schema}.meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def pin_device_key(self, public_key: bytes) -> None:
        """Refuse a device key other than the one this state's record log was signed with."""
        try:
            self._pin("device_public_key", public_key.hex(), "device key", schema="rec")
        except DeviceMismatch:
            raise DeviceKeyError(
                f"{self.state_dir / KEY_FILE} is not the key this "
                f"state's record log was signed with ("
                f"{(self.device_public_key() or '')[:16]}…); re-provision "
                "the gate"
            ) from None

    def device_public_key(self) -> str | None:
        """The device key this state's record log is signed with (hex), once pinned."""
        return self.meta("device_public_key", "rec")

    def _pin(self, key: str, value: str, what: str, schema: str = "main") -> None:
        held = self.meta(key, schema)
        if held is None:
            with file_transaction(self.conn, schema):
                self.conn.execute(
                    f"INSERT OR IGNORE INTO {schema}.meta(key, value) VALUES (?, ?)", (key, value)
                )
            held = self.meta(key, schema)
        if held != value:
            path = self.path if schema == "main" else self.records_path
            raise DeviceMismatch(
                f"{path} belongs to {what} {held!r}, but the "
                f"configuration gives {value!r}; use the state_dir that "
                "belongs to this configuration"
            )

    # -- checks at open ----------------------------------------------------------------

    def _open_file(self, schema: str, path: Path, integrity: str) -> None:
        """Check one of the two files and set its journal; a damaged one is refused with
        its own name. (The header is not read with ``open()``: closing any descriptor of
        a database file drops every SQLite lock this process holds on it.)"""
        try:
            if schema != "main":
                self.conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
            self._verify_integrity(integrity, schema, path)
            self.conn.execute(f"PRAGMA {schema}.journal_mode=WAL")
            # peers.db: NORMAL, no fsync per commit. A gate takes a push from every peer
            # for every admission anywhere in the venue (80 a second at 200 lanes): an
            # fsync each would queue the lane's own synced commits behind them on the
            # same SD card. A power cut may lose the last peer records taken (never a
            # process crash, and never a torn file); the peers and the hub tell them
            # again (a gap is pulled, a round reads the heads anew).
            # ledger.db: NORMAL too. It is the hub's ledger, which the gate pulls again:
            # a power cut may roll back the last blocks applied (never tear the file),
            # and a first sync of a million tickets need not wait for an fsync and a
            # WAL checkpoint at every block. records.db, the one file nothing can give
            # back, stays FULL: an admission is on the card before the relay opens.
            sync = "FULL" if schema == "rec" else "NORMAL"
            self.conn.execute(f"PRAGMA {schema}.synchronous={sync}")
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise StoreCorrupt(
                    f"{path} is damaged: not a SQLite database (bad header); "
                    f"the gate will not run on it. {_after_damage(schema)}"
                ) from None
            self._refuse_unwritable(exc)
            raise StoreCorrupt(f"{path} cannot be used: {exc}") from None

    def _refuse_unwritable(self, exc: Exception) -> None:
        """A database that will not open on a card that takes no writes is a card
        problem, not a damaged file: say which (ext4 turns a failing card read-only,
        sometimes without marking the mount, so a write is tried)."""
        probe = self.state_dir / f".gatehouse-write-probe.{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"x")
                os.fsync(fd)
            finally:
                os.close(fd)
                probe.unlink()
        except OSError as probe_exc:
            raise StoreError(
                f"state_dir {self.state_dir} is on a read-only filesystem ({probe_exc.strerror};"
                f" SQLite: {exc}): the gate cannot record, so it does not decide. A card that "
                "turned read-only by itself is failing (see dmesg): replace the unit and "
                "recover its records.db"
            ) from None

    def _verify_integrity(self, level: str, schema: str, path: Path) -> None:
        if level == "none":
            return
        pragma = "integrity_check" if level == "full" else "quick_check"
        rows = self.conn.execute(f"PRAGMA {schema}.{pragma}(5)").fetchall()
        problems = [r[0] for r in rows if r[0] != "ok"]
        if problems:
            first = " ".join(str(problems[0]).split())[:200]
            raise StoreCorrupt(
                f"{path} is damaged ({first}); the gate will not run on it. {_after_damage(schema)}"
            )

    def _refuse_lost_device_log(self) -> None:
        """A device with an identity (its key file) but neither file has lost its record
        log; starting a new log at seq 1 under the same key would be refused by the hub
        and would forget admissions not yet uploaded. Checked before any file is made.
        (ledger.db counts: before schema 2 the log lived there.)"""
        key_file = self.state_dir / KEY_FILE
        if key_file.exists() and not (_has_content(self.records_path) or _has_content(self.path)):
            raise StoreError(
                f"{self.records_path} is missing or empty but {key_file} "
                "exists: this gate's record log is lost. Restore the state_dir "
                "from its disk, or re-provision the gate (new device key)"
            )

    def _refuse_lost_log(self, records_missing: bool) -> None:
        """A ledger.db that a device has used (schema 2 or later, device pinned) with no
        records.db beside it has lost its record log: starting a new log at seq 1 would
        be refused by the hub and forget admissions not yet uploaded."""
        version = self.conn.execute("PRAGMA main.user_version").fetchone()[0]
        if not records_missing or version < 2:
            return
        row = self.conn.execute("SELECT value FROM main.meta WHERE key='device'").fetchone()
        if row is not None:
            raise StoreError(
                f"{self.records_path} is missing or empty but {self.path} "
                f"belongs to device {row[0]!r}: this gate's record log is lost. "
                "Restore records.db from the gate's disk, or re-provision the "
                "gate (new device key, fresh state_dir)"
            )

    # -- migrations --------------------------------------------------------------------

    def _migrate(self) -> None:
        self._migrate_schema("rec", self.records_path, RECORDS_MIGRATIONS)
        self._migrate_schema("peer", self.peers_path, PEERS_MIGRATIONS)
        version = self._migrate_schema("main", self.path, MIGRATIONS, stop=1)
        if version == 1 and SCHEMA_VERSION > 1:
            self._adopt_v1_records()
        self._migrate_schema("main", self.path, MIGRATIONS)

    def _migrate_schema(
        self, schema: str, path: Path, migrations: tuple[str, ...], stop: int | None = None
    ) -> int:
        """Run ``migrations`` on ``schema`` up to version ``stop`` (default: all)."""
        target = len(migrations) if stop is None else stop
        version = self.conn.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
        if version > len(migrations):
            raise StoreError(
                f"{path} has schema version {version}, newer than this "
                f"Gatehouse understands ({len(migrations)}); upgrade the software"
            )
        while version < target:
            # Both files are locked while a schema changes: only ever at open.
            with immediate_transaction(self.conn):
                for statement in statements(migrations[version]):
                    self.conn.execute(_qualify(statement, schema))
                version += 1
                self.conn.execute(f"PRAGMA {schema}.user_version={version}")
        return version

    def _adopt_v1_records(self) -> None:
        """Copy a version-1 ledger.db's record log, own admissions and voids into
        records.db, committed there before the ledger migration drops them. Each file
        commits on its own, so the copy is idempotent: a crash in between copies again."""
        with immediate_transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO rec.records(seq, hash, body) "
                "SELECT seq, hash, body FROM main.records"
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO rec.local_admissions(seq, ticket, step, at) "
                "SELECT seq, ticket, step, at FROM main.admissions "
                "WHERE origin = 'local'"
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO rec.local_voids(seq, ticket) "
                "SELECT seq, ticket FROM main.voids WHERE origin = 'local'"
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO rec.meta(key, value) SELECT key, value "
                "FROM main.meta WHERE key IN ('device', 'device_public_key')"
            )

    def _move_to_records(self) -> None:
        """Move the upload cursor (and the last exchange time) that older versions kept
        in ledger.db's meta into records.db's: it belongs to the record log, and a
        ledger.db moved aside and synced again must not take it along (the gate would
        upload its whole log again). records.db commits first and keeps a value it
        already holds, so a crash in between moves nothing twice."""
        marks = ",".join("?" * len(MOVED_TO_RECORDS))
        held = self.conn.execute(
            f"SELECT key, value FROM main.meta WHERE key IN ({marks})", MOVED_TO_RECORDS
        ).fetchall()
        if not held:
            return
        with file_transaction(self.conn, "rec"):
            self.conn.executemany("INSERT OR IGNORE INTO rec.meta(key, value) VALUES (?, ?)", held)
        with file_transaction(self.conn, "main"):
            self.conn.execute(f"DELETE FROM main.meta WHERE key IN ({marks})", MOVED_TO_RECORDS)


def _after_damage(schema: str) -> str:
    """What to do about a damaged file: peers.db is only what the peers told this gate,
    and they (and the hub) tell it again."""
    if schema == "peer":
        return "Move it aside: the gate learns its peers' records again"
    return "Move it aside and re-provision"


def _has_content(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing. SQLite would create it with the
    umask's mode; the ledger and the log are the gate's business only (the -wal and -shm
    files copy this mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _qualify(statement: str, schema: str) -> str:
    """Point a schema script's CREATE statements at ``schema`` (ATTACHed files need it)."""
    for kind in ("TABLE ", "INDEX ", "UNIQUE INDEX "):
        if statement.startswith(f"CREATE {kind}"):
            return f"CREATE {kind}{schema}." + statement[len(f"CREATE {kind}") :]
    return statement


def statements(script: str) -> list[str]:
    """Split a schema script into statements (executescript would commit our transaction)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


__all__ = ["DB_FILE", "PEERS_FILE", "RECORDS_FILE", "StateFiles", "statements"]
