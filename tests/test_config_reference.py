"""The configuration reference is generated from the model, and the model is the parser's.

docs/configuration.md is written by ``python -m gate.config_reference`` from the same
table ``gate.config`` validates with; these tests keep the page from going stale, make
sure no key the parser accepts is missing from it (probed through the parser's own
"known keys" errors, not read off the table the page is built from), and load the
page's example configuration as a real file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from errors import ConfigError, Refused
from gate import config_reference as ref
from gate.config import SCHEMA, SECTIONS, load_config

ROOT = Path(__file__).resolve().parents[1]

# A minimal valid file: the parser's "unknown key" error lists the keys it knows.
BASE = """\
device = "north-1"
ledger_key = "d7e9f1dae8d2dca89d2703a270b6bcb88a22fab28cedda703eb33bcfa1038340"
state_dir = "state"
events = ["pub-expo"]
"""


def test_docs_configuration_md_is_up_to_date() -> None:
    written = (ROOT / ref.REFERENCE).read_text(encoding="utf-8")
    assert written == ref.reference_markdown(), (
        f"docs/configuration.md is stale: regenerate it with `{ref.COMMAND}` and commit it"
    )


def test_readme_block_is_up_to_date_when_it_has_markers() -> None:
    """README.md is another page's business; only the marked part is ours, if any."""
    readme = ROOT / ref.README
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    updated = ref.replace_between_markers(text, ref.readme_table())
    assert updated is None or updated == text, (
        f"README.md's configuration table is stale: regenerate it with `{ref.COMMAND}`"
    )


def _known_keys(tmp_path: Path, section: str | None) -> list[str]:
    """The keys the parser says it knows, from the error on an unknown one."""
    extra = f"[{section}]\nno_such_key = 1\n" if section else "no_such_key = 1\n"
    path = tmp_path / "gate.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    found = re.search(r"\(known keys: ([^)]*)\)", str(info.value))
    assert found, str(info.value)
    return found[1].split(", ")


def _reference_keys(markdown: str) -> dict[str, set[str]]:
    """Section ("" for top level) -> the keys in its table on the page."""
    keys: dict[str, set[str]] = {}
    section = None
    for line in markdown.splitlines():
        if line == "## Top-level keys":
            section = ""
        elif heading := re.fullmatch(r"## \[([a-z_]+)\]", line):
            section = heading[1]
        elif line.startswith("## "):
            section = None
        elif section is not None and (row := re.match(r"\| `([a-z_]+)` \|", line)):
            keys.setdefault(section, set()).add(row[1])
    return keys


def test_every_key_the_parser_accepts_is_in_the_reference(tmp_path: Path) -> None:
    on_page = _reference_keys(ref.reference_markdown())
    top_level = _known_keys(tmp_path, None)
    sections = [k for k in top_level if k not in on_page[""]]
    assert sections, "the top-level error should list the sections too"
    for name in sections:
        assert name in on_page, f"[{name}] is accepted by the parser but not in the reference"
        assert set(_known_keys(tmp_path, name)) == on_page[name], name
    assert set(top_level) - set(sections) == on_page[""]


def test_driver_url_keys_list_their_schemes() -> None:
    markdown = ref.reference_markdown()
    row = next(
        line for line in markdown.splitlines() if line.startswith("| `url` |") and "v4l2" in line
    )
    for scheme in ("v4l2", "picamera2", "file", "images", "synthetic", "serial"):
        assert f"`{scheme}:`" in row
    sensor = markdown.split("## [sensor]")[1].split("## ")[0]
    assert "`gpio:`, `sim:`" in sensor and "`serial:`" not in sensor


def _example_from_page() -> str:
    found = re.search(r"```toml\n(.*?)```", ref.reference_markdown(), re.S)
    assert found
    return found[1]


