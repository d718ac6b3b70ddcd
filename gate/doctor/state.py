"""The state directory, read and never written: permissions, disk space, the two
databases' integrity, the ledger's age and the upload backlog.

Nothing here creates or changes a file. The databases are opened read-only through
SQLite URIs: ``mode=ro`` while a writer's ``-wal`` and ``-shm`` files exist (the daemon
is running: its newest commits are read), else ``immutable=1``, because a read-only
connection to a WAL database would otherwise create ``-wal`` and ``-shm`` files and
leave them behind. A missing state directory, key or database is "not provisioned",
never created.

Whose state it is: the daemon runs as the state directory's owner (docs/technicians.md:
every ``gate`` command runs as that user; the systemd unit's ``User=`` is compared with
it by the services check), so every file in it must belong to that owner.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

from verifier.time_floor import NO_FLOOR, TimeFloor, highest

from .result import Context, Finding, fail, ok, skip, warn

LEDGER, RECORDS, KEY = "ledger.db", "records.db", "device.key"
PEERS = "peers.db"  # optional: what the peers said, recreated when lost

#: Disk: a busy lane decides about once a second at its peak.
RECORDS_PER_HOUR = 3600
HARD_FLOOR_BYTES, HARD_FLOOR_INODES, HARD_HOURS = 16 * 1024 * 1024, 1000, 1
SOFT_FLOOR_BYTES, SOFT_FLOOR_INODES, SOFT_HOURS = 64 * 1024 * 1024, 10_000, 24
#: Bytes per record when the log is still empty (a record is ~400 bytes of JSON, plus
#: its hash, the index and SQLite's pages).
DEFAULT_RECORD_BYTES = 1024
#: Ledger age beyond ``max_ledger_age`` times this, with a hub, is a failure.
LEDGER_FAIL_FACTOR = 10
#: Upload backlog: a warning when the oldest unsent record is older than this, or when
#: more records than this wait.
BACKLOG_AGE_S = 300
BACKLOG_RECORDS = 1000

_PROVISION = "provision the unit (gate provision, or docs/technicians.md: Provisioning a unit)"


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def readonly(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only, creating nothing beside it (see the module's notes)."""
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    how = "mode=ro" if wal.exists() and shm.exists() else "immutable=1"
    return sqlite3.connect(f"{path.absolute().as_uri()}?{how}", uri=True, timeout=5)


def stored_time_floor(ctx: Context) -> TimeFloor:
    """The newest time the state proves (the newest block, this gate's newest admission:
    ``Checkpoint.time_floor``'s sources), read without opening the state for writing."""
    if not ctx.databases_ok:
        return NO_FLOOR
    with closing(readonly(ctx.cfg.state_dir / LEDGER)) as conn:
        head = conn.execute("SELECT height, time FROM blocks ORDER BY height DESC LIMIT 1")
        block = head.fetchone()
    with closing(readonly(ctx.cfg.state_dir / RECORDS)) as conn:
        newest = conn.execute(
            "SELECT seq, min(at, step * 15) FROM local_admissions WHERE step IS NOT NULL "
            "ORDER BY min(at, step * 15) DESC LIMIT 1"
        ).fetchone()
    return highest(
        TimeFloor(block[1], f"block {block[0]}") if block else None,
        TimeFloor(newest[1], f"admission record {newest[0]}") if newest else None,
    )


# -- permissions ------------------------------------------------------------------------------


