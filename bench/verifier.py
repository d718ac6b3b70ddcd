"""Benchmark of the verifier core: ledger apply, ``check``, ``admit`` and memory.

Run it with ``.venv/bin/python -m bench.verifier`` (bench/README.md explains every figure).

Why floors and ratios: absolute figures depend on the machine (a Raspberry Pi, a laptop,
a shared CI runner) and on whatever else it is doing, so every figure is printed beside
a floor measured in the same run on the same machine: the cost of the work the gate
cannot avoid (a libsodium point check per holder key, one Ed25519 verification per
decision, one synced SQLite commit per admission). The ratio is what the gate adds on
top, which is what code changes move; the absolute target says whether this machine is
fast enough for a 1,000,000-ticket sale.

Why the ledger is cached: a 1,000,000-ticket ledger needs 1,000,000 Ed25519 key pairs
(one holder key per ticket, the worst case for the point checks), which takes about a
minute. It is generated once per set of parameters in a child process (so its memory
never counts in this process's peak RSS) and kept under ``bench/.cache/`` with the seeds
it was derived from, so tokens can be made for any of its tickets later.

The benchmark exits 1 when any decision is wrong (a valid token not admitted, a broken
one admitted): a fast wrong answer is not a result. Missing a target only prints MISS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import nacl
import nacl.bindings
import nacl.exceptions

from verifier import Checkpoint, Decision, Policy, Signer, encode_token, make_block, parse_token
from verifier.blocks import PARALLEL_HOLDERS, ZERO_HASH, block_hash, read_blocks
from verifier.canonical import canonical_json
from verifier.keys import TAG_ENTRY, is_holder_key
from verifier.token import step_of

from .result import Row, add_json_option, print_table, verdict, write_json

T = TypeVar("T")

#: Bump when the generated ledger changes shape, so old cache files are not reused.
LEDGER_FORMAT = 1
EVENT_ID = "bench-show"
DEVICE = "bench-1"
DAY = 86_400
#: Tickets are valid from a day before generation for ten years, so a cached ledger
#: stays admissible in later runs.
VALIDITY = 10 * 365 * DAY

TARGET_APPLY_SECONDS_PER_MILLION = 30.0
TARGET_CHECK_PER_SECOND = 10_000
#: The check phase alternates check and its floor over this many shares of the tokens.
CHECK_ROUNDS = 10
TARGET_ADMIT_P99_MS = 3.0
TARGET_ADMIT_P99_RATIO = 4.0
TARGET_RSS_MIB = 150.0

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


class WrongResult(RuntimeError):
    """A decision or an apply result was not what the ledger says it must be."""


# -- the ledger ------------------------------------------------------------------------


def _derive(master: bytes, purpose: bytes, index: int) -> bytes:
    return hashlib.sha256(
        b"gatehouse-bench/" + purpose + master + index.to_bytes(8, "big")
    ).digest()


def holder_seed(master: bytes, holder: int) -> bytes:
    """The Ed25519 seed of holder number ``holder`` (kept derivable, never stored)."""
    return _derive(master, b"holder", holder)


def ticket_id(master: bytes, ticket: int) -> str:
    """The UUID of ticket number ``ticket``: random-looking, but derivable from its number."""
    return str(uuid.UUID(bytes=_derive(master, b"ticket", ticket)[:16], version=4))


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    """The parameters a generated ledger is cached under."""

    tickets: int
    block_size: int
    holders: int  # distinct holder keys; ticket i belongs to holder i % holders

    @property
    def name(self) -> str:
        return f"ledger-v{LEDGER_FORMAT}-t{self.tickets}-b{self.block_size}-h{self.holders}"

    @property
    def blocks(self) -> int:
        """Block 0 (the event) and the issue blocks."""
        return 1 + math.ceil(self.tickets / self.block_size)

    @property
    def holder_checks(self) -> int:
        """Point checks the gate must do: verifier/blocks.py checks each distinct holder
        key once per block, and a block of m consecutive tickets has min(m, holders)."""
        full, rest = divmod(self.tickets, self.block_size)
        return full * min(self.block_size, self.holders) + min(rest, self.holders)


@dataclass(frozen=True, slots=True)
class Ledger:
    """A generated ledger file and what is needed to act as its tickets' wallets."""

    spec: LedgerSpec
    path: Path
    master: bytes
    authority_key: bytes
    created: int
    size: int
    generation_seconds: float

    def ticket_id(self, ticket: int) -> str:
        return ticket_id(self.master, ticket)

    def holder_of(self, ticket: int) -> Signer:
        return Signer(holder_seed(self.master, ticket % self.spec.holders))


