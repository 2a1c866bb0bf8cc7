"""reviewed: a saved plan against a fresh plan of the same directory, on plain data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.errors import StalePlanError
from reconciler.plan import Cascade, Change, Plan
from reconciler.reviewed import check_pairs, check_reviewed, pair_by_project


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


def test_a_changed_set_of_owned_fields_is_a_reason() -> None:
    owned = replace(UPDATE, owned=("notes", "ratings"))
    fresh = plan(replace(UPDATE, owned=("notes",)), live_ids=frozenset({"s1"}))
    [reason] = check_reviewed(plan(owned), fresh).reasons
    assert "the fields its manifest declares changed" in reason


def test_pairs_go_by_project_and_owner_and_cover_exactly_the_directories() -> None:
    reviewed_a, fresh_a = plan(CREATE), plan(CREATE)
    elsewhere = Plan("q", "default", "http://x", "m2", False, (CREATE,))
    other_owner = Plan("p", "team", "http://x", "m3", False, ())
    pairs, reasons = pair_by_project([elsewhere, reviewed_a], [fresh_a, other_owner])
    assert pairs == [(reviewed_a, fresh_a)]
    assert reasons == [
        "m3 reconciles project p (owner 'team'), which the reviewed plan does not cover",
        "the reviewed plan is for project q (owner 'default') too, which none of the "
        "directories given reconciles",
    ]
    _, twice = pair_by_project([reviewed_a, reviewed_a], [fresh_a])
    assert twice == ["the reviewed plan holds project p (owner 'default') twice"]


def test_check_pairs_refuses_everything_on_any_reason_and_counts_what_is_done() -> None:
    fresh = plan(UPDATE, unchanged=("New",), live_ids=frozenset({"s1"}))
    plans, already = check_pairs([(plan(CREATE, UPDATE), fresh)])
    assert [c.name for c in plans[0].changes] == ["Cell"]
    assert [(o.change.name, o.status) for o in already[0]] == [("New", "already")]
    with pytest.raises(StalePlanError) as refused:
        check_pairs([(plan(CREATE, UPDATE), fresh)], ["found before"])
    assert refused.value.reasons == ["found before"]


def test_a_release_is_done_once_the_spec_is_unmarked() -> None:
    release = Change("release", "Old", spec_id="s3", body={"properties": {}}, live_digest="l3")
    checked = check_reviewed(plan(release), plan(unmanaged=("Old",)))
    assert checked.reasons == () and [c.name for c in checked.already] == ["Old"]
    for fresh in (plan(unchanged=("Old",)), plan(other_owners={"Old": "ionworks-apply/team"})):
        [reason] = check_reviewed(plan(release), fresh).reasons
        assert reason == "'Old': the plan says release, but a fresh plan has nothing to do for it"
