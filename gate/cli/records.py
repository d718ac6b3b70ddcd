"""``gate records export``: this gate's signed record log as JSONL, for a USB stick or a pipe.

A file is written through a synced temporary file and renamed, so a stick pulled
mid-export never holds half a log under the final name. To ``-`` (stdout) the count
goes to stderr, so the records alone can be piped on; a reader that goes away early
(``| head``) ends the export quietly (see ``gate.cli.main``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, Any

from errors import ConfigError

from ..assembly import open_checkpoint
from ..config import GateConfig
from .base import EXIT_OK, add_group


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    rsub = add_group(sub, common, "records", "this gate's record log")
    p = rsub.add_parser("export", parents=[common], help="write the log as JSONL records")
    p.add_argument("file", metavar="FILE", help="output file, or - for stdout")
    p.add_argument(
        "--since", type=int, default=0, metavar="SEQ", help="only records with seq greater than SEQ"
    )
    p.set_defaults(handler=cmd_records_export)


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
    with closing(open_checkpoint(cfg)) as cp:
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
