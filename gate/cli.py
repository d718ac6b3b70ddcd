"""The ``gate`` command: what technicians, scripts, the scanner path and tests drive.

Exit codes: 0 admitted / done; 1 rejected, or a ledger block refused; 2 usage,
configuration or state-directory error; 3 damaged database or device key. Errors are
one line on stderr naming the file, key, height or ticket; never a traceback.

Text output is for people (one line per decision, the reason in words); ``--json`` is
for programs and keeps the keys documented in docs/protocol.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

from errors import ConfigError, DeviceKeyError, GatehouseError, StoreCorrupt, SyncError
from verifier import Checkpoint, Decision
from verifier.blocks import read_blocks

from .config import GateConfig, config_path, load_config
from .hubcli import add_hub_commands

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_DAMAGED = 0, 1, 2, 3
#: Longest stdin line read as one token; longer lines are refused as malformed unread.
MAX_LINE = 64 * 1024


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every other usage error does."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"gate: {message} (see gate --help)\n")


def _when(unix: int | None) -> str:
    if unix is None:
        return "?"
    return datetime.fromtimestamp(unix, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def describe(decision: Decision) -> str:
    """One line for a person: the verdict, the ticket, and the reason in words."""
    verdict = "ADMITTED" if decision.admitted else "REJECTED"
    who = ""
    if decision.ticket:
        who = f" ticket {decision.ticket}"
        if decision.label or decision.event:
            who += f" ({decision.label or '?'}, {decision.event or '?'})"
    why = decision.words
    if decision.first_device is not None:
        why += f", first admitted {_when(decision.first_at)} at {decision.first_device}"
    return f"{verdict}{who}: {why}"


def _open(cfg: GateConfig) -> Checkpoint:
    return Checkpoint(cfg.state_dir, device=cfg.device, ledger_key=cfg.ledger_key,
                      policy=cfg.policy)


def _stdin_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines without their terminator; an over-long line comes back truncated to
    MAX_LINE + 1 bytes (still too long to be a token) and its rest is skipped."""
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line.rstrip(b"\r\n")


def _emit(decision: Decision, as_json: bool) -> None:
    sys.stdout.write((decision.to_json() if as_json else describe(decision)) + "\n")
    sys.stdout.flush()


