"""fmt: the canonical layout, comments kept, meaning kept, idempotent; and the CLI around it."""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import CliResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import export, layout, yaml_source
from reconciler.compare import same
from reconciler.fmt import FormatError, format_text
from reconciler.schema import TOP_LEVEL_FIELDS, Ratings
from reconciler.units import canonical_spelling
from reconciler.yaml_source import parse_documents

EXAMPLES = Path(__file__).resolve().parent.parent / "manifests"
RunCli = Callable[..., CliResult]


def values(text: str) -> list[Any]:
    parsed = parse_documents(text, "x.yaml")
    assert not parsed.problems, parsed.problems
    return [document.value for document in parsed.documents]


def test_the_canonical_orders_are_the_create_body_and_the_natural_ratings_order() -> None:
    assert layout.TOP_LEVEL_ORDER == (
        "kind", "name", "form_factor", "manufacturer", "ratings", "properties", "source", "anode",
        "cathode", "electrolyte", "separator", "case", "notes", "lifecycle",
    )  # fmt: skip
    assert layout.RATINGS_ORDER == (
        "capacity", "voltage_min", "voltage_max", "nominal_voltage", "energy",
        "energy_density_gravimetric", "energy_density_volumetric", "max_charge_rate",
        "max_discharge_rate",
    )  # fmt: skip
    assert layout.key_order(("anode", "material")) == (
        "name", "manufacturer", "definition", "product_id",
    )  # fmt: skip
    assert layout.key_order(("properties",)) is None  # free-form: as the author wrote it


def test_keys_move_into_order_and_take_their_comments_along() -> None:
    text = """\
# yaml-language-server: $schema=./cellspec.schema.json
notes: measured in-house  # by whom
# the electrical ratings
ratings:
  voltage_max: {value: 4.2, unit: V}
  # rated at C/5
  capacity:
    value: 5
    unit: A*h
  voltage_min: { unit: V, value: 2.5 }
  # end of ratings

name: Cell A
properties:
  zeta: first as written
  alpha: {value: 1, unit: mm}
"""
    assert (
        format_text(text, "x.yaml")
        == """\
# yaml-language-server: $schema=./cellspec.schema.json

name: Cell A
# the electrical ratings
ratings:
  # rated at C/5
  capacity: {value: 5, unit: A*h}
  voltage_min: {value: 2.5, unit: V}
  voltage_max: {value: 4.2, unit: V}
  # end of ratings
properties:
  zeta: first as written
  alpha: {value: 1, unit: mm}
notes: measured in-house  # by whom
"""
    )


def test_a_quantity_with_a_comment_inside_keeps_its_lines() -> None:
    text = "name: A\nproperties:\n  thickness:\n    unit: um\n    value: 85  # measured\n"
    assert format_text(text, "x.yaml") == (
        "name: A\nproperties:\n  thickness:\n    value: 85  # measured\n    unit: um\n"
    )


def test_values_are_copied_as_written_and_reindented() -> None:
    text = """\
notes: |
    first line
      indented # not a comment
    last
name: 'Cell A'
properties:
    tags: [a,  b]
    steps:
    - charge
    -   {value: 1, unit: h}
    - - nested
      - list
    - key: 1
      other: "two"
"""
    formatted = format_text(text, "x.yaml")
    assert (
        formatted
        == """\
name: 'Cell A'
properties:
  tags: [a,  b]
  steps:
    - charge
    - {value: 1, unit: h}
    - - nested
      - list
    - key: 1
      other: "two"
notes: |
    first line
      indented # not a comment
    last
"""
    )
    assert values(formatted) == values(text)


def test_every_document_is_formatted_and_odd_ones_are_left_alone() -> None:
    text = "notes: one\nname: A\n---\n- not a spec\n---\n# second\nform_factor: pouch\nname: B\n"
    assert format_text(text, "x.yaml") == (
        "name: A\nnotes: one\n---\n- not a spec\n---\n# second\nname: B\nform_factor: pouch\n"
    )


def test_windows_line_endings_are_kept() -> None:
    text = "notes: x\r\nname: A\r\n"
    assert format_text(text, "x.yaml") == "name: A\r\nnotes: x\r\n"


def test_an_alias_that_would_come_first_swaps_with_its_anchor() -> None:
    text = (
        "name: A\ncathode:\n  material: &nmc {name: NMC811}\n"
        "anode:\n  material:\n    <<: *nmc\n    name: Graphite\n"
    )
    formatted = format_text(text, "x.yaml")
    assert "    <<: &nmc {name: NMC811}\n" in formatted
    assert "  material: *nmc\n" in formatted
    assert values(formatted) == values(text)


