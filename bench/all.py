"""Every benchmark, one table: ``python -m bench.all [--quick] [--only NAME,...]``.

Runs each benchmark (bench/README.md explains their figures) as a child process, one at a
time so they do not disturb each other, with its own defaults or, with ``--quick``, small
sizes that get through the whole set in a few minutes. Each child writes its summary rows
as JSON (``--json``, bench/result.py); they are printed as one table (bench, figure,
target, measured, floor, ratio, result) and written with a description of the machine
to ``bench/results/bench-<UTC time>.json`` and ``bench/results/latest.json``. Each
child's own output goes to ``bench/results/logs/`` (``--verbose`` shows it as it runs).

Exit status 0 when every benchmark ran, whatever the targets say (a missed target is MISS
in the table); 1 when one crashed or reported a wrong result (it is named); 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .result import ROW_KEYS, print_cells
from .verifier import DEFAULT_CACHE, cpu_model, filesystem_of

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Bench:
    """One benchmark: its module and the options of each size (full: its defaults)."""

    name: str
    module: str
    quick: tuple[str, ...]
    tiny: tuple[str, ...] = ()  # plumbing only (the tests): figures that mean nothing
    full: tuple[str, ...] = field(default=())

    def args(self, size: str) -> tuple[str, ...]:
        return {"full": self.full, "quick": self.quick, "tiny": self.tiny or self.quick}[size]


BENCHES: dict[str, Bench] = {
    b.name: b
    for b in (
        Bench(
            "verifier",
            "bench.verifier",
            ("--tickets", "20000"),
            ("--tickets", "2000", "--check-tokens", "1000", "--admit-tokens", "100"),
        ),
        Bench(
            "decode",
            "bench.decode",
            ("--frames", "30", "--empty", "10", "--clips", "2"),
            ("--frames", "2", "--empty", "1", "--clips", "0", "--tiers", "easy"),
        ),
        Bench("lane", "bench.lane", ("--frames", "60"), ("--frames", "3")),
        Bench(
            "sync",
            "bench.sync",
            (
                *("--records", "5000", "--tickets", "20000"),
                *("--catchup", "10000", "--catchup-held", "10000"),
            ),
        ),
        Bench(
            "control",
            "bench.control",
            ("--repeat", "1"),
            ("--repeat", "1", "--admissions", "20", "--rounds", "2", "--memory-dir", "none"),
        ),
        Bench(
            "peers_lane",
            "bench.peers_lane",
            ("--repeat", "1", "--admissions", "100"),
            ("--repeat", "1", "--admissions", "20", "--rounds", "2", "--memory-dir", "none"),
        ),
        Bench(
            "peers_scale",
            "bench.peers_scale",
            ("--gates", "5", "--seconds", "10"),
            ("--gates", "2", "--seconds", "2", "--idle", "1"),
        ),
    )
}


@dataclass
class Outcome:
    bench: str
    command: list[str]
    seconds: float
    exit_code: int
    log: Path
    rows: list[dict[str, str]]
    problem: str | None  # why it counts as failed; None when it ran
    extra: dict[str, Any]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def memory_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "?"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def machine() -> dict[str, Any]:
    """What the figures were measured on (the load average is added at the end)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": memory_total_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "state_dir": str(DEFAULT_CACHE),
        "state_filesystem": filesystem_of(DEFAULT_CACHE if DEFAULT_CACHE.exists() else ROOT),
        "git_commit": git_commit(),
    }


def run_one(bench: Bench, size: str, results: Path, stamp: str, verbose: bool) -> Outcome:
    """Run ``bench`` as a child process, its output to a log; read back its JSON."""
    logs = results / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{stamp}-{bench.name}.log"
    out = results / f".{stamp}-{bench.name}.json"
    command = [sys.executable, "-m", bench.module, *bench.args(size), "--json", str(out)]
    print(f"-- {bench.name}: {' '.join(command[1:])}", flush=True)
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as sink:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log in the order it was said
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert child.stdout is not None
        for line in child.stdout:
            sink.write(line)
            if verbose:
                print(f"   {line}", end="", flush=True)
        code = child.wait()
    seconds = time.monotonic() - start
    data: dict[str, Any] = {}
    problem = None
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problem = f"no result JSON ({exc.__class__.__name__})"
    finally:
        out.unlink(missing_ok=True)
    if code != 0:
        wrong = data.get("wrong")
        problem = f"exit status {code}" + (
            f": wrong result: {wrong}"
            if wrong
            else (" (wrong result or crash)" if code == 1 else "")
        )
    rows = [{k: str(r.get(k, "")) for k in ROW_KEYS} for r in data.get("rows", [])]
    extra = {k: v for k, v in data.items() if k not in ("bench", "rows")}
    print(
        f"   {bench.name}: {seconds:.0f} s, exit {code}"
        + (f"; FAILED: {problem}" if problem else f", {len(rows)} rows")
        + f" (log: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})",
        flush=True,
    )
    if problem:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        print("\n".join(f"   | {line}" for line in tail), flush=True)
    return Outcome(bench.name, command[1:], seconds, code, log, rows, problem, extra)


