"""Body rules the real API enforces beyond plain types: Quantities, ratings, PATCH merging."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

from reconciler.sandbox.errors import Loc, field_error, raise_invalid

RATING_KEYS = (
    "capacity",
    "voltage_min",
    "voltage_max",
    "nominal_voltage",
    "energy",
    "energy_density_gravimetric",
    "energy_density_volumetric",
    "max_charge_rate",
    "max_discharge_rate",
)
REQUIRED_RATINGS = ("capacity", "voltage_min", "voltage_max")

QUANTITY_HINT = 'Numeric values must use the Quantity format {"value": <number>, "unit": "<unit>"}'


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: int | float) -> bool:
    """Integers are always finite (``math.isfinite`` overflows on ones beyond float range)."""
    return isinstance(value, int) or math.isfinite(value)


def quantity_errors(value: Any, loc: Loc) -> list[dict[str, Any]]:
    """Problems with one Quantity ``{"value": number, "unit": str}``."""
    if not isinstance(value, dict):
        return [field_error(loc, QUANTITY_HINT, "quantity_type", value)]
    errors = []
    if "value" not in value:
        errors.append(field_error((*loc, "value"), "Field required", "missing"))
    elif not _is_number(value["value"]) or not _is_finite(value["value"]):
        errors.append(
            field_error(
                (*loc, "value"),
                "Quantity value must be a finite number",
                "quantity_value",
                value["value"],
            )
        )
    if "unit" not in value:
        errors.append(field_error((*loc, "unit"), "Field required", "missing"))
    elif not isinstance(value["unit"], str) or not value["unit"].strip():
        errors.append(
            field_error(
                (*loc, "unit"),
                "Quantity unit must be a non-empty string",
                "quantity_unit",
                value["unit"],
            )
        )
    for key, extra in value.items():
        if key not in ("value", "unit"):
            errors.extend(property_errors(extra, (*loc, key)))
    return errors


def property_errors(value: Any, loc: Loc) -> list[dict[str, Any]]:
    """Problems in a properties-like map: a bare number anywhere, at any depth, is refused."""
    if _is_number(value):
        return [field_error(loc, QUANTITY_HINT, "quantity_required", value)]
    if isinstance(value, list):
        return [error for i, item in enumerate(value) for error in property_errors(item, (*loc, i))]
    if isinstance(value, dict):
        if "value" in value or "unit" in value:
            return quantity_errors(value, loc)
        return [
            error for key, item in value.items() for error in property_errors(item, (*loc, key))
        ]
    return []


def ratings_errors(ratings: dict[str, Any], loc: Loc, *, required: bool) -> list[dict[str, Any]]:
    """Ratings: only the known keys, each a Quantity; the core three when ``required``."""
    errors = []
    for key, value in ratings.items():
        if key not in RATING_KEYS:
            errors.append(
                field_error(
                    (*loc, key),
                    f"Unknown rating; expected one of {', '.join(RATING_KEYS)}",
                    "extra_forbidden",
                    value,
                )
            )
        else:
            errors.extend(quantity_errors(value, (*loc, key)))
    if required:
        errors.extend(
            field_error((*loc, key), "Field required", "missing")
            for key in REQUIRED_RATINGS
            if key not in ratings
        )
    return errors


def check_properties(value: Any, loc: Loc) -> None:
    """Raise a 422 if a properties-like map holds a bare number."""
    raise_invalid(property_errors(value, loc))


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``base``; a None in ``patch`` removes that key."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def patched(mode: str, stored: Any, given: Any) -> Any:
    """The value a PATCH stores for a nested dict field under the configured mode."""
    if given is None or mode == "replace":
        return given
    return deep_merge(stored if isinstance(stored, dict) else {}, given)


def canonical_json(value: Any) -> str:
    """Key-order-independent JSON, used for component identity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_moment(raw: str) -> datetime:
    """A date or date-time in ISO 8601, in UTC (naive values are taken as UTC).

    Raises ValueError, also for an instant that leaves the calendar once moved to UTC
    (``9999-12-31T23:00-05:00``).
    """
    moment = datetime.fromisoformat(raw.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{raw!r} is out of range in UTC") from None


def check_date_or_datetime(raw: str) -> str:
    """Instances take a date or a date-time for date_manufactured; keep the caller's spelling."""
    try:
        date.fromisoformat(raw)
    except ValueError:
        parse_moment(raw)
    return raw