def cmd_decide(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        decide = cp.admit if args.command == "admit" else cp.check
        if args.token != "-":
            now = args.now if args.now is not None else int(time.time())
            decision = decide(args.token, now)
            _emit(decision, args.json)
            return EXIT_OK if decision.admitted else EXIT_REJECTED
        code = EXIT_OK
        for line in _stdin_lines(sys.stdin.buffer):
            if not line:
                continue
            now = args.now if args.now is not None else int(time.time())
            decision = decide(line, now)
            _emit(decision, args.json)
            if not decision.admitted:
                code = EXIT_REJECTED
        return code


def _ledger_sources(files: list[str]) -> Iterator[tuple[str, IO[bytes]]]:
    for name in files:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
            continue
        try:
            stream = open(name, "rb")  # noqa: SIM115 - closed below, after its lines
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read ledger file: {exc.strerror}") from None
        with stream:
            yield name, stream


def cmd_ledger_apply(cfg: GateConfig, args: argparse.Namespace) -> int:
    missing = [f for f in args.files if f != "-" and not os.path.isfile(f)]
    if missing:
        raise ConfigError(f"{missing[0]}: ledger file not found")
    applied = held = 0
    with closing(_open(cfg)) as cp:
        for name, stream in _ledger_sources(args.files):
            report = cp.apply_lines(read_blocks(stream), source=name)
            applied += report.applied
            held += report.held
            if report.error is not None:
                print(f"gate: refused {report.error}; applied {applied} block(s) before it, "
                      f"ledger height {report.height}", file=sys.stderr)
                return EXIT_REJECTED
        head = cp.ledger.head()
    print(f"applied {applied} block(s), {held} already held; ledger height {head.height}, "
          f"head {head.hash}")
    return EXIT_OK


def cmd_ledger_status(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        status = cp.status()
    if args.json:
        print(json.dumps(status))
    else:
        print(f"height {status['height']}, head {status['head']}")
        print(f"newest block time {_when(status['time'])}")
        print(f"{status['events']} event(s), {status['tickets']} ticket(s), "
              f"{status['revoked']} revoked, {status['admissions']} admission(s) counted, "
              f"{status['records']} record(s) in this gate's log")
    return EXIT_OK


def _write_atomically(path: Path, lines: Iterator[str]) -> int:
    """Write lines to ``path`` via a synced temporary file, so a pulled USB stick never
    holds half an export under the final name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            count = _write_stream(out, lines)
            os.fsync(out.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a pulled stick
        finally:
            os.close(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return count


def _write_stream(out: IO[str], lines: Iterator[str]) -> int:
    count = 0
    for count, line in enumerate(lines, start=1):  # noqa: B007 - count is the result
        out.write(line + "\n")
    out.flush()
    return count


def cmd_records_export(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        records = cp.export_records(args.since)
        if args.file == "-":
            count = _write_stream(sys.stdout, records)
        else:
            target = Path(args.file)
            if not target.parent.is_dir():
                raise ConfigError(f"{target.parent}: directory for the export does not exist")
            count = _write_atomically(target, records)
    print(f"exported {count} record(s)", file=sys.stderr if args.file == "-" else sys.stdout)
    return EXIT_OK


def cmd_device_show(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        info = {"device": cfg.device, "public_key": cp.public_key.hex()}
    if args.json:
        print(json.dumps(info))
    else:
        print(f"device {info['device']}\npublic key {info['public_key']}")
    return EXIT_OK


def cmd_config_check(cfg: GateConfig, args: argparse.Namespace) -> int:
    if not cfg.state_dir.is_dir():
        raise ConfigError(f"{cfg.path}: key 'state_dir': {cfg.state_dir} does not exist or is "
                          "not a directory")
    p = cfg.policy
    print(f"{cfg.path}: ok (device {cfg.device}, events {', '.join(sorted(p.events))}, "
          f"zone {p.zone or 'any'}, window -{p.back}/+{p.fwd} steps, state {cfg.state_dir})")
    return EXIT_OK


def cmd_run(cfg: GateConfig, args: argparse.Namespace) -> int:
    from .daemon import run_daemon
    return run_daemon(cfg)


def cmd_relay_reset(cfg: GateConfig, args: argparse.Namespace) -> int:
    from .lanetools import relay_reset
    return relay_reset(cfg)


def cmd_scan(cfg: GateConfig, args: argparse.Namespace) -> int:
    from .lanetools import scan_images
    return scan_images(cfg, args.images, as_json=args.json, admit=args.admit,
                       now=args.now)


def cmd_selftest(cfg: GateConfig, args: argparse.Namespace) -> int:
    from .lanetools import selftest
    return selftest(cfg, pulse=not args.no_pulse)


def _hub_client(cfg: GateConfig, cp: Checkpoint):
    from sync.client import HubClient
    if not cfg.lane.hub:
        raise ConfigError(f"{cfg.path}: missing required key 'hub.url' (where the hub is)")
    return HubClient(cfg.lane.hub, cp, batch=cfg.lane.hub_batch)


def cmd_enrol(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        try:
            reply = _hub_client(cfg, cp).enrol(args.code)
        except SyncError as exc:
            print(f"gate: {exc}", file=sys.stderr)
            return EXIT_REJECTED
    if reply.get("ledger_key") != cfg.ledger_key.hex():
        print(f"gate: enrolled, but the hub's ledger key {reply.get('ledger_key')} is not the "
              f"configured ledger_key; fix {cfg.path}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"enrolled {cfg.device} with {cfg.lane.hub}")
    return EXIT_OK


def cmd_sync(cfg: GateConfig, args: argparse.Namespace) -> int:
    with closing(_open(cfg)) as cp:
        client = _hub_client(cfg, cp)
        if args.sync_command == "status":
            info = client.health(int(time.time()))
            alarms = []
            if info["ledger_age"] is None or info["ledger_age"] > cfg.lane.max_ledger_age:
                alarms.append("ledger_stale")
            if info["clock_offset"] is not None and \
                    abs(info["clock_offset"]) > cfg.lane.max_clock_skew:
                alarms.append("clock_skew")
            info["alarms"] = alarms
            print(json.dumps(info) if args.json else
                  "\n".join(f"{k}: {v}" for k, v in info.items()))
            return EXIT_OK if not alarms else EXIT_REJECTED
        try:
            pulled, pushed = client.exchange(int(time.time()))
        except SyncError as exc:
            print(f"gate: {exc}", file=sys.stderr)
            return EXIT_REJECTED
        print(f"pulled {pulled.applied} block(s), height {pulled.height}; pushed "
              f"{pushed.sent} record(s), acknowledged through seq {pushed.acked}")
        for problem in (pulled.error, pushed.error):
            if problem:
                print(f"gate: {problem}", file=sys.stderr)
        return EXIT_OK if not (pulled.error or pushed.error) else EXIT_REJECTED


def cmd_sync_run(cfg: GateConfig, args: argparse.Namespace) -> int:
    """The sync loop as its own process: one JSON line per event on stdout."""
    import signal
    import threading

    from .daemon import emit_json
    from .sync_worker import run_sync_loop

    if not cfg.lane.hub:
        raise ConfigError(f"{cfg.path}: missing required key 'hub.url' (where the hub is)")
    if args.interval <= 0:
        raise ConfigError(f"--interval must be more than 0 seconds, not {args.interval}")
    if args.nice:
        os.nice(args.nice)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_sync_loop(cfg, emit_json, stop, interval=args.interval)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    return run_demo(Path(args.dir) if args.dir else None)


def _group(sub: Any, common: argparse.ArgumentParser, name: str, doc: str) -> Any:
    """A command with subcommands (``gate NAME ...``); returns their subparsers."""
    group = sub.add_parser(name, parents=[common], help=doc)
    return group.add_subparsers(dest=f"{name}_command", required=True, parser_class=_Parser)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default=argparse.SUPPRESS, metavar="PATH",
                        help="configuration file (default: $GATEHOUSE_CONFIG)")
    parser = _Parser(prog="gate", parents=[common],
                     description="Gatehouse turnstile gate: decide, record, sync.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    for name, doc in (("check", "decide on a token without recording (dry run)"),
                      ("admit", "decide on a token and record the decision")):
        p = sub.add_parser(name, parents=[common], help=doc, description=doc)
        p.add_argument("token", metavar="TOKEN", help="token text, or - for one per stdin line")
        p.add_argument("--now", type=int, metavar="UNIX", help="decide as of this Unix time")
        p.add_argument("--json", action="store_true", help="one JSON object per decision")
        p.set_defaults(handler=cmd_decide)

    lsub = _group(sub, common, "ledger", "the local ledger copy")
    p = lsub.add_parser("apply", parents=[common], help="verify and apply JSONL ledger files")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL file, or - for stdin")
    p.set_defaults(handler=cmd_ledger_apply)
    p = lsub.add_parser("status", parents=[common], help="height, head and counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ledger_status)

    rsub = _group(sub, common, "records", "this gate's record log")
    p = rsub.add_parser("export", parents=[common], help="write the log as JSONL records")
    p.add_argument("file", metavar="FILE", help="output file, or - for stdout")
    p.add_argument("--since", type=int, default=0, metavar="SEQ",
                   help="only records with seq greater than SEQ")
    p.set_defaults(handler=cmd_records_export)

    dsub = _group(sub, common, "device", "this gate's identity")
    p = dsub.add_parser("show", parents=[common], help="device id and public key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_device_show)

    csub = _group(sub, common, "config", "the configuration file")
    p = csub.add_parser("check", parents=[common], help="validate without side effects")
    p.set_defaults(handler=cmd_config_check)

    p = sub.add_parser("run", parents=[common], help="the lane daemon (systemd runs it)")
    p.set_defaults(handler=cmd_run)

    rlsub = _group(sub, common, "relay", "the turnstile relay and lamps")
    p = rlsub.add_parser("reset", parents=[common], help="drive every output to rest")
    p.set_defaults(handler=cmd_relay_reset)

    p = sub.add_parser("scan", parents=[common], help="decode image files and decide each code")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--admit", action="store_true", help="record the decisions (default: dry)")
    p.add_argument("--now", type=int, metavar="UNIX", help="decide as of this Unix time")
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser("selftest", parents=[common], help="exercise every configured device")
    p.add_argument("--no-pulse", action="store_true",
                   help="do not pulse the relay and lamps (the turnstile stays shut)")
    p.set_defaults(handler=cmd_selftest)

    p = sub.add_parser("enrol", parents=[common], help="enrol this gate with the hub")
    p.add_argument("code", metavar="CODE", help="the one-time code from the hub operator")
    p.set_defaults(handler=cmd_enrol)

    ssub = _group(sub, common, "sync", "exchange with the hub")
    p = ssub.add_parser("once", parents=[common], help="pull blocks, push records, once")
    p.set_defaults(handler=cmd_sync)
    p = ssub.add_parser("status", parents=[common], help="ledger age, clock offset, backlog")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync)
    p = ssub.add_parser("run", parents=[common],
                        help="sync every few seconds until SIGTERM (gate run starts it)")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                   help="seconds between rounds (default 5)")
    p.add_argument("--nice", type=int, default=0, metavar="N",
                   help="lower this process's CPU priority by N, so the lane comes first")
    p.set_defaults(handler=cmd_sync_run)

    add_hub_commands(sub, _Parser)

    p = sub.add_parser("demo", help="a short end-to-end run over an example ledger")
    p.add_argument("--dir", metavar="DIR", help="keep the demo's files here (default: temp)")
    p.set_defaults(handler=None, run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "run", None) is not None:
            return int(args.run(args))
        cfg = load_config(config_path(getattr(args, "config", None)))
        return int(args.handler(cfg, args))
    except (StoreCorrupt, DeviceKeyError) as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    except GatehouseError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:
        if "readonly" in str(exc):
            print(f"gate: the state database is not writable by this user ({exc}); was it "
                  "created by another user, e.g. with sudo? Fix the state_dir's ownership",
                  file=sys.stderr)
            return EXIT_USAGE
        print(f"gate: database error: {exc} (is another process holding the state_dir, "
              "or is the disk full?)", file=sys.stderr)
        return EXIT_DAMAGED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing useful is left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gate: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130

