"""guards: which deletes are blocked, and what lifts them."""

from __future__ import annotations

from reconciler import guards
from reconciler.config import ProjectConfig
from reconciler.plan import Cascade, Change, Plan


def plan_with(deletes: int, *, managed: int, cascade: Cascade | None = None) -> Plan:
    changes = [
        Change(kind="delete", name=f"Cell {i}", spec_id=f"id-{i}", cascade=cascade or Cascade())
        for i in range(deletes)
    ]
    changes.append(Change(kind="create", name="New", body={"name": "New"}))
    return Plan(
        project_id="p",
        owner="default",
        api_url="http://127.0.0.1:1",
        manifests_dir="m",
        prune=True,
        changes=tuple(changes),
        managed_count=managed,
    )


def guard_names(plan: Plan) -> dict[str, list[str]]:
    return {c.name: sorted(b.guard for b in c.blocks) for c in plan.of_kind("delete")}


def test_nothing_blocked_within_limits() -> None:
    evaluated = guards.evaluate(
        plan_with(2, managed=20), ProjectConfig(), guards.GuardOptions(), desired_count=18
    )
    assert guard_names(evaluated) == {"Cell 0": [], "Cell 1": []}
    assert evaluated.of_kind("create")[0].blocks == ()


def test_percent_guard_only_from_ten_managed_specs() -> None:
    config = ProjectConfig(max_delete_percent=10)
    small = guards.evaluate(plan_with(3, managed=9), config, guards.GuardOptions(), desired_count=6)
    assert guard_names(small) == {f"Cell {i}": [] for i in range(3)}
    big = guards.evaluate(plan_with(3, managed=10), config, guards.GuardOptions(), desired_count=7)
    assert guard_names(big) == {f"Cell {i}": ["max_delete_percent"] for i in range(3)}
    [block] = big.of_kind("delete")[0].blocks
    assert block.reason == "3 of 10 managed specs (30%) exceed max_delete_percent: 10"
    assert block.allow == "raise `max_delete_percent` in ionworks-apply.yaml to at least 30"


def test_protect_max_deletes_and_empty() -> None:
    config = ProjectConfig(protect=["Cell 1*"], max_deletes=1)
    evaluated = guards.evaluate(
        plan_with(2, managed=2), config, guards.GuardOptions(), desired_count=0
    )
    assert guard_names(evaluated) == {
        "Cell 0": ["empty", "max_deletes"],
        "Cell 1": ["empty", "max_deletes", "protect"],
    }
    allowed = guards.evaluate(
        plan_with(2, managed=2), config, guards.GuardOptions(allow_empty=True), desired_count=0
    )
    assert guard_names(allowed)["Cell 0"] == ["max_deletes"]


def test_cascade_guard_flag_config_and_lift() -> None:
    cascade = Cascade(instances=2, batches=1, measurements=5)
    plan = plan_with(1, managed=5, cascade=cascade)
    blocked = guards.evaluate(plan, ProjectConfig(), guards.GuardOptions(), desired_count=4)
    [block] = blocked.of_kind("delete")[0].blocks
    assert block.reason == "it would also delete 2 cell instances, 1 batch and 5 measurements"
    by_flag = guards.evaluate(
        plan, ProjectConfig(), guards.GuardOptions(allow_cascade=True), desired_count=4
    )
    by_config = guards.evaluate(
        plan, ProjectConfig(allow_cascade=True), guards.GuardOptions(), desired_count=4
    )
    assert guard_names(by_flag) == guard_names(by_config) == {"Cell 0": []}


def test_the_prompt_is_offered_only_where_apply_has_one() -> None:
    """In CI (and for a reviewed plan) no one can type a name at a prompt: not offered there."""
    plan = plan_with(1, managed=5, cascade=Cascade(instances=1))
    allows = {
        prompt: guards.evaluate(
            plan, ProjectConfig(), guards.GuardOptions(prompt=prompt), desired_count=4
        )
        .of_kind("delete")[0]
        .blocks[0]
        .allow
        for prompt in (False, True)
    }
    assert allows[False] == "`--allow-cascade`, or `allow_cascade: true` in ionworks-apply.yaml"
    assert allows[True] == (
        "`--allow-cascade`, `allow_cascade: true` in ionworks-apply.yaml, or typing the spec's "
        "name at apply's prompt"
    )
