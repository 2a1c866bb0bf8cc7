"""Renderers against golden files, plus escaping, truncation and the JSON round trip.

Regenerate the goldens with ``UPDATE_GOLDEN=1 pytest tests/unit/test_render.py`` and read the diff:
they are what reviewers see.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import click
import cmarkgfm
import pytest
from cmarkgfm.cmark import Options as cmarkgfm_options

from reconciler.errors import UsageError
from reconciler.plan import Block, Cascade, Change, FieldChange, MaterialChange, Plan, Reached
from reconciler.render import FORMATS, markdown_budget, render
from reconciler.render.values import cascade_text, display_url, format_value, summary_line

GOLDEN = Path(__file__).parent.parent / "fixtures" / "render"
MARKER = "ionworks-apply/cells-team"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual + "\n", encoding="utf-8")
    assert actual + "\n" == path.read_text(encoding="utf-8"), f"{name} differs from the golden"


def q(value: float, unit: str) -> dict[str, object]:
    return {"value": value, "unit": unit}


def pruning_plan() -> Plan:
    """Every kind that writes: create, nested update, adopt, rename, deletes (one blocked)."""
    create = Change(
        kind="create",
        name="NMC811-21700-v2",
        source="manifests/prod/nmc811-21700-v2.yaml:1",
        fields=("name", "form_factor", "manufacturer", "ratings", "cathode", "notes"),
        body={
            "name": "NMC811-21700-v2",
            "project_id": "0b7e6c1e-4c52-4b7a-9a51-2f0d9c3e8a10",
            "form_factor": "21700",
            "manufacturer": "LG Energy Solution",
            "ratings": {
                "capacity": q(5.0, "A*h"),
                "nominal_voltage": q(3.63, "V"),
                "voltage_min": q(2.5, "V"),
                "voltage_max": q(4.2, "V"),
                "max_discharge_rate": q(3, "C"),
            },
            "cathode": {
                "material": {
                    "name": "NMC811",
                    "definition": {"particle_size_d50": q(12, "um"), "type": "layered oxide"},
                },
                "properties": {"loading": q(21.4, "mg/cm**2"), "binder": "PVDF"},
            },
            "notes": "Second-generation high-nickel cell for the 2025 pack.",
            "properties": {"managed_by": MARKER},
        },
        desired_digest="sha256:1f0c",
    )
    update = Change(
        kind="update",
        name="LFP-pouch-20Ah",
        spec_id="a3d9c1f2-0000-4000-8000-000000000002",
        source="manifests/prod/lfp-pouch.yaml:1",
        fields=("anode", "cathode", "electrolyte", "notes", "ratings", "separator"),
        details=(
            FieldChange("anode.material.definition.particle_size_d50", q(15, "um"), q(12, "um")),
            FieldChange("cathode.properties.loading", q(18.5, "mg/cm**2"), q(19.2, "mg.cm-2")),
            FieldChange("electrolyte.material.definition.solvents[1]", "EMC", "DMC"),
            FieldChange("notes", None, "Rev B: thinner anode coating"),
            FieldChange("ratings.capacity", q(20, "A*h"), q(21.5, "A*h")),
            FieldChange(
                "separator",
                None,
                {
                    "material": {"name": "Celgard 2325", "manufacturer": "Celgard"},
                    "properties": {"thickness": q(25, "um"), "porosity": q(39, "percent")},
                },
            ),
        ),
        body={"notes": "Rev B: thinner anode coating"},
        desired_digest="sha256:2a1b",
        live_digest="sha256:9e8d",
        live_updated_at="2025-05-02T09:14:00Z",
    )
    adopt = Change(
        kind="adopt",
        name="Coin-R2032-Graphite",
        spec_id="a3d9c1f2-0000-4000-8000-000000000003",
        source="manifests/prod/coin.yaml:1",
        fields=("form_factor", "properties"),
        details=(FieldChange("form_factor", "coin", "R2032"),),
        body={"form_factor": "R2032", "properties": {"managed_by": MARKER}},
    )
    rename = Change(
        kind="rename",
        name="LCO-18650",
        previous_name="LCO-18650-proto",
        spec_id="a3d9c1f2-0000-4000-8000-000000000004",
        source="manifests/prod/lco-18650.yaml:3",
        fields=("name", "ratings"),
        details=(FieldChange("ratings.voltage_max", q(4.2, "V"), q(4.35, "V")),),
        body={"name": "LCO-18650", "ratings": {"voltage_max": q(4.35, "V")}},
    )
    delete = Change(
        kind="delete",
        name="Proto-A",
        spec_id="a3d9c1f2-0000-4000-8000-000000000005",
        cascade=Cascade(instances=12, batches=3, measurements=340),
    )
    blocked = Change(
        kind="delete",
        name="Reference-cell",
        spec_id="a3d9c1f2-0000-4000-8000-000000000006",
        cascade=Cascade(instances=1, batches=0, measurements=25),
        blocks=(
            Block(
                guard="protect",
                reason="its name matches the protect glob 'Reference-*'",
                allow="remove 'Reference-*' from `protect` in ionworks-apply.yaml",
            ),
            Block(
                guard="cascade",
                reason="it would also delete 1 cell instance, 0 batches and 25 measurements",
                allow="`--allow-cascade`, or `allow_cascade: true` in ionworks-apply.yaml",
            ),
        ),
    )
    return Plan(
        project_id="0b7e6c1e-4c52-4b7a-9a51-2f0d9c3e8a10",
        owner="cells-team",
        api_url="https://api.ionworks.com",
        manifests_dir="manifests/prod",
        prune=True,
        changes=(blocked, delete, rename, update, adopt, create),
        unchanged=("LFP-18650", "NMC622-pouch"),
        unmanaged=("Vendor-sample-7",),
        managed_count=6,
        desired_digest="sha256:77aa",
        project_name="Cells R&D <prod>",
        other_owners={"Pack-team-cell": "ionworks-apply/pack-team"},
    )


def orphan_plan() -> Plan:
    """Prune off: a spec we own without a manifest is only reported."""
    orphan = Change(
        kind="orphan", name="Stray-cell", spec_id="c0ffee00-0000-4000-8000-000000000001"
    )
    release = Change(
        kind="release",
        name="Retired-2019-cell",
        spec_id="c0ffee00-0000-4000-8000-000000000002",
        fields=("properties",),
        owned=("properties",),
        body={"properties": {"lab": "B"}},
        live_digest="sha256:5e1f",
    )
    return Plan(
        project_id="5f3a2d10-7e55-4c1b-8d2e-6a9b0c4f1e22",
        owner="cells-team",
        api_url="http://127.0.0.1:8765",
        manifests_dir="manifests/rnd",
        prune=False,
        changes=(orphan, release),
        unchanged=("Si-Gr-pouch",),
        managed_count=2,
    )


def quiet_plan() -> Plan:
    """Nothing to do at all."""
    return Plan(
        project_id="9c1d4e7a-2b3f-4a5c-9d8e-0f1a2b3c4d5e",
        owner="cells-team",
        api_url="https://api.ionworks.com",
        manifests_dir="manifests/archive",
        prune=False,
        changes=(),
        unchanged=("LMO-prismatic", "NCA-18650", "Na-ion-pouch"),
        managed_count=3,
    )


def scenario() -> list[Plan]:
    return [pruning_plan(), orphan_plan()]


ANSI = re.compile(r"\x1b\[")


def test_text_golden() -> None:
    check_golden("scenario.txt", render(scenario(), "text"))


def test_text_no_changes_golden() -> None:
    check_golden("no_changes.txt", render([quiet_plan()], "text"))


def test_colour_only_when_asked() -> None:
    plain = render(scenario(), "text")
    coloured = render(scenario(), "text", color=True)
    assert not ANSI.search(plain)
    assert ANSI.search(coloured)
    assert click.unstyle(coloured) == plain
    assert "\x1b[36m=  release" in coloured
    green, yellow, red = "\x1b[32m", "\x1b[33m", "\x1b[31m"
    for head in (green + "+  create", yellow + "~  update", yellow + "~  adopt", red + "-  delete"):
        assert head in coloured
    assert yellow + "-> rename" in coloured
    for fmt in ("markdown", "json"):
        assert render(scenario(), fmt, color=True) == render(scenario(), fmt)


def test_summary_line_forms() -> None:
    text = render(scenario(), "text")
    assert (
        "Plan: 1 to create, 1 to rename, 1 to adopt, 1 to update, 2 to delete "
        "(cascade: 13 instances, 3 batches, 365 measurements)."
    ) in text.splitlines()
    assert "Plan: 0 to create, 0 to update, 1 to release, 0 to delete." in text.splitlines()
    only_update = Plan(
        project_id="p",
        owner="o",
        api_url="http://127.0.0.1",
        manifests_dir="m",
        prune=False,
        changes=(Change(kind="update", name="x", details=(FieldChange("notes", "a", "b"),)),),
    )
    assert "Plan: 0 to create, 1 to update, 0 to delete." in render([only_update], "text")


def test_markdown_golden() -> None:
    check_golden("scenario.md", render(scenario(), "markdown"))


def test_markdown_no_changes_golden() -> None:
    check_golden("no_changes.md", render([quiet_plan()], "markdown"))


def test_markdown_marker_is_first_line() -> None:
    for plans in (scenario(), [quiet_plan()], []):
        assert render(plans, "markdown").split("\n", 1)[0] == "<!-- ionworks-apply-plan -->"


def test_json_golden_and_round_trip() -> None:
    output = render(scenario(), "json")
    check_golden("scenario.json", output)
    document = json.loads(output)
    assert document["format_version"] == 2
    assert [Plan.from_data(p) for p in document["plans"]] == scenario()


def test_json_round_trip_keeps_rendering() -> None:
    """A plan loaded back from its JSON renders exactly like the original."""
    loaded = [Plan.from_data(p) for p in json.loads(render(scenario(), "json"))["plans"]]
    for fmt in ("text", "markdown"):
        assert render(loaded, fmt) == render(scenario(), fmt)


HOSTILE = "<img src=x onerror=alert(1)> | `x` *b* _i_ [l](http://e) @team #1 $x$ &amp; \x1b[2J\n"
PROSE = "matches '<img src=y> *b* _i_ [l](http://e) ~~s~~ &amp;' in `protect`"


def hostile_plan() -> Plan:
    change = Change(
        kind="update",
        name=HOSTILE,
        source=f"manifests/{HOSTILE}.yaml:1",
        details=(FieldChange(f"properties.{HOSTILE}", HOSTILE, q(1, HOSTILE)),),
    )
    delete = Change(
        kind="delete",
        name=HOSTILE + "2",
        cascade=Cascade(1, 1, 1),
        blocks=(Block("protect", PROSE, "see www.example.com or http://e"),),
    )
    return Plan(
        project_id=HOSTILE,
        project_name=HOSTILE,
        owner=HOSTILE,
        api_url="https://api.ionworks.com",
        manifests_dir=HOSTILE,
        prune=True,
        changes=(change, delete),
    )


class RenderedComment(HTMLParser):
    """What GitHub's cmark makes of a comment: tags, table rows, and text outside code."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.rows: list[int] = []
        self.text: list[str] = []
        self.outside_code: list[str] = []
        self._in_code = 0
        self.feed(
            cmarkgfm.markdown_to_html_with_extensions(
                markdown,
                options=cmarkgfm_options.CMARK_OPT_UNSAFE,
                extensions=["table", "strikethrough", "autolink"],
            )
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += 1
        elif tag == "code":
            self._in_code += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._in_code:
            self.outside_code.append(data)


def test_markdown_escapes_user_text() -> None:
    """Rendered by GitHub's own markdown library, hostile names stay literal text in code."""
    comment = RenderedComment(render([hostile_plan()], "markdown"))
    structure = {"h2", "h3", "p", "strong", "code", "blockquote", "ul", "li", "b"}
    tables = {"details", "summary", "table", "thead", "tbody", "tr", "th", "td"}
    assert comment.tags <= structure | tables, comment.tags - structure - tables
    assert comment.rows and set(comment.rows) == {3}, "every row of the field table has 3 cells"
    text = "".join(comment.text)
    shown = (
        "<img src=x onerror=alert(1)> | `x` *b* _i_ [l](http://e) @team #1 $x$ &amp; \\u001b[2J\\n"
    )
    assert text.count(shown) >= 7, "name, path, values, project and owner all shown literally"
    assert "@team" not in "".join(comment.outside_code)
    assert "matches '<img src=y> *b* _i_ [l](http://e) ~~s~~ &amp;' in protect" in text
    assert "see www.example.com or http://e" in text
    assert "\x1b" not in text


def test_text_shows_control_characters_as_escapes() -> None:
    output = render([hostile_plan()], "text")
    assert "\x1b" not in output
    shown = HOSTILE.replace("\x1b", "\\u001b").replace("\n", "\\n")
    assert f'~  update "{shown}" (' in output


def big_plan(count: int, deletes: int | None = None) -> Plan:
    changes = [
        Change(
            kind="update",
            name=f"spec-{i:05d}",
            source=f"manifests/big/spec-{i:05d}.yaml:1",
            details=tuple(
                FieldChange(f"ratings.field_{j}", q(i + j, "A*h"), q(i + j + 1, "A*h"))
                for j in range(8)
            ),
        )
        for i in range(count)
    ]
    changes += [
        Change(kind="delete", name=f"old-{i:05d}", cascade=Cascade(i, 0, 2 * i))
        for i in range(count // 10 if deletes is None else deletes)
    ]
    return Plan(
        project_id="big",
        owner="cells-team",
        api_url="https://api.ionworks.com",
        manifests_dir="manifests/big",
        prune=True,
        changes=tuple(changes),
    )


@pytest.mark.parametrize(("count", "deletes"), [(150, 15), (3000, 300), (0, 3000)])
def test_markdown_huge_plan_fits_github(count: int, deletes: int) -> None:
    plan = big_plan(count, deletes)
    output = render([plan], "markdown")
    assert len(output.encode("utf-8")) <= markdown_budget.BUDGET < markdown_budget.MAX_COMMENT_CHARS
    assert output.startswith("<!-- ionworks-apply-plan -->\n")
    assert summary_in(output, plan)
    assert "The full plan is in the workflow artifact" in output
    assert "This comment is shortened to fit GitHub's 65,536-character limit" in output
    assert output.count("<details>") == output.count("</details>")
    assert "> [!CAUTION]" in output
    if deletes > 1000:
        assert re.search(r"\d+ alert list items are cut", output)
        assert re.search(r"^> - … and \d+ more in the full plan$", output, flags=re.MULTILINE)


def summary_in(output: str, plan: Plan) -> bool:
    return f"**{summary_line(plan)}**" in output


def test_markdown_truncation_counts_what_it_omits() -> None:
    """150 updates (deletes have no section: the caution alert lists each one)."""
    output = render([big_plan(150)], "markdown")
    shown = output.count("<details>")
    short = len(re.findall(r"^- \*\*", output, flags=re.MULTILINE))
    match = re.search(r"field details of (\d+) changes are omitted", output)
    assert match and 0 < shown < 150
    assert int(match.group(1)) == 150 - shown == short


def test_markdown_too_many_plans_are_cut_at_a_line() -> None:
    plans = [quiet_plan()] * 400
    output = render(plans, "markdown")
    assert len(output.encode("utf-8")) <= markdown_budget.BUDGET < markdown_budget.MAX_COMMENT_CHARS
    assert output.endswith("**Truncated.** " + markdown_budget.FULL_PLAN)


def test_empty_plan_list() -> None:
    assert render([], "text") == "No projects to plan."
    assert json.loads(render([], "json"))["plans"] == []


def test_unknown_format_is_a_usage_error() -> None:
    assert FORMATS == ("text", "markdown", "json")
    with pytest.raises(UsageError, match="choose one of text, markdown, json"):
        render([], "yaml")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "(none)"),
        (q(0.002, "A*h"), "0.002 A*h"),
        (q(20.0, "A*h"), "20 A*h"),
        (True, "true"),
        ("PVDF", '"PVDF"'),
        (["EC", "EMC"], '["EC", "EMC"]'),
        ({}, "{}"),
        (
            {"properties": {"d": q(15, "mm")}, "material": {"name": "Graphite"}},
            '{material: {name: "Graphite"}, properties: {d: 15 mm}}',
        ),
        ({"value": "x", "unit": "V"}, '{unit: "V", value: "x"}'),
    ],
)
def test_format_value(value: object, shown: str) -> None:
    assert format_value(value) == shown


