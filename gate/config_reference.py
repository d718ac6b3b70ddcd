"""The configuration reference, generated from the configuration's own table of keys.

A hand-kept list of keys drifts from the validator the first time someone adds a key
and forgets the page; a technician then reads a default nobody enforces. So the
reference is written from ``gate.config.SCHEMA`` and ``gate.config.SECTIONS`` (each
key's type, default, allowed form, whether it is required and its meaning) and from the
driver registries behind ``gate.config.DRIVER_URLS`` (the URL schemes each driver key
accepts), and tests/test_config_reference.py fails when the written page is stale::

    python -m gate.config_reference            # write docs/configuration.md (and README.md
                                               # between its markers, if it has them)
    python -m gate.config_reference --print    # print the reference, write nothing
    python -m gate.config_reference --check    # exit 1 when a written file is stale

README.md gets a compact table (:func:`readme_table`) between
``<!-- config-reference:start -->`` and ``<!-- config-reference:end -->`` when both
markers are there; without them README.md is left alone.

Light on purpose: it imports only ``gate.config`` (what ``gate config check`` loads
anyway) and the standard library, so it runs on a unit without the camera stack.
The reference hub has no configuration file (``gate hub`` takes ``--dir`` and command
line options), so it has no section here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers import Registry
from errors import InvalidArgument, Refused

from .config import DRIVER_URLS, ENV_VAR, SCHEMA, SECTIONS, Key

COMMAND = "python -m gate.config_reference"
START_MARKER = "<!-- config-reference:start -->"
END_MARKER = "<!-- config-reference:end -->"

#: The checkout this module belongs to: docs/ and README.md are found from here.
ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path("docs") / "configuration.md"
README = Path("README.md")

#: Which kind of driver each registry is, in the words of the page that documents it.
_REGISTRY_DOCS = {
    "source": "docs/scanner.md",
    "output": "docs/wiring.md",
    "sensor": "docs/wiring.md",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as the reference shows it: where it lives, its model entry, its schemes."""

    section: str  # "" for a top-level key
    name: str
    key: Key
    schemes: tuple[str, ...] = ()  # the driver URL schemes accepted; empty if not a URL

    @property
    def dotted(self) -> str:
        """The key as error messages name it: ``relay.url``, ``device``."""
        return f"{self.section}.{self.name}" if self.section else self.name


def entries() -> list[Entry]:
    """Every key the parser accepts, top level first, then each section in file order."""
    found = [Entry("", name, key) for name, key in SCHEMA.items()]
    for section, table in SECTIONS.items():
        for name, key in table.keys.items():
            registry = DRIVER_URLS.get((section, name))
            schemes = registry.names if registry is not None else ()
            found.append(Entry(section, name, key, schemes))
    return found


def toml_value(value: Any) -> str:
    """``value`` written as TOML, so defaults read exactly as one would type them."""
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (int, float):
        return repr(value)
    if type(value) is str:
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if type(value) is list:
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise InvalidArgument(f"no TOML form for {type(value).__name__} {value!r}")


def _cell(text: str) -> str:
    """A Markdown table cell: a '|' in the text would end the cell early."""
    return text.replace("|", "\\|")


def _default(key: Key) -> str:
    if key.required:
        return "(required)"
    if key.default is None:
        return "(none)"
    return f"`{toml_value(key.default)}`"


def _allowed(entry: Entry) -> str:
    if not entry.schemes:
        return entry.key.form
    return f"{entry.key.form}; schemes: " + ", ".join(f"`{s}:`" for s in entry.schemes)


