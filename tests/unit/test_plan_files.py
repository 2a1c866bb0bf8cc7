"""Plan files: written whole, read back strictly; anything else is one PlanFileError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import PlanFileError
from reconciler.plan import Cascade, Change, Plan
from reconciler.plan_files import load_plans, save_plans

PLAN = Plan(
    "p",
    "default",
    "http://x",
    "m",
    True,
    (
        Change("create", "New", body={"name": "New"}, desired_digest="d"),
        Change("delete", "Gone", spec_id="s", cascade=Cascade(1, 0, 2)),
    ),
    unchanged=("Same",),
)


def test_a_saved_plan_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plans([PLAN], path)
    assert load_plans(path) == [PLAN]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json", "is not a plan file"),
        ('{"tool": "other"}', "is not a plan file"),
        ('{"tool": "ionworks-apply", "document": "drift"}', "is not a plan file"),
        ('{"tool": "ionworks-apply", "format_version": 99}', "plan format 99"),
    ],
)
def test_what_is_not_a_plan_file_is_refused(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(PlanFileError, match=said):
        load_plans(path)


def test_a_plan_with_a_wrong_type_names_where(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plans([PLAN], path)
    document = json.loads(path.read_text())
    document["plans"][0]["changes"][1]["cascade"]["measurements"] = 2.5
    path.write_text(json.dumps(document))
    with pytest.raises(PlanFileError, match=r"plans\.0\.changes\.1\.cascade\.measurements"):
        load_plans(path)
