"""normalise: live records in the manifest's shape."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import json_value

from reconciler import compare, normalise

LIVE_RECORD: dict[str, Any] = {
    "id": "spec-1",
    "name": "Cell A",
    "organization_id": "org",
    "project_id": "proj",
    "form_factor": "21700",
    "manufacturer": None,
    "ratings": {"capacity": {"value": 5.0, "unit": "A.h"}},
    "properties": {"managed_by": "ionworks-apply/default"},
    "source": {},
    "notes": None,
    "anode_id": "comp-1",
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-02T00:00:00+00:00",
    "created_by": "user",
    "instance_ids": ["i1"],
    "anode": {
        "id": "comp-1",
        "component_type": "anode",
        "material_id": "mat-1",
        "created_at": "2026-01-01T00:00:00+00:00",
        "properties": {"thickness": {"value": 80, "unit": "um"}},
        "material": {
            "id": "mat-1",
            "name": "Graphite",
            "manufacturer": "Acme",
            "product_id": None,
            "definition": {"type": "graphite"},
            "organization_id": "org",
        },
    },
    "cathode": None,
}


def test_live_body_keeps_only_what_a_manifest_can_declare() -> None:
    assert normalise.live_body(LIVE_RECORD) == {
        "name": "Cell A",
        "form_factor": "21700",
        "ratings": {"capacity": {"value": 5.0, "unit": "A.h"}},
        "properties": {"managed_by": "ionworks-apply/default"},
        "source": {},
        "anode": {
            "properties": {"thickness": {"value": 80, "unit": "um"}},
            "material": {
                "name": "Graphite",
                "manufacturer": "Acme",
                "definition": {"type": "graphite"},
            },
        },
    }


@settings(max_examples=80, deadline=None)
@given(record=st.dictionaries(st.sampled_from(list(LIVE_RECORD)), json_value, max_size=8))
def test_live_body_is_idempotent_and_digest_stable(record: dict[str, Any]) -> None:
    once = normalise.live_body(record)
    assert normalise.live_body(once) == once
    assert compare.digest(once) == compare.digest(normalise.live_body(once))


def test_live_view_keeps_what_plans_read() -> None:
    record = {
        "id": "s1", "name": "Cell", "project_id": "p", "updated_at": "t", "created_by": "u",
        "ratings": {"capacity": {"value": 5, "unit": "A*h"}},
        "anode": {"id": "c1", "component_type": "anode", "properties": {"x": 1},
                  "material": {"id": "m1", "name": "Graphite", "organization_id": "o"}},
    }  # fmt: skip
    view = normalise.live_view(record)
    assert normalise.live_body(view) == normalise.live_body(record)
    assert {k: view[k] for k in normalise.IDENTITY_FIELDS} == {
        "id": "s1", "name": "Cell", "project_id": "p", "updated_at": "t"
    }  # fmt: skip
    assert "created_by" not in view and "id" not in view["anode"]


def test_a_write_answer_carries_a_field_only_where_a_read_would_show_it() -> None:
    full = {"id": "s1", "name": "Cell", "notes": None, "anode_id": "c1", "anode": {"x": 1}}
    metadata = {"id": "s1", "name": "Cell", "notes": None, "anode_id": "c1", "cathode_id": None}
    fields = {"name", "notes", "anode", "project_id"}
    assert normalise.carries(full, fields)
    assert not normalise.carries(metadata, fields)  # a component behind its id alone
    assert normalise.carries(metadata, {"name", "notes", "cathode"})  # the slot says: empty
    assert not normalise.carries(metadata, {"form_factor"})  # not in the answer at all
    assert normalise.carries({**metadata, "anode": None, "anode_id": None}, fields)
