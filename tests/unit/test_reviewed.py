"""reviewed: a saved plan against a fresh plan of the same directory, on plain data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.plan import Cascade, Change, Plan
from reconciler.reviewed import check_reviewed


def plan(*changes: Change, prune: bool = False, **extra: Any) -> Plan:
    return Plan("p", "default", "http://x", "m", prune, tuple(changes), **extra)


CREATE = Change("create", "New", body={"name": "New", "project_id": "p"}, desired_digest="d1")
UPDATE = Change(
    "update", "Cell", spec_id="s1", body={"notes": "n"}, desired_digest="d2", live_digest="l1"
)
DELETE = Change("delete", "Gone", spec_id="s2", live_digest="l2", cascade=Cascade())


def test_identical_plans_match_and_keep_the_fresh_changes() -> None:
    fresh = plan(CREATE, UPDATE, DELETE, prune=True, live_ids=frozenset({"s1", "s2"}))
    checked = check_reviewed(plan(CREATE, UPDATE, DELETE, prune=True), fresh)
    assert checked.reasons == () and checked.already == ()
    assert checked.plan.changes == fresh.changes


def test_every_kind_of_edit_is_a_reason() -> None:
    edited = [
        replace(CREATE, body={"name": "New", "project_id": "elsewhere"}),
        replace(UPDATE, live_digest="moved"),
        replace(DELETE, kind="orphan"),
    ]
    fresh = plan(CREATE, UPDATE, replace(DELETE, kind="orphan"), live_ids=frozenset({"s1", "s2"}))
    reasons = check_reviewed(plan(*edited[:2], replace(DELETE)), fresh).reasons
    assert any("'New'" in r and "project_id" in r for r in reasons)
    assert any("'Cell' changed since the plan" in r for r in reasons)
    assert any("'Gone'" in r and "without prune" in r for r in reasons)


def test_a_grown_cascade_or_a_missing_count_is_a_reason() -> None:
    grown = replace(DELETE, cascade=Cascade(instances=2))
    fresh = plan(grown, prune=True, live_ids=frozenset({"s2"}))
    assert "grew to 2 cell instances" in check_reviewed(plan(DELETE, prune=True), fresh).reasons[0]
    unknown = replace(DELETE, cascade=None)
    [reason] = check_reviewed(plan(unknown, prune=True), fresh).reasons
    assert "the plan showed no count" in reason


def test_changes_done_already_are_not_reasons() -> None:
    fresh = plan(unchanged=("New", "Cell"), live_ids=frozenset({"s1"}))
    checked = check_reviewed(plan(CREATE, UPDATE, DELETE, prune=True), fresh)
    assert checked.reasons == ()
    assert {c.name for c in checked.already} == {"New", "Cell", "Gone"}


def test_fresh_changes_the_plan_does_not_hold_are_reasons() -> None:
    fresh = plan(CREATE, UPDATE, live_ids=frozenset({"s1"}))
    [reason] = check_reviewed(plan(CREATE), fresh).reasons
    assert "'Cell': a fresh plan also has a update" in reason
