"""The report: one aligned line a finding for people, a JSON list for programs.

Text::

    OK   config       /etc/gatehouse/gate.toml: device north-1, …
    WARN clock        not synchronised (adjtimex); +0 s off the hub's clock … — do: enable …
    FAIL permissions  device key … is readable by others (mode 0644) … — do: chmod 600 …

The status word is coloured only on a terminal, and never when ``NO_COLOR`` is set
(no-color.org) or ``TERM`` is ``dumb``. JSON: ``[{"check", "status", "detail", "fix"}]``,
``fix`` null when nothing is to be done.
"""

from __future__ import annotations

import json
import os
from typing import TextIO

from .result import Finding, Status

_COLOURS = {Status.OK: "32", Status.WARN: "33", Status.FAIL: "1;31", Status.SKIP: "2"}


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render_text(findings: list[Finding], *, colour: bool = False) -> str:
    width = max((len(f.check) for f in findings), default=0)
    lines = []
    for f in findings:
        word = f"{f.status.value:<4}"
        if colour:
            word = f"\033[{_COLOURS[f.status]}m{word}\033[0m"
        line = f"{word} {f.check:<{width}}  {f.detail}"
        if f.fix:
            line += f" — do: {f.fix}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_json(findings: list[Finding]) -> str:
    return json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=1) + "\n"