def test_the_reference_example_parses_as_a_real_file(tmp_path: Path) -> None:
    """Every section and key at the page's defaults: the loader takes it, and reads the
    defaults back as the page states them."""
    text = _example_from_page()
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    data = tomllib.loads(text)
    assert set(data) == set(SCHEMA) | set(SECTIONS)
    for name, section in SECTIONS.items():
        assert set(data[name]) == set(section.keys), name
        for key, spec in section.keys.items():
            if spec.default is not None:
                assert data[name][key] == spec.default, f"{name}.{key}"
    lane = cfg.lane
    assert (lane.mode, lane.debounce, lane.passage_timeout, lane.hub_batch) == (
        "normal",
        3.0,
        10.0,
        500,
    )
    assert cfg.peers is not None
    assert (cfg.peers.interval, cfg.peers.fanout, cfg.peers.direct_peers) == (1.0, 3, 8)


def test_declared_types_match_the_values(tmp_path: Path) -> None:
    """The type column is typed by hand next to each key: hold it to the values."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    for entry in ref.entries():
        value = ref.example_value(entry.key)
        if type(value) is list:
            assert entry.key.toml_type == "array of strings", entry.dotted
            assert all(type(v) is str for v in value), entry.dotted
        else:
            assert names[type(value)] == entry.key.toml_type, entry.dotted
        assert entry.key.meaning and "\n" not in entry.key.meaning, entry.dotted


def test_readme_table_has_a_row_per_key() -> None:
    table = ref.readme_table()
    for entry in ref.entries():
        section = f"[{entry.section}]" if entry.section else "(top level)"
        assert f"| {section} | `{entry.name}` |" in table, entry.dotted


def test_marker_replacement_on_a_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\nIntro.\n\n{ref.START_MARKER}\nold table\n{ref.END_MARKER}\n\nMore prose.\n",
        encoding="utf-8",
    )
    assert ref.update_markers(readme, "| new | table |") is True
    assert readme.read_text(encoding="utf-8") == (
        f"# Title\n\nIntro.\n\n{ref.START_MARKER}\n| new | table |\n{ref.END_MARKER}\n\n"
        "More prose.\n"
    )
    assert ref.update_markers(readme, "| new | table |") is False  # already current


def test_a_file_without_markers_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nNo markers here.\n", encoding="utf-8")
    before = readme.stat().st_mtime_ns
    assert ref.update_markers(readme, "| t |") is False
    assert readme.read_text(encoding="utf-8") == "# Title\n\nNo markers here.\n"
    assert readme.stat().st_mtime_ns == before
    assert ref.update_markers(tmp_path / "missing.md", "| t |") is False


@pytest.mark.parametrize(
    "text",
    [
        f"{ref.START_MARKER}\nno end\n",
        f"{ref.END_MARKER}\n{ref.START_MARKER}\n",
        f"{ref.START_MARKER}\n{ref.END_MARKER}\n{ref.START_MARKER}\n{ref.END_MARKER}\n",
    ],
)
def test_broken_markers_are_refused_not_guessed(tmp_path: Path, text: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    with pytest.raises(Refused, match=r"README\.md"):
        ref.update_markers(readme, "| t |")
    assert readme.read_text(encoding="utf-8") == text


def test_the_command_writes_a_checkout_and_check_names_the_command(tmp_path: Path) -> None:
    """The real entry point on a throwaway checkout: write, check clean, go stale."""
    (tmp_path / "README.md").write_text(
        f"# Gatehouse\n\n{ref.START_MARKER}\n{ref.END_MARKER}\n", encoding="utf-8"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gate.config_reference", "--root", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
        )

    assert run("--check").returncode == 1
    written = run()
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "docs" / "configuration.md").read_text(
        encoding="utf-8"
    ) == ref.reference_markdown()
    assert ref.readme_table() in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert run("--check").returncode == 0
    (tmp_path / "docs" / "configuration.md").write_text("# old\n", encoding="utf-8")
    stale = run("--check")
    assert stale.returncode == 1 and ref.COMMAND in stale.stderr
    printed = run("--print")
    assert printed.stdout == ref.reference_markdown()


def test_the_command_loads_no_heavy_library() -> None:
    """It runs where ``gate config check`` runs: a unit without the camera stack."""
    from tests.test_light_imports import HEAVY, imported_by

    result, modules = imported_by(["-m", "gate.config_reference", "--print"], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ref.reference_markdown()
    assert not modules & {*HEAVY, "serial", "RPi"}, sorted(modules & {*HEAVY, "serial", "RPi"})