def test_what_cannot_be_reordered_safely_is_refused_with_the_reason() -> None:
    text = "name: A\ncathode: &c\n  material: {name: NMC811}\nanode: *c\n"
    with pytest.raises(FormatError) as caught:
        format_text(text, "x.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "x.yaml:4:1: cannot format this file: *c would come before &c once keys are in order; "
        "write the anchor where the value is first used"
    ]


def test_a_file_the_loader_refuses_is_not_formatted() -> None:
    with pytest.raises(FormatError) as caught:
        format_text("name: A\nname: B\n", "x.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "x.yaml:2:1: duplicate key 'name' (first defined at line 1)"
    ]


def test_units_are_rewritten_only_when_asked() -> None:
    text = (
        "name: A\nproperties:\n  c: {value: 175, unit: mA.h.g-1}\n  p: {value: 30, unit: '%'}\n"
        "  r: {value: 20, unit: mOhm}\n  odd: {value: 1, unit: widgets}\n"
    )
    assert format_text(text, "x.yaml") == text
    formatted = format_text(text, "x.yaml", units=True)
    assert formatted == (
        "name: A\nproperties:\n  c: {value: 175, unit: mA*h/g}\n  p: {value: 30, unit: percent}\n"
        "  r: {value: 20, unit: mohm}\n  odd: {value: 1, unit: widgets}\n"
    )
    before, after = values(text)[0]["properties"], values(formatted)[0]["properties"]
    assert all(same(before[key], after[key]) for key in before)


def test_the_examples_are_in_the_canonical_layout() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name != "ionworks-apply.yaml":
            text = path.read_text(encoding="utf-8")
            assert format_text(text, path.name) == text, path.name


def test_layout_dump_is_what_fmt_leaves_alone_and_what_fmt_makes_of_an_export() -> None:
    """``layout.document_nodes`` + ``layout.dump`` write the canonical layout (fmt changes
    nothing); export.py sorts ratings alphabetically today, and fmt turns its output into
    exactly that layout (free-form keys here are already sorted, as export sorts them)."""
    body = {
        "name": "Exported",
        "notes": "n",
        "ratings": {
            "voltage_max": {"value": 4.2, "unit": "V"},
            "capacity": {"value": 5, "unit": "A*h"},
            "voltage_min": {"value": 2.5, "unit": "V"},
        },
        "properties": {"mass": {"value": 69, "unit": "g"}, "tags": ["a", "b"]},
        "anode": {"material": {"name": "Graphite", "definition": {"d50": [1, "x"]}}},
    }
    canonical = layout.dump(layout.document_nodes(body))
    assert format_text(canonical, "x.yaml") == canonical
    assert canonical.startswith("name: Exported\nratings:\n  capacity: {value: 5, unit: A*h}\n")
    exported = export.manifest_text({"id": "spec-1", **body})
    assert format_text(exported, "x.yaml") == export.SCHEMA_LINE + canonical


# Property tests: generated manifests in many layouts ------------------------------------------

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
KEYS = WORDS.filter(lambda word: word not in ("true", "false", "null"))
TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))
UNITS = ["A*h", "mA.h", "V", "mV", "mg/cm**2", "mg.cm-2", "%", "percent", "um", "µm", "mAh/g"]