def test_format_value_truncates_within_budget() -> None:
    huge = {f"key_{i:03d}": {"nested": list(range(50)), "q": q(i, "V")} for i in range(200)}
    shown = format_value(huge, 100)
    assert len(shown) <= 100
    assert shown.startswith("{key_000: {...}, key_001: {...}, ")
    assert re.search(r", \.\.\. \d+ more}$", shown)
    assert format_value("x" * 500, 20) == '"' + "x" * 15 + '..."'
    assert format_value(["y" * 500], 20) == '["' + "y" * 13 + '..."]'


def test_format_value_shows_whole_levels_first() -> None:
    component = {
        "material": {"name": "NMC811", "definition": {"particle_size_d50": q(12, "um")}},
        "properties": {"binder": "PVDF", "loading": q(21.4, "mg/cm**2")},
    }
    assert format_value(component, 60) == "{material: {...}, properties: {...}}"
    assert format_value(component, 101) == (
        '{material: {definition: {...}, name: "NMC811"}, '
        'properties: {binder: "PVDF", loading: 21.4 mg/cm**2}}'
    )
    assert "particle_size_d50: 12 um" in format_value(component, 200)


def test_cascade_wording() -> None:
    assert cascade_text(None) == "cascade not counted"
    assert cascade_text(Cascade()) == "no cell instances, batches or measurements go with it"
    assert (
        cascade_text(Cascade(1, 2, 3))
        == "also deletes 1 cell instance, 2 batches and 3 measurements"
    )