def check_permissions(ctx: Context) -> list[Finding]:
    cfg, name = ctx.cfg, "permissions"
    found: list[Finding] = []
    config_mode = stat.S_IMODE(cfg.path.stat().st_mode)
    if config_mode & 0o002:
        found.append(
            fail(
                name,
                f"{cfg.path} is writable by everyone (mode {config_mode:04o}): anyone on the "
                "unit can change its ledger key or hub",
                f"chmod o-w {cfg.path}",
            )
        )
    state = cfg.state_dir
    if not state.is_dir():
        return [
            *found,
            fail(
                name,
                f"state_dir {state} does not exist: not provisioned",
                f"create it (sudo install -d -o gatehouse -g gatehouse -m 0700 {state}), "
                f"then {_PROVISION}",
            ),
        ]
    st = state.stat()
    owner = _owner(st.st_uid)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:  # verifier.permissions refuses it at every open: gate run exits 3
        found.append(
            fail(
                name,
                f"state_dir {state} is open to others (mode {mode:04o}); the record log and "
                "the key's directory must be the gate user's alone: gate refuses to run on it",
                f"chmod 700 {state}",
            )
        )
    if os.geteuid() not in (0, st.st_uid):
        found.append(
            warn(
                name,
                f"doctor runs as {_owner(os.geteuid())}, but state_dir {state} belongs to "
                f"{owner}, the user the daemon runs as",
                f"run gate commands as that user: sudo -u {owner} gate doctor",
            )
        )
    key = state / KEY
    try:
        key_st = key.stat()
    except FileNotFoundError:
        found.append(fail(name, f"no device key at {key}: not provisioned", _PROVISION))
    except PermissionError:
        found.append(
            fail(name, f"cannot read {state}: permission denied", f"run as root or {owner}")
        )
    else:
        key_mode = stat.S_IMODE(key_st.st_mode)
        if key_mode & 0o077:
            found.append(
                fail(
                    name,
                    f"device key {key} is readable by others (mode {key_mode:04o}); gate "
                    "refuses to run with it",
                    f"chmod 600 {key}, then make sure the key was not copied anywhere",
                )
            )
    strangers = []
    for entry in sorted(state.iterdir()) if os.access(state, os.R_OK | os.X_OK) else []:
        try:
            entry_st = entry.lstat()
        except OSError:
            continue
        if entry_st.st_uid != st.st_uid:
            strangers.append(f"{entry.name} ({_owner(entry_st.st_uid)})")
        elif entry.name in (LEDGER, RECORDS) and stat.S_IMODE(entry_st.st_mode) & 0o077:
            found.append(
                warn(
                    name,
                    f"{entry} is readable by others (mode {stat.S_IMODE(entry_st.st_mode):04o})",
                    f"chmod 600 {entry}",
                )
            )
    if strangers:
        found.append(
            fail(
                name,
                f"in state_dir {state}, owned by {owner}: {', '.join(strangers)} belong to "
                "another user, so the daemon cannot write them (a gate command run with sudo?)",
                f"sudo chown -R {owner}: {state}",
            )
        )
    if not found:
        found.append(
            ok(
                name,
                f"state_dir {state} {mode:04o} {owner}, device key 0600, config not world-writable",
            )
        )
    return found


# -- disk ------------------------------------------------------------------------------------


def _record_bytes(ctx: Context) -> tuple[int, str]:
    """Bytes one record takes in records.db, from its size and row count."""
    path = ctx.cfg.state_dir / RECORDS
    try:
        size = path.stat().st_size
        with closing(readonly(path)) as conn:
            count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    except (OSError, sqlite3.Error):
        return DEFAULT_RECORD_BYTES, "assumed"
    if count < 100:  # a handful of records in a fresh file says little
        return DEFAULT_RECORD_BYTES, "assumed"
    return max(256, size // count), f"from {count} records"


def _mib(n: float) -> str:
    if n >= 10 * 1024**3:
        return f"{n / 1024**3:.0f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def check_disk(ctx: Context) -> Finding:
    name, state = "disk", ctx.cfg.state_dir
    if not state.is_dir():
        return skip(name, f"state_dir {state} does not exist")
    vfs = os.statvfs(state)
    free = vfs.f_bavail * vfs.f_frsize  # what a non-root daemon may still use
    inodes = vfs.f_favail
    per_record, how = _record_bytes(ctx)
    hard = max(HARD_FLOOR_BYTES, HARD_HOURS * RECORDS_PER_HOUR * per_record)
    soft = max(SOFT_FLOOR_BYTES, SOFT_HOURS * RECORDS_PER_HOUR * per_record)
    hours = free / (RECORDS_PER_HOUR * per_record)
    room = f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.0f} days"
    seen = (
        f"{_mib(free)} and {inodes} inodes free for {state}: about {room} of records at one "
        f"a second ({per_record} bytes each, {how})"
    )
    fix = (
        "free space on that file system (df -h; journalctl --vacuum-size=50M; remove old "
        "files), or move state_dir to a bigger card"
    )
    if (inodes and inodes < HARD_FLOOR_INODES) or free < hard:
        return fail(
            name,
            f"{seen}; under {_mib(hard)} or {HARD_FLOOR_INODES} inodes an admission may "
            "fail to commit",
            fix,
        )
    if (inodes and inodes < SOFT_FLOOR_INODES) or free < soft:
        return warn(name, f"{seen}; less than {_mib(soft)} or {SOFT_FLOOR_INODES} inodes", fix)
    return ok(name, seen)


# -- the databases ------------------------------------------------------------------------------


def _quick_check(path: Path) -> str | None:
    """Why ``path`` cannot be trusted, or None when SQLite's quick_check passes."""
    try:
        with closing(readonly(path)) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return f"cannot be read: {exc}"
    if rows == ["ok"]:
        return None
    return f"quick_check: {rows[0]}" + (f" (+{len(rows) - 1} more)" if len(rows) > 1 else "")