def _public_keys(seeds: list[bytes]) -> list[str]:
    return [Signer(seed).public_key.hex() for seed in seeds]


def _generate(spec: LedgerSpec, path_text: str) -> None:
    """Write the ledger and its metadata (child process body).

    Streams block by block, so it holds one block at a time. Key pairs are made on every
    core (libsodium releases the GIL). The files appear under their final names only when
    complete, the ledger before its metadata, so an interrupted run is simply redone.
    """
    started = time.perf_counter()
    path = Path(path_text)
    meta_path = path.with_suffix(".json")
    master, authority_seed = os.urandom(32), os.urandom(32)
    authority = Signer(authority_seed)
    created = int(time.time())
    workers = os.cpu_count() or 1
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    prev = ZERO_HASH
    with open(tmp, "wb") as out, ThreadPoolExecutor(max_workers=workers) as pool:

        def emit(height: int, events: list[dict[str, Any]]) -> None:
            nonlocal prev
            block = make_block(authority, height, prev, created, events)
            out.write(canonical_json(block) + b"\n")
            prev = block_hash(block).hex()

        emit(
            0,
            [
                {
                    "op": "event",
                    "event": EVENT_ID,
                    "name": "Benchmark Show",
                    "starts": created,
                    "ends": created + VALIDITY,
                }
            ],
        )
        step_report = max(1, spec.tickets // 10)
        next_report = step_report
        for height, start in enumerate(range(0, spec.tickets, spec.block_size), start=1):
            stop = min(start + spec.block_size, spec.tickets)
            owners = sorted({i % spec.holders for i in range(start, stop)})
            chunk = -(-len(owners) // workers)
            seeds = [holder_seed(master, h) for h in owners]
            keys = [
                k
                for part in pool.map(
                    _public_keys, [seeds[i : i + chunk] for i in range(0, len(seeds), chunk)]
                )
                for k in part
            ]
            key_of = dict(zip(owners, keys, strict=True))
            emit(
                height,
                [
                    {
                        "op": "issue",
                        "ticket": ticket_id(master, i),
                        "event": EVENT_ID,
                        "holder": key_of[i % spec.holders],
                        "from": created - DAY,
                        "until": created + VALIDITY,
                        "zones": [],
                        "entries": 1,
                        "label": "GA",
                    }
                    for i in range(start, stop)
                ],
            )
            if stop >= next_report:
                print(
                    f"  generated {stop:,}/{spec.tickets:,} tickets "
                    f"({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
                next_report += step_report
        out.flush()
        os.fsync(out.fileno())
    meta = {
        "format": LEDGER_FORMAT,
        "tickets": spec.tickets,
        "block_size": spec.block_size,
        "holders": spec.holders,
        "master_seed": master.hex(),
        "authority_seed": authority_seed.hex(),
        "authority_key": authority.public_key.hex(),
        "created": created,
        "bytes": tmp.stat().st_size,
        "generation_seconds": round(time.perf_counter() - started, 1),
    }
    meta_tmp = meta_path.with_name(f"{meta_path.name}.tmp-{os.getpid()}")
    meta_tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    os.replace(meta_tmp, meta_path)


def load_ledger(spec: LedgerSpec, cache_dir: Path) -> Ledger | None:
    """The cached ledger for ``spec``, or None when it is missing or incomplete."""
    path = cache_dir / f"{spec.name}.jsonl"
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        same = (
            meta["format"] == LEDGER_FORMAT
            and meta["tickets"] == spec.tickets
            and meta["block_size"] == spec.block_size
            and meta["holders"] == spec.holders
            and meta["bytes"] == path.stat().st_size
        )
        if not same:
            return None
        return Ledger(
            spec=spec,
            path=path,
            master=bytes.fromhex(meta["master_seed"]),
            authority_key=bytes.fromhex(meta["authority_key"]),
            created=meta["created"],
            size=meta["bytes"],
            generation_seconds=meta["generation_seconds"],
        )
    except (ValueError, KeyError, TypeError):
        return None


def ensure_ledger(spec: LedgerSpec, cache_dir: Path) -> tuple[Ledger, bool]:
    """The ledger for ``spec``, generated in a child process when not cached; and
    whether it came from the cache."""
    ledger = load_ledger(spec, cache_dir)
    if ledger is not None:
        return ledger, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"generating {spec.tickets:,} tickets into {cache_dir} (once per parameters)...", flush=True
    )
    child = multiprocessing.get_context("spawn").Process(
        target=_generate, args=(spec, str(cache_dir / f"{spec.name}.jsonl"))
    )
    child.start()
    child.join()
    ledger = load_ledger(spec, cache_dir)
    if child.exitcode != 0 or ledger is None:
        raise RuntimeError(f"ledger generation failed (exit code {child.exitcode})")
    return ledger, False


def sample_holder_keys(ledger: Ledger, count: int) -> list[bytes]:
    """Up to ``count`` distinct holder keys, read from the start of the ledger file
    (streamed: one block in memory at a time)."""
    keys: dict[str, None] = {}
    with open(ledger.path, "rb") as f:
        for line in f:
            for event in json.loads(line)["events"]:
                if event["op"] == "issue":
                    keys[event["holder"]] = None
                    if len(keys) >= count:
                        return [bytes.fromhex(k) for k in keys]
    return [bytes.fromhex(k) for k in keys]


# -- measuring helpers -----------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss), in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of samples <= it."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def in_threads(
    jobs: Sequence[Callable[[threading.Barrier], tuple[float, float, list[T]]]],
) -> tuple[float, list[T]]:
    """Run each job on its own thread; each does its setup, waits at the barrier, and
    returns (start, end, results) of its timed part. Return the wall time from the
    first start to the last end, and all results."""
    barrier = threading.Barrier(len(jobs), timeout=300)

    def guarded(
        job: Callable[[threading.Barrier], tuple[float, float, list[T]]],
    ) -> tuple[float, float, list[T]]:
        try:
            return job(barrier)
        except BaseException:
            barrier.abort()  # do not leave the other threads waiting for this one
            raise

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        done = [f.result() for f in [pool.submit(guarded, job) for job in jobs]]
    wall = max(end for _, end, _ in done) - min(start for start, _, _ in done)
    return wall, [r for _, _, results in done for r in results]


def require_ok(what: str, decisions: Sequence[Decision]) -> None:
    """Raise :class:`WrongResult` unless every decision admitted its (valid) token."""
    wrong = Counter(d.reason for d in decisions if not (d.admitted and d.reason == "ok"))
    if wrong:
        raise WrongResult(
            f"{what}: {sum(wrong.values())} of {len(decisions)} valid tokens "
            f"were not admitted: {dict(wrong)}"
        )


def filesystem_of(path: Path) -> str:
    """'fstype on mountpoint' for ``path`` (from /proc/self/mounts), or '?' elsewhere."""
    target = str(path.resolve())
    best, fstype = "", "?"
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "?"
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, fields[2]
    return f"{fstype} on {best}" if best else "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- the report ------------------------------------------------------------------------


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


# -- the phases ------------------------------------------------------------------------


@dataclass
class Run:
    """Everything the phases share: the parsed options, the ledger, the gate's state."""

    args: argparse.Namespace
    ledger: Ledger
    state_dir: Path
    policy: Policy
    rng: random.Random
    rows: list[Row]

    def checkpoint(self, integrity: str = "quick") -> Checkpoint:
        return Checkpoint(
            self.state_dir,
            device=DEVICE,
            ledger_key=self.ledger.authority_key,
            policy=self.policy,
            integrity=integrity,
        )


def phase_apply(run: Run, cp: Checkpoint, baseline_rss: float) -> None:
    """Apply the whole ledger file through the real path, beside the point-check floor."""
    spec = run.ledger.spec
    section(f"ledger apply: {spec.tickets:,} issues in {spec.blocks:,} blocks")
    keys = sample_holder_keys(run.ledger, run.args.floor_keys)
    start = time.perf_counter()
    valid = sum(is_holder_key(k) for k in keys)
    per_point = (time.perf_counter() - start) / len(keys)
    if valid != len(keys):
        raise WrongResult(f"{len(keys) - valid} generated holder keys are not valid points")
    floor = per_point * spec.holder_checks
    # The threads verifier/blocks.py uses for a block's holder keys (same rule).
    per_block = min(spec.block_size, spec.holders, spec.tickets)
    threads = (
        1
        if per_block < PARALLEL_HOLDERS
        else min(per_block // PARALLEL_HOLDERS + 1, os.cpu_count() or 1)
    )
    print(
        f"floor: {spec.holder_checks:,} holder-key checks x {per_point * 1e6:.1f} us "
        f"(is_holder_key, 1 thread, measured on {len(keys):,} distinct keys and "
        f"extrapolated) = {floor:.1f} s"
    )
    print(
        f"       (verifier/blocks.py checks a block's keys on {threads} thread(s) here: "
        f"ideal floor on {threads} thread(s) {floor / threads:.1f} s)"
    )

    with open(run.ledger.path, "rb") as f:
        start = time.perf_counter()
        report = cp.apply_lines(read_blocks(f), source=str(run.ledger.path))
        seconds = time.perf_counter() - start
    if report.error is not None or report.applied != spec.blocks:
        raise WrongResult(
            f"apply: {report.applied} of {spec.blocks} blocks applied, error: {report.error}"
        )
    rss_after = peak_rss_mib()
    count = cp.files.conn.execute
    tickets = count("SELECT count(*) FROM tickets").fetchone()[0]
    holders = count("SELECT count(DISTINCT holder) FROM tickets").fetchone()[0]
    if tickets != spec.tickets:
        raise WrongResult(f"apply: {tickets:,} tickets in the store, {spec.tickets:,} issued")
    target = TARGET_APPLY_SECONDS_PER_MILLION * spec.tickets / 1_000_000
    print(
        f"applied {report.applied:,} blocks in {seconds:.2f} s: "
        f"{report.applied / seconds:,.1f} blocks/s, {spec.tickets / seconds:,.0f} issues/s"
    )
    print(
        f"store: {tickets:,} tickets, {holders:,} distinct holder keys, "
        f"ledger height {report.height:,}"
    )
    print(
        f"ratio apply / floor: {seconds / floor:.2f}   target: {target:.1f} s "
        f"({TARGET_APPLY_SECONDS_PER_MILLION:.0f} s per 1,000,000 issues)"
    )
    print(
        f"peak RSS after apply: {rss_after:.1f} MiB (before the gate opened: "
        f"{baseline_rss:.1f} MiB)"
    )
    run.rows.append(
        Row(
            f"apply {spec.tickets:,} issues",
            f"{seconds:.1f} s",
            f"{floor:.1f} s (N x is_holder_key, 1 thr)",
            f"{seconds / floor:.2f}",
            f"<= {target:.1f} s",
            verdict(seconds <= target),
        )
    )
    run.rows.append(
        Row(
            "  issues/s",
            f"{spec.tickets / seconds:,.0f}/s",
            f"{spec.tickets / floor:,.0f}/s",
            "",
            "",
            "-",
        )
    )
    if threads > 1:
        run.rows.append(
            Row(
                f"  vs {threads}-thread floor",
                f"{seconds:.1f} s",
                f"{floor / threads:.1f} s (ideal on {threads} threads)",
                f"{seconds / (floor / threads):.2f}",
                "",
                "-",
            )
        )
    run.rows.append(
        Row(
            "peak RSS after apply",
            f"{rss_after:.1f} MiB",
            f"{baseline_rss:.1f} MiB (before the gate)",
            f"{rss_after / baseline_rss:.2f}",
            f"<= {TARGET_RSS_MIB:.0f} MiB",
            verdict(rss_after <= TARGET_RSS_MIB),
        )
    )


def make_tokens(run: Run, count: int, now: int) -> list[tuple[str, bytes]]:
    """(token text, holder public key) for ``count`` distinct random tickets, as their
    wallets would show them at ``now``."""
    tickets = run.rng.sample(range(run.ledger.spec.tickets), min(count, run.ledger.spec.tickets))
    out = []
    for i in tickets:
        holder = run.ledger.holder_of(i)
        out.append((encode_token(holder, run.ledger.ticket_id(i), step_of(now)), holder.public_key))
    return out


def signed_message(tok: Any) -> bytes:
    """What libsodium's ``crypto_sign_open`` verifies for a token: signature, tag, bytes."""
    return tok.signature + TAG_ENTRY + tok.signed


def _bare_verify() -> Callable[[bytes, bytes], bool]:
    """The check phase's floor, one Ed25519 verification at the least it costs from
    Python: libsodium's ``crypto_sign_open`` on a ready signed message, called straight
    through PyNaCl's compiled binding with no output buffer (what ``verifier.keys.verify``
    does too, after its length checks and the concatenation); ``nacl.bindings`` (which
    allocates and copies the message out) only if that binding is not there."""
    try:
        from nacl._sodium import ffi, lib
    except ImportError:  # pragma: no cover - another PyNaCl

        def public(key: bytes, signed: bytes) -> bool:
            try:
                nacl.bindings.crypto_sign_open(signed, key)
            except nacl.exceptions.BadSignatureError:
                return False
            return True

        return public
    sign_open, null = lib.crypto_sign_open, ffi.NULL

    def bare(key: bytes, signed: bytes) -> bool:
        return sign_open(null, null, signed, len(signed), key) == 0

    return bare


bare_verify = _bare_verify()


def phase_check(run: Run, cp: Checkpoint) -> None:
    """``check`` on valid tokens, 1 and 2 threads, beside one Ed25519 verify each."""
    now = int(time.time())
    made = make_tokens(run, run.args.check_tokens, now)
    tokens = [text for text, _ in made]
    # The floor's input, made before the clock starts: each key and the signed message
    # as libsodium takes it (signature + tag + signed bytes).
    parsed = [(key, signed_message(parse_token(text))) for text, key in made]
    n = len(tokens)
    section(
        f"check: {n:,} valid tokens for distinct random tickets, in {CHECK_ROUNDS} rounds "
        "each beside its floor"
    )

    def check_job(
        part: list[str],
    ) -> Callable[[threading.Barrier], tuple[float, float, list[Decision]]]:
        def job(barrier: threading.Barrier) -> tuple[float, float, list[Decision]]:
            # sqlite3 connections belong to the thread that opened them: one each.
            # integrity="none": a full-ledger quick_check per thread is not what is timed.
            with run.checkpoint(integrity="none") as own:
                barrier.wait()
                start = time.perf_counter()
                out = [own.check(t, now) for t in part]
                return start, time.perf_counter(), out

        return job

    def verify_job(
        part: list[tuple[bytes, bytes]],
    ) -> Callable[[threading.Barrier], tuple[float, float, list[bool]]]:
        def job(barrier: threading.Barrier) -> tuple[float, float, list[bool]]:
            barrier.wait()
            start = time.perf_counter()
            out = [bare_verify(key, signed) for key, signed in part]
            return start, time.perf_counter(), out

        return job

    # Rounds: each share of the tokens is checked, then its floor measured, so a load
    # that comes and goes on the machine falls on both alike (a run of all the checks,
    # then all the verifies, put a passing load on one side only).
    size = math.ceil(n / CHECK_ROUNDS)
    check_1 = verify_1 = check_2 = verify_2 = 0.0
    decisions: list[Decision] = []
    decisions2: list[Decision] = []
    verified = 0
    ok2: list[bool] = []
    for i in range(0, n, size):
        texts, floor = tokens[i : i + size], parsed[i : i + size]
        start = time.perf_counter()
        decisions += [cp.check(t, now) for t in texts]
        check_1 += time.perf_counter() - start
        start = time.perf_counter()
        verified += sum(bare_verify(key, signed) for key, signed in floor)
        verify_1 += time.perf_counter() - start
        wall, out = in_threads([check_job(texts[0::2]), check_job(texts[1::2])])
        check_2 += wall
        decisions2 += out
        wall, good = in_threads([verify_job(floor[0::2]), verify_job(floor[1::2])])
        verify_2 += wall
        ok2 += good
    require_ok("check (1 thread)", decisions)
    require_ok("check (2 threads)", decisions2)
    if verified != n:
        raise WrongResult(f"floor: {n - verified} of {n} token signatures did not verify")
    if not all(ok2):
        raise WrongResult("floor: a token signature did not verify in the 2-thread run")

    for label, c, v in (("1 thread ", check_1, verify_1), ("2 threads", check_2, verify_2)):
        rate, vrate = n / c, n / v
        print(
            f"{label}: check {rate:,.0f} decisions/s ({c / n * 1e6:.1f} us each); floor "
            f"Ed25519 verify {vrate:,.0f}/s ({v / n * 1e6:.1f} us); "
            f"ratio check/verify time {c / v:.2f}"
        )
        run.rows.append(
            Row(
                f"check, {label.strip()}",
                f"{rate:,.0f}/s",
                f"{vrate:,.0f} verifies/s",
                f"{c / v:.2f}",
                f">= {TARGET_CHECK_PER_SECOND:,}/s",
                verdict(rate >= TARGET_CHECK_PER_SECOND),
            )
        )
    print(f"all {n:,} decisions in each run: ok")


def phase_admit(run: Run, cp: Checkpoint, run_dir: Path) -> None:
    """``admit`` latency, interleaved with an empty synced commit on the same disk.

    Interleaving puts both under the same disk conditions (the fsync cost drifts with
    whatever else the machine is writing), which a run of each after the other would not.
    """
    now = int(time.time())
    made = make_tokens(run, run.args.admit_tokens, now)
    n = len(made)
    section(f"admit: {n:,} valid tokens for distinct random tickets, each commit synced")
    floor_db = sqlite3.connect(run_dir / "commit-floor.db", isolation_level=None)
    floor_db.execute("PRAGMA journal_mode=WAL")
    floor_db.execute("PRAGMA synchronous=FULL")
    floor_db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)")
    admit_ns: list[int] = []
    commit_ns: list[int] = []
    decisions: list[Decision] = []
    clock = time.perf_counter_ns
    try:
        for i, (text, _) in enumerate(made):
            t0 = clock()
            decisions.append(cp.admit(text, now))
            t1 = clock()
            # One tiny row: an empty transaction writes nothing and would not sync.
            floor_db.execute("BEGIN IMMEDIATE")
            floor_db.execute("INSERT INTO t(x) VALUES (?)", (i,))
            floor_db.execute("COMMIT")
            t2 = clock()
            admit_ns.append(t1 - t0)
            commit_ns.append(t2 - t1)
    finally:
        floor_db.close()
    require_ok("admit", decisions)
    seq, _ = cp.log.last_record()
    if seq != n:
        raise WrongResult(f"admit: {n} admissions but the record log ends at seq {seq}")
    # A gate that says "ok" to everything would pass the above: two refusals it must give.
    again = cp.check(made[0][0], now)
    forged = cp.check(
        encode_token(Signer(os.urandom(32)), decisions[0].ticket or "", step_of(now)), now
    )
    if (again.reason, forged.reason) != ("already_used", "bad_signature"):
        raise WrongResult(
            f"an admitted ticket checked again gave {again.reason!r} "
            f"(expected 'already_used'); a forged code gave {forged.reason!r} "
            "(expected 'bad_signature')"
        )

    admit_ms = sorted(x / 1e6 for x in admit_ns)
    commit_ms = sorted(x / 1e6 for x in commit_ns)
    a50, a99 = percentile(admit_ms, 50), percentile(admit_ms, 99)
    c50, c99 = percentile(commit_ms, 50), percentile(commit_ms, 99)
    print(f"admit  p50 {a50:.3f} ms  p99 {a99:.3f} ms  max {admit_ms[-1]:.3f} ms")
    print(
        f"floor: empty synced commit (WAL, synchronous=FULL, one tiny row) "
        f"p50 {c50:.3f} ms  p99 {c99:.3f} ms  max {commit_ms[-1]:.3f} ms"
    )
    print(f"ratio admit/commit: p50 {a50 / c50:.2f}  p99 {a99 / c99:.2f}")
    print(
        f"all {n:,} decisions ok, {seq:,} records logged; re-check of an admitted ticket: "
        f"{again.reason}; forged code: {forged.reason}"
    )
    run.rows.append(
        Row(
            "admit p50",
            f"{a50:.3f} ms",
            f"{c50:.3f} ms (synced commit)",
            f"{a50 / c50:.2f}",
            "",
            "-",
        )
    )
    ok99 = a99 <= TARGET_ADMIT_P99_MS and a99 <= TARGET_ADMIT_P99_RATIO * c99
    run.rows.append(
        Row(
            "admit p99",
            f"{a99:.3f} ms",
            f"{c99:.3f} ms (synced commit)",
            f"{a99 / c99:.2f}",
            f"<= {TARGET_ADMIT_P99_MS:g} ms and ratio <= {TARGET_ADMIT_P99_RATIO:g}",
            verdict(ok99),
        )
    )


# -- main ------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.verifier",
        description="Benchmark the verifier core; every figure beside its floor measured in "
        "the same run. Exit 1 only when a decision is wrong.",
    )
    p.add_argument(
        "--tickets",
        type=positive,
        default=1_000_000,
        help="tickets in the ledger (default 1,000,000; 20000 for a quick run)",
    )
    p.add_argument(
        "--block-size",
        type=positive,
        default=10_000,
        help="issue events per block (default 10,000)",
    )
    p.add_argument(
        "--holders",
        type=positive,
        default=None,
        help="distinct holder keys (default: one per ticket, the worst case)",
    )
    p.add_argument(
        "--check-tokens",
        type=positive,
        default=20_000,
        help="tokens timed through check (default 20,000)",
    )
    p.add_argument(
        "--admit-tokens",
        type=positive,
        default=2_000,
        help="tokens timed through admit (default 2,000)",
    )
    p.add_argument(
        "--floor-keys",
        type=positive,
        default=20_000,
        help="holder keys the point-check floor is measured on (default 20,000)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for choosing the tickets to scan (default: random, printed)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE,
        help="where ledgers are cached and the state dir is made "
        "(default bench/.cache; must not be tmpfs)",
    )
    p.add_argument(
        "--keep-state",
        action="store_true",
        help="keep the state dir after the run (default: delete it)",
    )
    add_json_option(p)
    args = p.parse_args(argv)
    if args.holders is None:
        args.holders = args.tickets
    args.holders = min(args.holders, args.tickets)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    baseline_rss = peak_rss_mib()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    cache_dir: Path = args.cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    fs = filesystem_of(cache_dir)

    print(f"Gatehouse verifier benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PyNaCl {nacl.__version__}"
    )
    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on this machine skews every figure)"
    )
    print(f"state and cache: {cache_dir} ({fs}); ticket sample seed {seed}")
    if fs.startswith(("tmpfs", "ramfs")):
        print(
            "WARNING: the state dir is in memory; synced commits cost nothing here. "
            "Use --cache-dir on a real disk."
        )

    spec = LedgerSpec(tickets=args.tickets, block_size=args.block_size, holders=args.holders)
    section("ledger file")
    ledger, cached = ensure_ledger(spec, cache_dir)
    print(
        f"{ledger.path} ({ledger.size / 1e6:,.1f} MB, {spec.blocks:,} blocks, "
        f"{spec.tickets:,} tickets, {spec.holders:,} holder keys)"
    )
    print(
        "reused from the cache" if cached else "generated now",
        f"(generation took {ledger.generation_seconds:.0f} s)",
    )

    run_dir = cache_dir / f"run-{os.getpid()}"
    state_dir = run_dir / "state"
    state_dir.mkdir(parents=True, mode=0o700)
    run = Run(
        args=args,
        ledger=ledger,
        state_dir=state_dir,
        policy=Policy(events=frozenset({EVENT_ID})),
        rng=random.Random(seed),
        rows=[],
    )
    try:
        with run.checkpoint() as cp:
            phase_apply(run, cp, baseline_rss)
            phase_check(run, cp)
            phase_admit(run, cp, run_dir)
        end_rss = peak_rss_mib()
        run.rows.append(
            Row(
                "peak RSS at end",
                f"{end_rss:.1f} MiB",
                f"{baseline_rss:.1f} MiB (before the gate)",
                f"{end_rss / baseline_rss:.2f}",
                f"<= {TARGET_RSS_MIB:.0f} MiB",
                verdict(end_rss <= TARGET_RSS_MIB),
            )
        )
    except WrongResult as exc:
        print(
            f"\nFAILED: wrong result, the figures above mean nothing: {exc}",
            file=sys.stderr,
            flush=True,
        )
        write_json(args.json, "verifier", [], wrong=str(exc))
        return 1
    finally:
        if args.keep_state:
            print(f"\nstate kept in {state_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)

    section(
        f"summary ({spec.tickets:,} tickets; load average at end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    print_table(run.rows)
    write_json(args.json, "verifier", run.rows, tickets=spec.tickets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
