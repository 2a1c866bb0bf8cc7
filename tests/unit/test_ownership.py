"""ownership: the marker that says which directory may change and delete a spec."""

from __future__ import annotations

from reconciler.ownership import foreign_owner, marker_for, marker_of, with_marker


def test_marker_round_trip_and_foreign_owners() -> None:
    ours = marker_for("lab")
    assert ours == "ionworks-apply/lab"
    record = {"properties": {"managed_by": ours, "x": 1}}
    assert marker_of(record) == ours
    assert marker_of({"properties": {"managed_by": 5}}) is None
    assert marker_of({"properties": None}) is None and marker_of({}) is None
    assert foreign_owner(record, ours) is None
    assert foreign_owner(record, marker_for("other")) == ours
    assert foreign_owner({"properties": {"managed_by": "a person"}}, ours) is None


def test_with_marker_copies_and_never_mutates() -> None:
    properties = {"a": "b"}
    marked = with_marker(properties, "ionworks-apply/x")
    assert marked == {"a": "b", "managed_by": "ionworks-apply/x"}
    assert properties == {"a": "b"}
    assert with_marker(None, "m") == {"managed_by": "m"}