def check_databases(ctx: Context) -> list[Finding]:
    name, state = "databases", ctx.cfg.state_dir
    if not state.is_dir():
        return [skip(name, f"state_dir {state} does not exist")]
    found = []
    fixes = {
        LEDGER: "stop the daemon, move ledger.db (and its -wal, -shm) aside for analysis, "
        "then gate sync once (or gate ledger apply FILE) fills a new one",
        RECORDS: "stop the daemon and keep the file for analysis; the record log cannot "
        "come back from the hub: restore it from the unit's disk, or re-provision",
    }
    for file in (LEDGER, RECORDS):
        path = state / file
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            found.append(fail(name, f"no {path}: not provisioned", _PROVISION))
            continue
        except PermissionError as exc:
            found.append(fail(name, f"{path}: {exc.strerror}", "run as root or the gate user"))
            continue
        if size == 0:
            found.append(fail(name, f"{path} is empty: not provisioned", _PROVISION))
            continue
        problem = _quick_check(path)
        if problem:
            found.append(fail(name, f"{path} is damaged ({problem})", fixes[file]))
    peers = state / PEERS
    if peers.is_file() and peers.stat().st_size > 0:
        problem = _quick_check(peers)
        if problem:
            found.append(
                fail(
                    name,
                    f"{peers} is damaged ({problem}): the gate will not start on it",
                    "stop the daemon and move peers.db (and its -wal, -shm) aside: it holds "
                    "only what the peers told this gate, and they and the hub tell it again",
                )
            )
    if found:
        return found
    ctx.databases_ok = True
    held = f"{LEDGER}, {RECORDS} and {PEERS}" if peers.is_file() else f"{LEDGER} and {RECORDS}"
    return [ok(name, f"{held}: quick_check ok (read-only)")]


# -- the ledger's age and the upload backlog -------------------------------------------------


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def check_ledger(ctx: Context) -> Finding:
    name, lane = "ledger", ctx.cfg.lane
    if not ctx.databases_ok:
        return skip(name, "the databases could not be read (see databases)")
    with closing(readonly(ctx.cfg.state_dir / LEDGER)) as conn:
        head = conn.execute(
            "SELECT height, time FROM blocks ORDER BY height DESC LIMIT 1"
        ).fetchone()
    if head is None:
        return fail(
            name,
            "no ledger: no block applied yet, so every code is refused",
            "gate sync once (with a hub), or gate ledger apply FILE from the authority's stick",
        )
    height, block_time = head
    age = ctx.options.clock() - block_time
    seen = (
        f"height {height}, newest block {_ago(age)} old (max_ledger_age {lane.max_ledger_age:g} s)"
    )
    if age < -lane.max_clock_skew:
        return warn(
            name,
            f"height {height}, newest block {_ago(age)} in the future: this unit's clock is "
            "behind the authority's",
            "fix the clock (see clock); timedatectl",
        )
    if age <= lane.max_ledger_age:
        return ok(name, seen)
    if not lane.hub:
        return warn(
            name,
            f"{seen}; standalone, so the ledger comes by USB and is expected to age",
            "apply the newest ledger file: gate ledger apply FILE",
        )
    fix = "restore the link to the hub (see hub); gate sync once shows the error"
    if age > LEDGER_FAIL_FACTOR * lane.max_ledger_age:
        return fail(
            name,
            f"{seen}: more than {LEDGER_FAIL_FACTOR}x too old; refunds, transfers and other "
            "gates' admissions since then are unknown here",
            fix,
        )
    return warn(name, f"{seen}: stale (the ledger_stale alarm)", fix)


def check_backlog(ctx: Context) -> Finding:
    name = "backlog"
    if not ctx.databases_ok:
        return skip(name, "the databases could not be read (see databases)")
    from verifier.schema import UPLOAD_CURSOR_KEY

    with closing(readonly(ctx.cfg.state_dir / RECORDS)) as conn:
        last = conn.execute("SELECT max(seq) FROM records").fetchone()[0] or 0
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (UPLOAD_CURSOR_KEY,)).fetchone()
        cursor = int(row[0]) if row else 0
        oldest = conn.execute(
            "SELECT body FROM records WHERE seq > ? ORDER BY seq LIMIT 1", (cursor,)
        ).fetchone()
    backlog = last - cursor
    if not ctx.cfg.lane.hub:
        return ok(
            name,
            f"standalone: {last} record(s) in the log; they leave by USB (gate records export)",
        )
    if backlog <= 0:
        return ok(name, f"every record acknowledged by the hub (through seq {cursor})")
    at = json.loads(oldest[0]).get("at") if oldest else None
    age = ctx.options.clock() - at if isinstance(at, int) else None
    seen = f"{backlog} record(s) not yet acknowledged by the hub (after seq {cursor})" + (
        f", the oldest from {_ago(age)} ago" if age is not None else ""
    )
    if backlog > BACKLOG_RECORDS or (age is not None and age > BACKLOG_AGE_S):
        return warn(
            name,
            seen,
            "nothing is lost: they wait in records.db; restore the link to the hub (see hub), "
            "or export them by USB (gate records export) if it stays down",
        )
    return ok(name, f"{seen}: normal, they go with the next sync round")