def _key_table(found: Sequence[Entry]) -> list[str]:
    lines = [
        "| key | type | default | allowed | required | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in found:
        cells = (
            f"`{e.name}`",
            e.key.toml_type,
            _default(e.key),
            _allowed(e),
            "yes" if e.key.required else "no",
            e.key.meaning,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def example_value(key: Key) -> Any:
    """The value the example configuration gives ``key``: its default, else its example."""
    return key.default if key.default is not None else key.example


def example_config() -> str:
    """A configuration with every section and every key, each at its default (or its
    example where it has none): the reference shows it, and the test loads it."""
    lines = [f"{name} = {toml_value(example_value(key))}" for name, key in SCHEMA.items()]
    for section, table in SECTIONS.items():
        lines += ["", f"[{section}]"]
        lines += [f"{name} = {toml_value(example_value(key))}" for name, key in table.keys.items()]
    return "\n".join(lines) + "\n"


def _registries() -> list[Registry]:
    """The driver registries behind the URL keys, each once, in the order keys use them."""
    seen: list[Registry] = []
    for registry in DRIVER_URLS.values():
        if all(registry is not r for r in seen):
            seen.append(registry)
    return seen


def _scheme_tables() -> list[str]:
    lines: list[str] = []
    for registry in _registries():
        keys = ", ".join(f"`{s}.{k}`" for (s, k), r in DRIVER_URLS.items() if r is registry)
        doc = _REGISTRY_DOCS.get(registry.kind, "")
        lines += [
            "",
            f"### {registry.kind} URLs ({keys})",
            "",
            "Options and URL forms: the header of each module"
            + (f", and {doc}" if doc else "")
            + ".",
            "",
            "| scheme | module | needs |",
            "| --- | --- | --- |",
        ]
        for scheme, backend in registry.backends.items():
            cells = (f"`{scheme}:`", f"`{backend.module}`", backend.needs or "nothing more")
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def reference_markdown() -> str:
    """The whole of docs/configuration.md."""
    top = [e for e in entries() if not e.section]
    lines = [
        "# Configuration reference",
        "",
        f"This page is generated from the configuration model in `gate/config.py` by "
        f"`{COMMAND}`; do not edit it by hand. Change a key's entry there (its check, "
        "default and meaning sit side by side) and run the command again; "
        "`tests/test_config_reference.py` fails while this page is stale.",
        "",
        f"The gate reads one TOML file, named by `gate -c PATH` or `${ENV_VAR}`. It is read "
        "strictly: an unknown key, a wrong type, a value out of range or a missing required "
        "key stops the gate with the file and the key named. `gate -c PATH config check` "
        "validates a file without starting anything. Every section is optional for the "
        "commands other than `gate run`; a key marked required must be there when its "
        "section is. A `number` may be written as an integer or with a decimal point "
        "(`10` or `10.0`); an `integer` may not. The reference hub has no configuration "
        "file (`gate hub` takes `--dir` and command line options; docs/hub-deployment.md).",
        "",
        "## Top-level keys",
        "",
        *_key_table(top),
    ]
    for section, table in SECTIONS.items():
        found = [e for e in entries() if e.section == section]
        lines += [
            "",
            f"## [{section}]",
            "",
            table.meaning[:1].upper() + table.meaning[1:] + ".",
            "",
        ]
        lines += _key_table(found)
    lines += [
        "",
        "## Driver URL schemes",
        "",
        "Driver URLs are `scheme:path?option=value&...`; each is checked by its driver when "
        "the file is loaded, opening nothing, so a misspelt option stops `config check`. "
        "A scheme's library is imported only when a URL chooses it; `needs` is what to "
        "install for it.",
        *_scheme_tables(),
        "",
        "## A complete example",
        "",
        "Every key at its default, or at an example value where it has none "
        "(the test loads this file):",
        "",
        "```toml",
        example_config().rstrip("\n"),
        "```",
    ]
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    """The compact table for README.md (section, key, default, meaning), without the
    markers: the README keeps only what fits in a glance and links the full page."""
    lines = [
        "| section | key | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for e in entries():
        cells = (
            f"[{e.section}]" if e.section else "(top level)",
            f"`{e.name}`",
            _default(e.key),
            e.key.meaning,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", f"The full reference: [docs/configuration.md]({REFERENCE.as_posix()})."]
    return "\n".join(lines)


def replace_between_markers(text: str, block: str) -> str | None:
    """``text`` with what lies between the markers replaced by ``block``; None when
    ``text`` has neither marker (there is nothing to update). The markers stay, so the
    next run finds them again. A lone, repeated or reversed marker is refused rather
    than guessed at, since a guess could overwrite the README's own prose."""
    starts, ends = text.count(START_MARKER), text.count(END_MARKER)
    if starts == 0 and ends == 0:
        return None
    if starts != 1 or ends != 1:
        raise Refused(
            f"expected one {START_MARKER} and one {END_MARKER}; found {starts} and {ends}"
        )
    head, _, rest = text.partition(START_MARKER)
    if END_MARKER in head:
        raise Refused(f"{END_MARKER} comes before {START_MARKER}")
    _, _, tail = rest.partition(END_MARKER)  # what was between is replaced whole
    return f"{head}{START_MARKER}\n{block.strip(chr(10))}\n{END_MARKER}{tail}"


def update_markers(path: Path, block: str) -> bool:
    """Replace the marked part of the file at ``path`` with ``block``; whether the file
    changed. A file without markers, or no file, is left alone."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    try:
        updated = replace_between_markers(text, block)
    except Refused as exc:
        raise Refused(f"{path}: {exc}") from None
    if updated is None or updated == text:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


def stale_files(root: Path = ROOT) -> list[Path]:
    """The generated files under ``root`` that differ from what would be written now."""
    stale = []
    reference = root / REFERENCE
    if not reference.is_file() or reference.read_text(encoding="utf-8") != reference_markdown():
        stale.append(reference)
    readme = root / README
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        updated = replace_between_markers(text, readme_table())
        if updated is not None and updated != text:
            stale.append(readme)
    return stale


def write(root: Path = ROOT) -> list[Path]:
    """Write docs/configuration.md and update README.md's marked part; the files changed."""
    changed = []
    reference = root / REFERENCE
    text = reference_markdown()
    if not reference.is_file() or reference.read_text(encoding="utf-8") != text:
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(text, encoding="utf-8")
        changed.append(reference)
    if update_markers(root / README, readme_table()):
        changed.append(root / README)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gate.config_reference [--print | --check] [--root DIR]``."""
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Generate the configuration reference from gate/config.py."
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the reference, write nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 when a written file is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this one)")
    args = parser.parse_args(argv)
    try:
        if args.print:
            sys.stdout.write(reference_markdown())
            return 0
        if args.check:
            stale = stale_files(args.root)
            for path in stale:
                print(f"{path}: stale; regenerate with {COMMAND}", file=sys.stderr)
            return 1 if stale else 0
        for path in write(args.root):
            print(f"wrote {path}")
    except Refused as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
