"""Request bodies. Unknown keys are refused (422), as FastAPI models with extra="forbid" do.

Routes hand storage ``model_dump(mode="json", exclude_unset=True)``: a key present means the
caller sent it (possibly as null), which is how PATCH tells "clear" from "leave alone".
Quantity rules live in validation.py: they need the stored value in merge mode.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from reconciler.sandbox.settings import (
    ListOrder,
    MaterialUpsert,
    NestedNull,
    PatchMode,
    WriteResponse,
)
from reconciler.sandbox.validation import check_date_or_datetime


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_nullable", "This field cannot be null")
    return value


def _date_or_datetime(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_date_or_datetime(value)
    except ValueError:
        raise PydanticCustomError(
            "date_parsing", "Input should be an ISO 8601 date or date-time"
        ) from None


def _exists_in_utc(value: datetime | None) -> datetime | None:
    """Times are stored in UTC; 0001-01-01T00:00+05:00 has no UTC spelling."""
    if value is not None and value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "datetime_range", "Input should be an instant that exists in UTC"
            ) from None
    return value


class MaterialIn(Body):
    name: str = Field(min_length=1)
    manufacturer: str | None = None
    product_id: str | None = None
    definition: dict[str, Any] | None = None


class ComponentIn(Body):
    properties: dict[str, Any] | None = None
    material: MaterialIn | None = None


class SpecFields(Body):
    form_factor: str | None = None
    manufacturer: str | None = None
    ratings: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    notes: str | None = None
    anode: ComponentIn | None = None
    cathode: ComponentIn | None = None
    electrolyte: ComponentIn | None = None
    separator: ComponentIn | None = None
    case: ComponentIn | None = None


class SpecCreate(SpecFields):
    name: str = Field(min_length=1)
    project_id: str = Field(min_length=1)


class SpecPatch(SpecFields):
    name: str | None = Field(default=None, min_length=1)

    _name_not_null = field_validator("name")(_not_null)


class InstanceCreate(Body):
    name: str = Field(min_length=1)
    batch_id: str | None = None
    measured_properties: dict[str, Any] | None = None
    date_manufactured: str | None = None
    notes: str | None = None

    _date = field_validator("date_manufactured")(_date_or_datetime)


class InstancePatch(Body):
    name: str | None = Field(default=None, min_length=1)
    batch_id: str | None = None
    measured_properties: dict[str, Any] | None = None
    date_manufactured: str | None = None
    notes: str | None = None

    _name_not_null = field_validator("name")(_not_null)
    _date = field_validator("date_manufactured")(_date_or_datetime)


class BatchCreate(Body):
    name: str = Field(min_length=1)
    notes: str | None = None
    date_manufactured: date | None = None
    properties: dict[str, Any] | None = None


class BatchPatch(Body):
    name: str | None = Field(default=None, min_length=1)
    notes: str | None = None
    date_manufactured: date | None = None
    properties: dict[str, Any] | None = None

    _name_not_null = field_validator("name")(_not_null)


class MeasurementCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    measurement_type: Literal["properties"] = "properties"
    properties: dict[str, Any]
    protocol: dict[str, Any] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    test_setup: dict[str, Any] | None = None
    step_labels_validated: bool = False
    notes: str | None = None
    file_metadata: dict[str, Any] | None = None
    tags: list[str] | None = None

    _times = field_validator("start_time", "end_time")(_exists_in_utc)


class MeasurementPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    properties: dict[str, Any] | None = None
    protocol: dict[str, Any] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    test_setup: dict[str, Any] | None = None
    step_labels_validated: bool | None = None
    notes: str | None = None
    file_metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    channel_id: str | None = None

    _name_not_null = field_validator("name", "step_labels_validated")(_not_null)
    _times = field_validator("start_time", "end_time")(_exists_in_utc)


class FaultConfig(Body):
    """``PUT /_sandbox/faults``: fields left out keep their current value."""

    fault_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    faults: list[str] | None = None
    seed: int | None = None
    latency_ms: float | None = Field(default=None, ge=0.0)
    stall_seconds: float | None = Field(default=None, ge=0.0)


class RawSpec(SpecFields):
    """``POST /_sandbox/raw_specs``: a spec stored as sent, as another client might have.

    Only what the table needs is checked (a name, known columns, JSON objects for components);
    ratings, properties and source may be any JSON, and no Quantity or ratings rule applies.
    """

    name: str = Field(min_length=1)
    project_id: str | None = None
    ratings: Any = None
    properties: Any = None
    source: Any = None


class BehaviourChange(Body):
    """``PUT /_sandbox/behaviour``: fields left out keep their value; ``seed`` restarts shuffles."""

    patch_mode: PatchMode | None = None
    list_order: ListOrder | None = None
    write_response: WriteResponse | None = None
    nested_null: NestedNull | None = None
    material_upsert: MaterialUpsert | None = None
    strict_text: bool | None = None
    ratings_required: bool | None = None
    seed: int | None = None


class SeedRequest(Body):
    """``POST /_sandbox/seed``: name the spec by id or by name (default project unless given)."""

    spec_id: str | None = None
    spec_name: str | None = None
    project_id: str | None = None
    instances: int = Field(ge=0, le=100_000)
    measurements: int = Field(default=0, ge=0, le=1_000)
    batches: int = Field(default=0, ge=0, le=10_000)


class ProjectCreate(Body):
    """``POST /_sandbox/projects``: a second project, for multi-project scenarios."""

    name: str = Field(min_length=1)
