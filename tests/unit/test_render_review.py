"""Reviewing big changes: field changes many specs share shown once (a design of experiments),
``plan --base`` separating this change from edits made outside ionworks-apply, deletes first
with their cascade once, and flags as code.

Plans come from the real planner on plain data, so paths and values are the planner's.
Regenerate the goldens with ``UPDATE_GOLDEN=1 pytest tests/unit/test_render_review.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_planner import live, plan_of, spec
from test_render import HOSTILE, RenderedComment, check_golden, material_plan, pruning_plan

from reconciler.config import ProjectConfig
from reconciler.manifests import ManifestSet
from reconciler.plan import Cascade, Change, FieldChange, Plan
from reconciler.provenance import Base, classify
from reconciler.render import render
from reconciler.render.groups import GROUP_FROM
from reconciler.render.markdown_budget import BUDGET, FULL_PLAN
from reconciler.render.values import summary_line

COMMIT = "5e7b1c0d9a3f4e2b8c6d1a0f9e8d7c6b5a4f3e2d"
SHARED = "Same change in several specs"


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def electrolyte(name: str, volume: float) -> dict[str, Any]:
    return {"material": {"name": name}, "properties": {"volume": q(volume, "uL")}}


def cathode(loading: float, thickness: float) -> dict[str, Any]:
    properties = {"loading": q(loading, "mg/cm**2"), "thickness": q(thickness, "um")}
    return {"properties": {**properties, "binder": "PVDF"}}


def doe_plan(count: int) -> Plan:
    """A design of experiments: ``count`` coin cells move from LP30 to LP57 with 10 uL more
    electrolyte (the same in all of them) and step through cathode loadings and thicknesses
    (one pair each); one unrelated spec changes its notes, one new spec is created, and a
    retired cell goes."""
    now = [
        spec(
            f"DoE-{i:03d}",
            form_factor="coin",
            electrolyte=electrolyte("LP57", 90),
            cathode=cathode(round(16 + 0.05 * i, 2), 60 + i % 20),
        )
        for i in range(1, count + 1)
    ]
    now += [spec("Reference-LFP", notes="Rev C"), spec("DoE-control", form_factor="coin")]
    records = [
        live(
            f"DoE-{i:03d}",
            form_factor="coin",
            electrolyte=electrolyte("LP30", 80),
            cathode=cathode(18, 70),
        )
        for i in range(1, count + 1)
    ]
    records += [live("Reference-LFP", notes="Rev B"), live("Retired-2019")]
    plan = plan_of(now, records, prune=True)
    return with_cascade(plan, "Retired-2019", Cascade(instances=4, batches=1, measurements=96))


def with_cascade(plan: Plan, name: str, cascade: Cascade) -> Plan:
    return replace(
        plan,
        changes=tuple(replace(c, cascade=cascade) if c.name == name else c for c in plan.changes),
    )


def base_plan() -> Plan:
    """A pull request that raises one capacity, while the live state holds a colleague's edit
    in the web app (notes), a capacity edited in the app that the PR changes too, a spec
    deleted in the app, and a managed spec the manifests at the base never declared."""
    ratings = {"voltage_min": q(2.5, "V"), "voltage_max": q(4.2, "V")}
    now = [
        spec("NMC811-21700", ratings={**ratings, "capacity": q(5.2, "A*h")}),
        spec("LFP-pouch-20Ah", ratings={**ratings, "capacity": q(21.5, "A*h")}, notes="Rev B"),
        spec("Coin-R2032", form_factor="coin"),
        spec("Si-Gr-pouch", notes="new in this change"),
    ]
    at_base = [
        spec("NMC811-21700", ratings={**ratings, "capacity": q(5, "A*h")}),
        spec("LFP-pouch-20Ah", ratings={**ratings, "capacity": q(20, "A*h")}, notes="Rev B"),
        spec("Coin-R2032", form_factor="coin"),
    ]
    records = [
        live("NMC811-21700", ratings={**ratings, "capacity": q(5, "A*h")}),
        live(
            "LFP-pouch-20Ah",
            ratings={**ratings, "capacity": q(20.5, "A*h")},
            notes="edited in the app: do not use",
        ),
        live("Proto-from-app"),
    ]
    plan = with_cascade(plan_of(now, records, prune=True), "Proto-from-app", Cascade(2, 0, 12))
    base = ManifestSet((Path("m"),), ProjectConfig(), tuple(at_base), ())
    return classify(plan, Base.of(COMMIT, base))


def test_grouped_goldens() -> None:
    plan = doe_plan(100)
    check_golden("grouped.txt", render([plan], "text"))
    markdown = render([plan], "markdown")
    check_golden("grouped.md", markdown)
    assert len(markdown.encode("utf-8")) <= BUDGET
    assert markdown.count("DoE-042") == 4, "in two shared changes, then in its two rows"
    [data] = json.loads(render([plan], "json"))["plans"]
    doe = [c for c in data["changes"] if c["name"][4:].isdigit()]
    shared = {"electrolyte.material.name", "electrolyte.properties.volume"}
    assert len(doe) == 100
    assert all(shared < {d["path"] for d in c["details"]} for c in doe), "JSON keeps them whole"
    assert Plan.from_data(data) == plan


def test_base_goldens_and_round_trip() -> None:
    plan = base_plan()
    check_golden("base.txt", render([plan], "text"))
    check_golden("base.md", render([plan], "markdown"))
    output = render([plan], "json")
    check_golden("base.json", output)
    [data] = json.loads(output)["plans"]
    assert Plan.from_data(data) == plan
    assert render([Plan.from_data(data)], "markdown") == render([plan], "markdown")


def test_without_base_nothing_is_split_or_marked() -> None:
    plan = replace(
        base_plan(),
        base=None,
        changes=tuple(
            replace(c, reason=None, details=tuple(replace(d, reason=None) for d in c.details))
            for c in base_plan().changes
        ),
    )
    for fmt in ("text", "markdown"):
        output = render([plan], fmt)
        assert "outside ionworks-apply" not in output
        assert "from this change" not in output.lower()


def updates(*values: tuple[str, Any, Any]) -> Plan:
    """One update per (name, before, after) of ``notes``."""
    changes = tuple(
        Change(kind="update", name=name, details=(FieldChange("notes", before, after),))
        for name, before, after in values
    )
    return Plan("p", "o", "http://127.0.0.1", "m", False, changes)


def test_a_field_change_is_shared_from_three_specs() -> None:
    assert GROUP_FROM == 3
    two = updates(("a", "x", "y"), ("b", "x", "y"))
    three = updates(("a", "x", "y"), ("b", "x", "y"), ("c", "x", "y"))
    for fmt in ("text", "markdown"):
        assert SHARED not in render([two], fmt)
        assert SHARED in render([three], fmt)
    text = render([three], "text")
    assert text.count('notes: "x" -> "y"') == 1
    assert '"a", "b", "c"' in text


def test_shared_means_exactly_the_same_values_as_written() -> None:
    """5 A*h and 5000 mA*h are equal physically, but a reviewer reads them as written."""
    plan = updates(("a", None, q(5, "A*h")), ("b", None, q(5, "A*h")), ("c", None, q(5000, "mA*h")))
    assert SHARED not in render([plan], "text")
    differing_before = updates(("a", "x", "y"), ("b", "x", "y"), ("c", "w", "y"))
    assert SHARED not in render([differing_before], "text")


def test_materials_are_never_shared() -> None:
    material = material_plan().materials[0]
    plan = replace(
        material_plan(),
        materials=tuple(replace(material, key=(f"NCM{i}", "BASF")) for i in range(3)),
    )
    for fmt in ("text", "markdown"):
        output = render([plan], fmt)
        assert SHARED not in output
        assert output.count("definition.d50") == 3


def test_a_reverted_edit_is_never_shared_with_this_change() -> None:
    """The same field change, from this change in two specs and reverting an outside edit in
    a third: not one line, since approving one is not approving the other."""
    plan = updates(("a", "x", "y"), ("b", "x", "y"), ("c", "x", "y"))
    changes = list(plan.changes)
    changes[2] = replace(
        changes[2],
        reason="outside",
        details=(replace(changes[2].details[0], reason="outside"),),
    )
    marked = replace(plan, changes=tuple(changes), base=COMMIT)
    for fmt in ("text", "markdown"):
        assert SHARED not in render([marked], fmt)


def test_a_500_spec_doe_fits_github_and_says_what_it_left_out() -> None:
    plan = doe_plan(500)
    output = render([plan], "markdown")
    assert len(output.encode("utf-8")) <= BUDGET
    assert f"**{summary_line(plan)}**" in output
    assert "This comment is shortened to fit GitHub's 65,536-character limit" in output
    assert FULL_PLAN in output
    assert "`Retired-2019` · also deletes 4 cell instances, 1 batch and 96 measurements" in output
    assert output.index("[!CAUTION]") < output.index(SHARED), "deletes come first"
    for path in ("electrolyte.material.name", "electrolyte.properties.volume"):
        assert f"<b>~ 500 specs</b> · <code>{path}</code>" in output
    assert "and 300 more in the full plan" in output, "200 names per shared change, then counted"
    spec_rows = r"^\| `([^`]+)` \| `[^`]+` \| `[^`]+` \| `[^`]+` \|$"
    in_table = set(re.findall(spec_rows, output, flags=re.MULTILINE))
    sections = re.findall(r"^<details><summary><b>[+~] \w+</b>", output, flags=re.MULTILINE)
    lines = re.findall(r"^- \*\*. \w+\*\* `[^`]+` · ", output, flags=re.MULTILINE)
    omitted = re.search(r"field details of (\d+) changes are omitted", output)
    unlisted = re.search(r"(\d+) changes are not listed", output)
    not_listed = int(unlisted.group(1)) if unlisted else 0
    assert len(in_table) > 100
    assert omitted and int(omitted.group(1)) == len(lines), "each line is a change cut short"
    shown = len(in_table) + len(sections) + len(lines) + not_listed
    assert shown == 502, "500 DoE, 1 other update, 1 create: each shown once, or counted"


def test_the_cascade_is_said_once_per_delete() -> None:
    """It was said four times for a blocked delete: caution, warning, summary and body."""
    markdown = render([pruning_plan()], "markdown")
    assert markdown.count("1 cell instance, 0 batches and 25 measurements") == 1
    assert markdown.count("12 cell instances, 3 batches and 340 measurements") == 1
    text = render([pruning_plan()], "text")
    assert text.count("1 cell instance, 0 batches and 25 measurements") == 1


def test_flags_are_code_in_markdown() -> None:
    comment = RenderedComment(render([pruning_plan()], "markdown"))
    assert "--allow-cascade" in "".join(comment.text)
    assert "--allow-cascade" not in "".join(comment.outside_code)


def test_hostile_names_stay_text_in_shared_changes_and_reverts() -> None:
    plan = updates(
        (HOSTILE + "1", HOSTILE, "y"), (HOSTILE + "2", HOSTILE, "y"), ("c", HOSTILE, "y")
    )
    changes = [*plan.changes, Change(kind="delete", name=HOSTILE, spec_id=HOSTILE)]
    changes[2] = replace(
        changes[2], reason="both", details=(replace(changes[2].details[0], reason="outside"),)
    )
    changes[3] = replace(changes[3], reason="outside")
    shared = updates(*((f"{HOSTILE}{i}", HOSTILE, HOSTILE) for i in range(3)))
    marked = replace(plan, changes=(*changes, *shared.changes), base=COMMIT, prune=True)
    comment = RenderedComment(render([marked], "markdown"))
    structure = {"h2", "h3", "h4", "p", "strong", "code", "blockquote", "ul", "li", "b"}
    tables = {"details", "summary", "table", "thead", "tbody", "tr", "th", "td"}
    assert comment.tags <= structure | tables, comment.tags - structure - tables
    assert "@team" not in "".join(comment.outside_code)
    assert "\x1b" not in render([marked], "text")


def test_a_material_reverting_an_outside_edit_is_among_the_reverts() -> None:
    """The catalog at the base already defined d50 as 12 um; Ionworks holds 10 um."""
    plan = material_plan()
    [found] = plan.materials
    base = Base(COMMIT, materials={found.key: found.desired})
    marked = classify(plan, base)
    assert [(m.reason, [d.reason for d in m.details]) for m in marked.materials] == [
        ("outside", ["outside"])
    ]
    text = render([marked], "text")
    assert text.index("Changed outside ionworks-apply") < text.index('material "NCM622" (BASF)')
    assert "definition.d50: 10 um -> 12 um  [reverts an edit made outside" in text
    markdown = render([marked], "markdown")
    assert '> - material `"NCM622" (BASF)`: `definition.d50`' in markdown
    assert markdown.index("#### Changed outside") < markdown.index("<b>~ material</b>")
    assert "#### From this change" not in markdown, "nothing else to show"
    unmarked = render([plan], "markdown")
    assert "[!IMPORTANT]" not in unmarked and "#### Changed outside" not in unmarked


def test_only_reverts_have_no_empty_section_of_this_change() -> None:
    plan = classify(
        plan_of([spec("Cell", notes="orig")], [live("Cell", notes="edited in the app")]),
        Base(COMMIT, specs={"Cell": {"name": "Cell", "notes": "orig"}}),
    )
    for fmt in ("text", "markdown"):
        output = render([plan], fmt)
        assert "Changed outside ionworks-apply" in output
        assert "From this change" not in output