def print_summary(outcomes: Sequence[Outcome]) -> None:
    cells = [["bench", "figure", "target", "measured", "floor (same run)", "ratio", "result"]]
    for o in outcomes:
        cells += [
            [o.bench, r["figure"], r["target"], r["measured"], r["floor"], r["ratio"], r["verdict"]]
            for r in o.rows
        ]
        if o.problem:
            cells.append([o.bench, "(did not complete)", "", "", "", "", f"FAILED: {o.problem}"])
    print_cells(cells)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.all",
        description="Run every benchmark, one at a time, and print one table of their "
        "figures (bench/README.md). Exit 1 when a benchmark crashed or reported a wrong "
        "result; a missed target is not a failure.",
    )
    sizes = p.add_mutually_exclusive_group()
    sizes.add_argument(
        "--quick", action="store_true", help="small sizes: the whole set in a few minutes"
    )
    sizes.add_argument(
        "--tiny",
        action="store_true",
        help="the smallest sizes that run at all (the tests' plumbing check; figures meaningless)",
    )
    p.add_argument(
        "--only",
        default=None,
        help=f"comma-separated benchmarks to run (default all: {','.join(BENCHES)})",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS,
        help="where the JSON and the logs go (default bench/results)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show each benchmark's output")
    args = p.parse_args(argv)
    if args.only is None:
        args.names = list(BENCHES)
    else:
        args.names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in args.names if n not in BENCHES]
        if unknown or not args.names:
            p.error(
                f"--only: unknown benchmark(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(BENCHES)}"
            )
    args.size = "quick" if args.quick else "tiny" if args.tiny else "full"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: Path = args.results_dir.resolve()
    results.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    described = machine()
    load_start = loadavg()
    print(f"Gatehouse benchmarks ({args.size}), {started:%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"machine: {described['cores']} CPUs ({described['cpu']}), {described['ram_gib']} GiB, "
        f"{described['os']}, Python {described['python']}; state on "
        f"{described['state_filesystem']}; commit {described['git_commit']}"
    )
    print(f"load average at start: {' '.join(map(str, load_start))} (run on an idle machine)")
    clock = time.monotonic()
    outcomes = [run_one(BENCHES[n], args.size, results, stamp, args.verbose) for n in args.names]
    total = time.monotonic() - clock
    load_end = loadavg()
    print(f"\n== every benchmark ({args.size}; {total:.0f} s in all)")
    print_summary(outcomes)
    print(
        f"load average at start {' '.join(map(str, load_start))}, at end "
        f"{' '.join(map(str, load_end))}"
    )
    report = {
        "started": started.isoformat(timespec="seconds"),
        "size": args.size,
        "quick": args.size != "full",
        "seconds": round(total, 1),
        "machine": {**described, "load_average_start": load_start, "load_average_end": load_end},
        "benches": [
            {
                "bench": o.bench,
                "command": o.command,
                "seconds": round(o.seconds, 1),
                "exit_code": o.exit_code,
                "ok": o.problem is None,
                "problem": o.problem,
                "log": str(o.log),
                "details": o.extra,
            }
            for o in outcomes
        ],
        "rows": [{"bench": o.bench, **r} for o in outcomes for r in o.rows],
    }
    text = json.dumps(report, indent=1) + "\n"
    for name in (f"bench-{stamp}.json", "latest.json"):
        tmp = results / f".{name}.tmp-{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, results / name)
    print(f"results: {results / f'bench-{stamp}.json'} (and latest.json)")
    failed = [o for o in outcomes if o.problem]
    if failed:
        print(
            "FAILED: " + "; ".join(f"{o.bench} ({o.problem})" for o in failed),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
