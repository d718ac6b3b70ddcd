"""The shape every benchmark's summary takes: rows of one table, and the same as JSON.

Each benchmark prints its own figures as before; its summary is a list of :class:`Row`
(figure, measured, floor, ratio, target, verdict), printed by :func:`print_table` and,
with ``--json PATH`` (:func:`add_json_option`), written by :func:`write_json` as
``{"bench": name, "rows": [...], ...}`` for ``python -m bench.all`` to collect.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: The keys of a row in the JSON, in the order of the combined table.
ROW_KEYS = ("figure", "target", "measured", "floor", "ratio", "verdict")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the summary table. ``verdict`` is PASS, MISS or '-' (no target)."""

    figure: str
    measured: str
    floor: str
    ratio: str
    target: str
    verdict: str


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(rows: Sequence[Row]) -> None:
    header = Row("figure", "measured", "floor (same run)", "ratio", "target", "result")
    cells = [[r.figure, r.measured, r.floor, r.ratio, r.target, r.verdict] for r in (header, *rows)]
    print_cells(cells)


def print_cells(cells: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, a rule under the first (header) line."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the summary rows to PATH as JSON (python -m bench.all reads it)",
    )


def write_json(path: Path | None, bench: str, rows: Sequence[Row], **extra: Any) -> None:
    """Write ``{"bench": bench, "rows": [...], **extra}`` to ``path`` (nothing when None),
    whole or not at all (a temporary file renamed into place)."""
    if path is None:
        return
    data = {"bench": bench, "rows": [{k: asdict(r)[k] for k in ROW_KEYS} for r in rows], **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