class _Text:
    """Builds a YAML text line by line, with comments that can be counted afterwards."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw
        self.lines: list[str] = []
        self.comments: list[str] = []

    def comment(self) -> str:
        text = f"# c{len(self.comments)}"
        self.comments.append(text)
        return text

    def maybe_eol(self) -> str:
        return "  " + self.comment() if self.draw(st.integers(0, 4)) == 0 else ""

    def maybe_above(self, indent: int) -> None:
        choice = self.draw(st.integers(0, 6))
        if choice == 0:
            shift = self.draw(st.sampled_from([0, 0, 0, -2, 2, 4]))
            self.lines.append(" " * max(indent + shift, 0) + self.comment())
        elif choice == 1:
            self.lines.append("")

    def scalar(self) -> str:
        kind = self.draw(st.integers(0, 5))
        if kind == 0:
            return self.draw(WORDS)
        if kind == 1:
            return json.dumps(self.draw(st.text(TEXT, max_size=10)), ensure_ascii=False)
        if kind == 2:
            return str(self.draw(st.integers(-(10**6), 10**6)))
        if kind == 3:
            return repr(self.draw(st.floats(allow_nan=False, allow_infinity=False, width=32)))
        return self.draw(st.sampled_from(["true", "null", "~", "'21700'"]))

    def quantity(self, indent: int, head: str) -> None:
        number = str(self.draw(st.integers(0, 1000)))
        unit = self.draw(st.sampled_from(UNITS))
        unit = f"'{unit}'" if unit.startswith("%") else unit
        style = self.draw(st.integers(0, 2))
        if style == 0:
            self.lines.append(f"{head} {{value: {number}, unit: {unit}}}{self.maybe_eol()}")
        elif style == 1:
            self.lines.append(f"{head} {{ unit: {unit},value: {number} }}{self.maybe_eol()}")
        else:
            self.lines.append(head + self.maybe_eol())
            pairs = [f"value: {number}", f"unit: {unit}"]
            for pair in self.draw(st.permutations(pairs)):
                self.lines.append(" " * (indent + 2) + pair + self.maybe_eol())

    def value(self, indent: int, head: str, depth: int) -> None:
        kind = self.draw(st.integers(0, 5 if depth < 3 else 1))
        if kind == 0:
            self.lines.append(f"{head} {self.scalar()}{self.maybe_eol()}")
        elif kind == 1:
            self.quantity(indent, head)
        elif kind == 2:
            self.lines.append(head + self.maybe_eol())
            self.mapping(indent + self.draw(st.sampled_from([2, 4])), depth + 1, None)
        elif kind == 3:
            self.lines.append(head + self.maybe_eol())
            dash = indent + self.draw(st.sampled_from([0, 2]))
            for _ in range(self.draw(st.integers(1, 3))):
                self.maybe_above(dash)
                self.lines.append(" " * dash + f"- {self.scalar()}{self.maybe_eol()}")
        elif kind == 4:
            self.lines.append(f"{head} [{', '.join(self.draw(st.lists(WORDS, max_size=3)))}]")
        else:
            self.lines.append(f"{head} |")
            for _ in range(self.draw(st.integers(1, 3))):
                self.lines.append(" " * (indent + 2) + self.draw(WORDS) + " # kept")

    def mapping(self, indent: int, depth: int, keys: list[str] | None) -> None:
        chosen = keys or self.draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
        for key in chosen:
            self.maybe_above(indent)
            written = f'"{key}"' if self.draw(st.integers(0, 9)) == 0 else key
            self.value(indent, " " * indent + written + ":", depth)


@st.composite
def manifests(draw: Any) -> tuple[str, list[str]]:
    """Specs in random layouts: keys in random order, comments and blank lines anywhere,
    sometimes two documents."""
    out = _Text(draw)
    for number in range(draw(st.integers(1, 2))):
        if number:
            out.lines.append("---" + out.maybe_eol())
        _document(draw, out)
    return "\n".join(out.lines) + "\n", out.comments


def _document(draw: Any, out: _Text) -> None:
    if draw(st.booleans()):
        out.lines.append(out.comment())
    body_fields = [f for f in TOP_LEVEL_FIELDS if f not in ("kind", "name", "lifecycle")]
    keys = draw(st.lists(st.sampled_from(body_fields), unique=True, max_size=6))
    keys = draw(st.permutations(["name", *keys]))
    for key in keys:
        out.maybe_above(0)
        if key == "ratings":
            out.lines.append("ratings:" + out.maybe_eol())
            names = draw(st.lists(st.sampled_from(list(Ratings.model_fields)), unique=True))
            for name in draw(st.permutations(names)) or ["capacity"]:
                out.maybe_above(2)
                out.quantity(2, f"  {name}:")
        elif key in ("anode", "cathode", "separator"):
            out.lines.append(f"{key}:" + out.maybe_eol())
            out.mapping(2, 1, draw(st.permutations(["properties", "material"])))
        else:
            out.value(0, f"{key}:", 1)
    if draw(st.booleans()):
        out.lines.append(out.comment())


def meaning(value: Any, units: bool) -> Any:
    if isinstance(value, dict):
        if units and layout.is_quantity_keys(value):
            return {"value": value["value"], "unit": canonical_spelling(value["unit"])}
        return {key: meaning(item, units) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [meaning(item, units) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), st.booleans())
def test_fmt_keeps_the_meaning_and_the_comments_and_is_idempotent(
    generated: tuple[str, list[str]], units: bool
) -> None:
    text, comments = generated
    formatted = format_text(text, "x.yaml", units=units)
    assert [meaning(v, units) for v in values(formatted)] == [
        meaning(v, units) for v in values(text)
    ]
    assert format_text(formatted, "x.yaml", units=units) == formatted
    for comment in comments:
        assert sum(line.endswith(comment) for line in formatted.splitlines()) == 1, comment
    for document in values(formatted):
        assert list(document) == layout.ordered(document, layout.TOP_LEVEL_ORDER)
        if isinstance(document.get("ratings"), dict):
            ratings = list(document["ratings"])
            assert ratings == layout.ordered(ratings, layout.RATINGS_ORDER)


# The command -----------------------------------------------------------------------------------

MESSY = "notes: x\nname: Cell A\nratings:\n  capacity:\n    value: 5\n    unit: A*h\n"
TIDY = "name: Cell A\nratings:\n  capacity: {value: 5, unit: A*h}\nnotes: x\n"


def test_check_lists_what_would_change_and_writes_nothing(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "messy.yaml").write_text(MESSY)
    (tmp_path / "manifests" / "tidy.yaml").write_text(TIDY)
    (tmp_path / "manifests" / "ionworks-apply.yaml").write_text("prune: false\nowner: me\n")
    result = run_cli("fmt", "--check")
    assert (result.code, result.out) == (1, "would reformat manifests/messy.yaml\n")
    assert "1 file(s) would be reformatted, 1 unchanged." in result.err
    assert (tmp_path / "manifests" / "messy.yaml").read_text() == MESSY
    result = run_cli("fmt")
    assert (result.code, result.out) == (0, "reformatted manifests/messy.yaml\n")
    assert (tmp_path / "manifests" / "messy.yaml").read_text() == TIDY
    assert (
        tmp_path / "manifests" / "ionworks-apply.yaml"
    ).read_text() == "prune: false\nowner: me\n"
    assert run_cli("fmt", "--check", "manifests").code == 0


def test_a_file_that_cannot_be_formatted_is_reported_and_the_rest_are_done(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("name: A\nnotes: a: b\n")
    (tmp_path / "messy.yaml").write_text(MESSY)
    result = run_cli("fmt", "bad.yaml", "messy.yaml", "missing.yaml")
    assert result.code == 1
    assert result.out == "reformatted messy.yaml\n"
    assert result.err.splitlines()[1:] == [
        "bad.yaml:2:8: YAML syntax error: the value of 'notes' contains ': '; quote the value: "
        "notes: 'a: b'",
        "missing.yaml: no such file or directory",
        "Error: 2 problem(s) in the manifests; nothing was sent to the API",
    ]
    assert (tmp_path / "bad.yaml").read_text() == "name: A\nnotes: a: b\n"


def test_units_flag_and_what_fmt_writes_through(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    target = real / "cell.yaml"
    target.write_text("name: A\nproperties:\n  c: {value: 175, unit: mA.h.g-1}\n")
    target.chmod(0o640)
    (tmp_path / "link.yaml").symlink_to(target)
    assert run_cli("fmt", "link.yaml").code == 0  # nothing to change without --units
    result = run_cli("fmt", "--units", "link.yaml")
    assert result.code == 0
    assert (tmp_path / "link.yaml").is_symlink()
    assert target.read_text() == "name: A\nproperties:\n  c: {value: 175, unit: mA*h/g}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [p for p in real.iterdir() if p.name != "cell.yaml"]  # no temporary file left


YAML_BITS = [
    *TOP_LEVEL_FIELDS, "value", "unit", ": ", "\n", "  ", "    ", "- ", "-\n", "{", "}", "[",
    "]", ", ", "&a ", "*a", "<<: ", "---\n", "...\n", "!!str ", "'", '"', "# c", " # c", "|\n",
    ">-\n", "? ", "é", "\t", "\r\n", "1e400", "null", "A*h", "%",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(YAML_BITS), max_size=50))
def test_any_text_is_formatted_or_refused_with_reasons(bits: list[str]) -> None:
    text = "".join(bits)
    try:
        formatted = format_text(text, "x.yaml")
    except FormatError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert format_text(formatted, "x.yaml") == formatted


def test_the_pure_python_parser_formats_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ruamel.yaml.clib, spans come from ruamel's own parser: same columns, same text."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
    texts.append(
        "notes: é😀 # c\nname: 'Cell 😀'\nratings:\n  capacity:\n    value: 5\n    unit: Ah\n"
    )
    with_c = [format_text(text, "x.yaml", units=True) for text in texts]
    monkeypatch.setattr(yaml_source, "CParser", None)
    assert [format_text(text, "x.yaml", units=True) for text in texts] == with_c
    assert (
        with_c[-1]
        == "name: 'Cell 😀'\nratings:\n  capacity: {value: 5, unit: A*h}\nnotes: é😀 # c\n"
    )
