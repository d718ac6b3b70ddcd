"""``python -m bench.all``: every benchmark run one at a time, one table, the JSON kept.

The figures themselves are not tested (bench/README.md); this checks the plumbing: the
table's columns, ``latest.json`` with the machine's description and every row's keys,
and that a benchmark that crashes makes the whole run fail, naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import all as bench_all

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["bench", "figure", "target", "measured", "floor", "ratio", "result"]
ROW_KEYS = {"bench", "figure", "target", "measured", "floor", "ratio", "verdict"}


def test_one_real_benchmark_gives_the_table_and_the_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.all", "--tiny"),
            *("--only", "control", "--results-dir", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("bench "))
    header = lines[at]
    assert [c for c in COLUMNS if c in header] == COLUMNS
    assert [header.index(c) for c in COLUMNS] == sorted(header.index(c) for c in COLUMNS)
    assert set(lines[at + 1]) == {"-", " "}
    table = lines[at + 2 :]
    assert any(line.startswith("control ") and "decide+commit p99" in line for line in table)

    latest = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    stamped = list(tmp_path.glob("bench-*.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text(encoding="utf-8")) == latest
    assert latest["size"] == "tiny" and latest["quick"] is True
    described = latest["machine"]
    for key in ("cpu", "cores", "ram_gib", "os", "python", "state_filesystem", "git_commit"):
        assert described[key], key
    assert len(described["load_average_start"]) == len(described["load_average_end"]) == 3
    assert [b["bench"] for b in latest["benches"]] == ["control"]
    assert latest["benches"][0]["ok"] is True
    assert latest["rows"]
    for row in latest["rows"]:
        assert set(row) == ROW_KEYS
        assert row["bench"] == "control"
        assert row["verdict"] in ("PASS", "MISS", "-")
    assert (tmp_path / "logs").is_dir()


FAKE = """
import json, sys
path = sys.argv[sys.argv.index("--json") + 1]
if "crash" in sys.argv:
    raise RuntimeError("simulated crash")
row = {"figure": "fake figure", "target": "<= 1 s", "measured": "2 s", "floor": "1 s",
       "ratio": "2.00", "verdict": "MISS"}
with open(path, "w") as f:
    json.dump({"bench": "fine", "rows": [row]}, f)
"""


def test_a_crash_fails_the_run_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fake_bench.py").write_text(FAKE, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(
        bench_all,
        "BENCHES",
        {
            "fine": bench_all.Bench("fine", "fake_bench", ()),
            "broken": bench_all.Bench("broken", "fake_bench", ("crash",)),
        },
    )
    results = tmp_path / "results"
    assert bench_all.main(["--quick", "--only", "fine,broken", "--results-dir", str(results)]) == 1
    out, err = capsys.readouterr()
    assert "FAILED: broken (exit status 1" in err
    assert "simulated crash" in out  # the tail of its log
    fine_row = next(line for line in out.splitlines() if line.startswith("fine "))
    assert "fake figure" in fine_row and fine_row.rstrip().endswith("MISS")  # not a failure
    latest = json.loads((results / "latest.json").read_text(encoding="utf-8"))
    assert [(b["bench"], b["ok"]) for b in latest["benches"]] == [("fine", True), ("broken", False)]
    assert [r["bench"] for r in latest["rows"]] == ["fine"]


def test_an_unknown_benchmark_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_all.main(["--only", "verifier,nosuch"])
    assert exit_.value.code == 2
    assert "nosuch" in capsys.readouterr().err
