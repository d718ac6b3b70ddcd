"""The steward's words: every reason and alarm has them, and docs/stewards.md agrees.

The page and the console's help are made from one table (gate/steward/reasons_text.py);
these tests fail when a reason code is added without words, or when the page was edited
by hand or not regenerated (fix: python -m gate.steward.reasons_text --write
docs/stewards.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from gate.record_faults import LANE_ALARMS
from gate.steward import reasons_text as rt
from verifier.reasons import DECISION_REASONS, WORDS

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "stewards.md"


def test_every_decision_reason_has_words() -> None:
    assert set(rt.REASONS) == set(DECISION_REASONS)
    for text in rt.REASONS.values():
        assert text.banner and text.means and text.do, text.code
        assert text.gate_says == WORDS[text.code]


def test_every_alarm_the_code_raises_has_words() -> None:
    """Alarm names as the daemon and the sync child write them (grepped from the code)."""
    raised = set()
    for path in (ROOT / "gate").glob("*.py"):
        raised |= set(re.findall(r'alarms\.append\("([a-z_]+)"\)', path.read_text()))
        raised |= set(re.findall(r'"alarm": "([a-z_]+)"', path.read_text()))
    raised |= set(LANE_ALARMS)  # the lane's own, named by constants (gate/record_faults.py)
    assert raised >= {"ledger_stale", "clock_skew", "hub_unreachable", "hub_refused"}
    assert raised <= set(rt.ALARMS), raised - set(rt.ALARMS)
    assert rt.CAMERA in rt.ALARMS
    for alarm in rt.ALARMS.values():
        assert alarm.means and alarm.do and alarm.call, alarm.name


def test_camera_alarms_and_unknown_names_still_get_words() -> None:
    assert rt.alarm_text("camera /dev/video0 lost (it stopped delivering frames)").name == "camera"
    assert rt.alarm_text("fan_failure") is rt.UNKNOWN_ALARM
    assert rt.reason_text("new_reason_code").banner == "new reason code"


def test_the_steward_page_holds_the_generated_tables() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert rt.with_tables(page) == page, (
        "docs/stewards.md differs from gate/steward/reasons_text.py: run "
        "python -m gate.steward.reasons_text --write docs/stewards.md"
    )
    for code in DECISION_REASONS:
        assert f"| `{code}` |" in page


def test_the_generator_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        f"intro\n{rt.REASONS_BEGIN}\nstale\n{rt.REASONS_END}\nmiddle\n"
        f"{rt.ALARMS_BEGIN}\n{rt.ALARMS_END}\nend\n"
    )
    assert rt.main(["--write", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "\nmiddle\n" in text
    assert "stale" not in text.replace("ledger_stale", "")
    assert rt.reasons_markdown() in text and rt.alarms_markdown() in text
