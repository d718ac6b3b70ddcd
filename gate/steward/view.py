"""What the console shows, as plain text from the control socket's dicts (no Textual).

The widgets only place these strings; the wording lives here and in ``reasons_text``, so
it can be read and tested without a terminal. Every value the daemon may send as
``null`` (not known yet) or leave out (an older daemon) shows as ``?`` rather than
failing: the console must keep drawing whatever the daemon sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from .reasons_text import alarm_text, reason_text

ADMITTED_MARK, REFUSED_MARK = "✔", "✘"
UNKNOWN = "?"


def clock_time(unix: float | None, tz: tzinfo | None) -> str:
    """``HH:MM:SS`` in ``tz`` (None: the console's local zone)."""
    if unix is None:
        return UNKNOWN
    return datetime.fromtimestamp(unix, UTC).astimezone(tz).strftime("%H:%M:%S")


def day_time(unix: float | None, tz: tzinfo | None) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz``: for ticket validity, which spans days."""
    if unix is None:
        return UNKNOWN
    return datetime.fromtimestamp(unix, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _known(value: Any, unit: str = "") -> str:
    return UNKNOWN if value is None else f"{value}{unit}"


@dataclass(frozen=True, slots=True)
class Banner:
    """The last decision, large: a verdict line with a symbol and a detail line."""

    admitted: bool
    headline: str
    detail: str


def banner(decision: Mapping[str, Any], tz: tzinfo | None) -> Banner:
    """Words and a symbol as well as colour, so a colour-blind steward or a washed-out
    screen in sunlight still reads the verdict."""
    admitted = decision.get("result") == "admitted"
    words = reason_text(str(decision.get("reason", "")))
    who = ", ".join(str(decision[k]) for k in ("label", "event") if decision.get(k))
    if admitted:
        headline = f"{ADMITTED_MARK} ADMITTED — {who or words.banner}"
    else:
        headline = f"{REFUSED_MARK} REFUSED — {words.banner}"
    detail = [clock_time(decision.get("time"), tz)]
    if not admitted and who:
        detail.append(who)
    if decision.get("first_device"):
        first = clock_time(decision.get("first_at"), tz)
        detail.append(f"first admitted {first} at {decision['first_device']}")
    if decision.get("ticket"):
        detail.append(f"ticket {str(decision['ticket'])[:8]}…")
    return Banner(admitted, headline, " · ".join(detail))


def decision_row(decision: Mapping[str, Any], tz: tzinfo | None) -> tuple[str, str, str]:
    """(time, label, reason in words) for the recent-decisions list."""
    mark = ADMITTED_MARK if decision.get("result") == "admitted" else REFUSED_MARK
    code = str(decision.get("reason", ""))
    words = "admitted" if code == "ok" else reason_text(code).gate_says
    return (
        clock_time(decision.get("time"), tz),
        f"{mark} {decision.get('label') or '—'}",
        words,
    )


def counter_lines(status: Mapping[str, Any] | None) -> list[str]:
    """Admitted, refused (by reason, most first) and entries per minute over 5 minutes."""
    counters = (status or {}).get("counters") or {}
    lines = [
        f"admitted   {_known(counters.get('admitted'))}",
        f"refused    {_known(counters.get('refused'))}",
        f"per minute {_known(counters.get('entries_per_minute'))} (last 5 min)",
    ]
    by_reason = counters.get("refused_by_reason") or {}
    for code, count in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:>4} {code.replace('_', ' ')}")
    return lines


def health_lines(status: Mapping[str, Any] | None) -> list[tuple[str, str, bool]]:
    """(name, value, fine?) for each health item; not fine is drawn as a warning."""
    health = (status or {}).get("health") or {}
    age = health.get("ledger_age")
    offset = health.get("clock_offset")
    backlog = health.get("upload_backlog")
    hub = health.get("hub")
    fps = health.get("camera_fps")
    relay = health.get("relay")
    mode = (status or {}).get("mode")
    decoder = health.get("decoder")
    camera = UNKNOWN if fps is None else f"{fps} fps"
    if decoder:
        camera += f" {decoder}"
    return [
        (
            "ledger",
            f"#{_known(health.get('ledger_height'))}, {_known(age, ' s')} old",
            age is not None and age <= 120,
        ),
        _clock_line(offset, health.get("clock_behind")),
        ("backlog", _known(backlog), backlog is not None and backlog < 100),
        ("hub", _known(hub), hub in ("reachable", "not configured")),
        ("camera", camera, bool(fps)),
        ("relay", _known(relay), relay in ("at rest", "open")),
        ("mode", _known(mode), mode == "normal"),
    ]


def _clock_line(offset: Any, behind: Any) -> tuple[str, str, bool]:
    """The clock against the hub's (``clock_offset``), unless it is behind the newest
    time the gate can prove (``clock_behind``), which refuses every ticket."""
    if behind:
        return ("clock", f"{duration(behind)} behind", False)
    return ("clock", _known(offset, " s"), offset is not None and abs(offset) <= 30)


def duration(seconds: Any) -> str:
    """``45 s``, ``12 min``, ``5 h``, ``3 d``: how far off, at a glance."""
    try:
        s = int(seconds)
    except (TypeError, ValueError):
        return UNKNOWN
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def alarm_lines(status: Mapping[str, Any] | None, tz: tzinfo | None) -> list[tuple[str, str]]:
    """(what is wrong, what to do) for each standing alarm."""
    out = []
    for alarm in (status or {}).get("alarms") or []:
        name = str(alarm.get("alarm", "?"))
        words = alarm_text(name)
        since = clock_time(alarm.get("since"), tz)
        detail = f": {alarm['detail']}" if alarm.get("detail") else ""
        out.append((f"⚠ {name} since {since}{detail}", f"{words.do} Call: {words.call}"))
    return out


def ticket_lines(ticket: Mapping[str, Any], tz: tzinfo | None) -> list[str]:
    """A looked-up ticket in words. Keys come as fingerprints from the daemon; they are
    cut to 16 digits again here so that a whole key is never on a steward's screen."""
    zones = ", ".join(ticket.get("zones") or []) or "all"
    lines = [
        f"{ticket.get('label') or '—'} · {ticket.get('event') or UNKNOWN} · "
        f"ticket {ticket.get('ticket')}",
        f"zones: {zones}",
        f"valid: {day_time(ticket.get('valid_from'), tz)} to {day_time(ticket.get('until'), tz)}",
        f"entries: {_known(ticket.get('used'))} used of {_known(ticket.get('entries'))}, "
        f"{_known(ticket.get('left'))} left",
        f"holder: {_fingerprint(ticket.get('holder'))}",
    ]
    transfers = ticket.get("transfers") or []
    if transfers:
        lines.append("holder changes:")
        lines += [
            f"  from {_fingerprint(t.get('from'))} at ledger height {_known(t.get('height'))}"
            for t in transfers
        ]
    else:
        lines.append("holder changes: none")
    revoked = ticket.get("revoked")
    lines.append(f"revoked: {_revocation(revoked)}")
    admissions = ticket.get("admissions") or []
    if admissions:
        lines.append("admissions:")
        lines += [
            f"  {day_time(a.get('at'), tz)} at {a.get('device', UNKNOWN)} (record {a.get('seq')})"
            for a in admissions
        ]
    else:
        lines.append("admissions: none")
    return lines


def _fingerprint(key: Any) -> str:
    return UNKNOWN if not key else str(key)[:16]


def _revocation(revoked: Any) -> str:
    if not revoked:
        return "no"
    if isinstance(revoked, Mapping):
        return "YES — " + ", ".join(f"{k} {v}" for k, v in revoked.items())
    return f"YES — {revoked}"


def unreachable(path: str) -> str:
    """The line shown while the daemon cannot be reached."""
    return f"lane daemon not reachable at {path} — retrying"
