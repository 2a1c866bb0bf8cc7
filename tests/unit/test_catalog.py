"""catalog: one definition per shared material, from plain bodies and catalog entries."""

from __future__ import annotations

from reconciler.catalog import DesiredMaterial, MaterialDocument, build_catalog, expand
from reconciler.errors import Location

SLOTS = ("anode", "cathode")
NCM = {"name": "NCM622", "manufacturer": "BASF"}
OLD = {"d50": {"value": 10, "unit": "um"}}


def where(spec: int, path: tuple[str | int, ...]) -> Location:
    return Location(f"spec-{spec}.yaml", 1 + len(path), 1)


def near(spec: int, key: str) -> Location:
    return where(spec, (key,))


def entry(definition: dict[str, object] | None, line: int = 1) -> MaterialDocument:
    place = Location("materials/ncm.yaml", line, 1)
    return MaterialDocument(("NCM622", "BASF"), definition, None, place, {"definition": place})


def test_inline_definitions_that_agree_physically_are_one_material() -> None:
    same_in_nm = {"d50": {"value": 10000, "unit": "nm"}}
    bodies = [
        {"cathode": {"material": {**NCM, "definition": OLD}}},
        {"anode": {"material": {**NCM, "definition": same_in_nm}}},
        {"cathode": {"material": NCM}},
    ]
    catalog, problems = build_catalog([], bodies, SLOTS, where, near)
    assert problems == []
    material = catalog[("NCM622", "BASF")]
    assert material.definition == OLD
    assert material.defined_at == near(0, "cathode")
    expanded = expand(bodies[2], catalog, SLOTS)
    assert expanded["cathode"]["material"] == {**NCM, "definition": OLD}


def test_disagreements_name_every_place() -> None:
    other = {"d50": {"value": 12, "unit": "um"}}
    bodies = [
        {"cathode": {"material": {**NCM, "definition": OLD}}},
        {"cathode": {"material": {**NCM, "definition": other}}},
    ]
    _, problems = build_catalog([], bodies, SLOTS, where, near)
    [problem] = problems
    assert problem.location == where(1, ("cathode", "material", "definition"))
    assert str(where(0, ("cathode", "material", "definition"))) in problem.message
    _, problems = build_catalog([entry(OLD), entry(OLD, line=9)], bodies[:1], SLOTS, where, near)
    assert ["already in the catalog" in p.message for p in problems] == [True]
    _, problems = build_catalog([entry(OLD)], bodies[1:], SLOTS, where, near)
    assert ["differs from the catalog's" in p.message for p in problems] == [True]


def test_a_material_defined_nowhere_is_sent_by_name_only() -> None:
    catalog, problems = build_catalog([], [{"cathode": {"material": NCM}}], SLOTS, where, near)
    assert problems == [] and catalog[("NCM622", "BASF")] == DesiredMaterial(("NCM622", "BASF"))
    assert DesiredMaterial(("NCM622", "BASF")).data == NCM
    assert DesiredMaterial(("Foil", None)).data == {"name": "Foil"}


def test_a_null_definition_is_a_warning_and_never_sent() -> None:
    bodies = [{"cathode": {"material": {**NCM, "definition": None}}}]
    catalog, problems = build_catalog([entry(OLD)], bodies, SLOTS, where, near)
    assert [p.severity for p in problems] == ["warning"]
    assert expand(bodies[0], catalog, SLOTS)["cathode"]["material"]["definition"] == OLD