def test_markdown_caps_rows_of_one_change() -> None:
    details = tuple(FieldChange(f"properties.p{i:03d}", i, i + 1) for i in range(150))
    plan = Plan(
        project_id="p",
        owner="o",
        api_url="http://127.0.0.1",
        manifests_dir="m",
        prune=False,
        changes=(Change(kind="update", name="wide", details=details),),
    )
    output = render([plan], "markdown")
    assert "150 fields" in output
    assert "| `properties.p099` | `99` | `100` |" in output
    assert "properties.p100" not in output
    assert "… and 50 more fields in the full plan." in output


def test_display_url_drops_credentials() -> None:
    shown = display_url("https://user:s3cret@api.ionworks.com:8443/v1?api_key=s3cret#frag")
    assert shown == "https://api.ionworks.com:8443/v1"
    plan = Plan(
        project_id="p",
        owner="o",
        api_url="https://user:s3cret@api.ionworks.com/?token=s3cret",
        manifests_dir="m",
        prune=False,
        changes=(),
    )
    for fmt in ("text", "markdown"):
        assert "s3cret" not in render([plan], fmt)


def material_plan() -> Plan:
    """A shared material changed in the catalog: it reaches a colleague's spec (blocked)."""
    reach = (
        Reached("Coin A", "s1", "here", 4),
        Reached("Coin B", "s2", "here"),
        Reached("Pack cell", "s3", "ionworks-apply/pack-team", 12),
        Reached("Lab <script>", "s4", None),
    )
    change = MaterialChange(
        key=("NCM622", "BASF"),
        desired={"name": "NCM622", "manufacturer": "BASF", "definition": {"d50": q(12, "um")}},
        before={"name": "NCM622", "manufacturer": "BASF", "definition": {"d50": q(10, "um")}},
        details=(FieldChange("definition.d50", q(10, "um"), q(12, "um")),),
        reach=reach,
        targets=("Coin A", "Coin B"),
        source="manifests/materials/ncm622.yaml:2:1",
        spec_id="s1",
        via="Coin A",
        body={"cathode": {"material": {"name": "NCM622"}}},
        blocks=(
            Block(
                "shared_material",
                "it also changes 2 specs this directory does not manage",
                "--allow-shared-material",
            ),
        ),
    )
    return replace(quiet_plan(), materials=(change,), kept_materials=('"Foil"',))


def test_material_change_goldens() -> None:
    check_golden("materials.txt", render([material_plan()], "text"))
    check_golden("materials.md", render([material_plan()], "markdown"))
    [data] = json.loads(render([material_plan()], "json"))["plans"]
    assert Plan.from_data(data) == material_plan()
