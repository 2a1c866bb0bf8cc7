"""Unit parsing and physical comparison of Quantities."""

from __future__ import annotations

import math

import pytest

from reconciler.units import (
    UnitError,
    canonical,
    describe_dimension,
    dimension_of,
    format_quantity,
    is_quantity,
    parse_unit,
    quantities_equal,
)

# (spelling, another spelling, factor from the first to the second)
EQUIVALENT = [
    ("A*h", "A.h", 1),
    ("A*h", "mA*h", 1000),
    ("A*h", "mA.h", 1000),
    ("A*h", "Ah", 1),
    ("mW.h", "mW*h", 1),
    ("W*h", "mW.h", 1000),
    ("mg/cm**2", "mg.cm-2", 1),
    ("mg/cm**2", "mg/cm^2", 1),
    ("mA*h/g", "mA.h.g-1", 1),
    ("mol/L", "mol.L-1", 1),
    ("W*h/kg", "W.h.kg-1", 1),
    ("W*h/L", "W.h.L-1", 1),
    ("um", "µm", 1),
    ("mm", "um", 1000),
    ("uL", "mL", 0.001),
    ("percent", "%", 1),
    ("percent", "dimensionless", 0.01),
    ("C", "1/h", 1),
    ("V", "mV", 1000),
    ("ohm", "mohm", 1000),
    ("coulomb", "A*s", 1),
]


@pytest.mark.parametrize(("first", "second", "factor"), EQUIVALENT)
def test_spellings_compare_equal(first: str, second: str, factor: float) -> None:
    assert quantities_equal({"value": 2, "unit": first}, {"value": 2 * factor, "unit": second})
    assert not quantities_equal(
        {"value": 2, "unit": first}, {"value": 2.1 * factor, "unit": second}
    )


def test_the_example_from_the_contract() -> None:
    assert quantities_equal({"value": 2, "unit": "mA*h"}, {"value": 0.002, "unit": "A*h"})
    assert quantities_equal({"value": 2, "unit": "mA*h"}, {"value": 0.002, "unit": "A.h"})


def test_c_is_always_a_c_rate_never_a_coulomb() -> None:
    assert dimension_of("C") == "1 / [time]"
    assert dimension_of("coulomb") == "[current] * [time]"
    assert canonical(1, "C") == pytest.approx((1 / 3600, "1 / [time]"))
    assert not quantities_equal({"value": 1, "unit": "C"}, {"value": 1, "unit": "coulomb"})
    with pytest.raises(UnitError, match=r"ambiguous.*millicoulomb"):
        parse_unit("mC")


def test_different_dimensions_are_never_equal() -> None:
    assert not quantities_equal({"value": 1, "unit": "A*h"}, {"value": 1, "unit": "W*h"})
    assert not quantities_equal({"value": 0, "unit": "V"}, {"value": 0, "unit": "A"})


def test_canonical_is_si_and_stable() -> None:
    assert canonical(5, "A*h") == (18000.0, "[current] * [time]")
    assert canonical(12.3, "mg.cm-2") == canonical(12.3, "mg/cm**2")
    magnitude, dimension = canonical(25, "degC")
    assert magnitude == pytest.approx(298.15)
    assert dimension == "[temperature]"


def test_unknown_units_raise_with_a_suggestion() -> None:
    with pytest.raises(UnitError, match=r"unknown unit 'Ahh' \(did you mean 'A\*h'\?\)"):
        parse_unit("Ahh")
    with pytest.raises(UnitError, match=r"did you mean 'mg/cm\*\*2'"):
        parse_unit("mg/cmm**2")
    with pytest.raises(UnitError, match=r"did you mean 'mA\*h'"):
        parse_unit("mAhr")
    with pytest.raises(UnitError, match=r"^unknown unit 'qqqqqq'$"):
        parse_unit("qqqqqq")


@pytest.mark.parametrize("text", ["", "   ", "kg/", "**", "m**m", "m-", "(", "km**999", "x" * 101])
def test_unreadable_units_raise_unit_error(text: str) -> None:
    with pytest.raises(UnitError):
        parse_unit(text)


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


def test_quantities_equal_falls_back_to_exact_comparison_for_unknown_units() -> None:
    odd = {"value": 3, "unit": "widgets/fortnight"}
    assert quantities_equal(odd, {"value": 3, "unit": "widgets/fortnight"})
    assert not quantities_equal(odd, {"value": 3.0000001, "unit": "widgets/fortnight"})
    assert not quantities_equal(odd, {"value": 3, "unit": "A*h"})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("x", "x"),
        ({"value": "1", "unit": "V"}, {"value": "1", "unit": "V"}),
        ({"value": True, "unit": "V"}, {"value": 1, "unit": "V"}),
        (None, {"value": 1, "unit": "V"}),
        ({"value": math.nan, "unit": "V"}, {"value": math.nan, "unit": "V"}),
        ({"value": 10**400, "unit": "V"}, {"value": 1, "unit": "V"}),
    ],
)
def test_quantities_equal_never_raises(a: object, b: object) -> None:
    quantities_equal(a, b)  # type: ignore[arg-type]


def test_is_quantity() -> None:
    assert is_quantity({"value": 1, "unit": "V"})
    assert is_quantity({"value": 1.5, "unit": "whatever"})
    assert not is_quantity({"value": True, "unit": "V"})
    assert not is_quantity({"value": "1", "unit": "V"})
    assert not is_quantity({"value": 1, "unit": "V", "extra": 0})
    assert not is_quantity({"value": 1})
    assert not is_quantity([1, "V"])


def test_format_quantity_keeps_what_was_written() -> None:
    assert format_quantity({"value": 0.002, "unit": "A*h"}) == "0.002 A*h"
    assert format_quantity({"value": 5, "unit": "A.h"}) == "5 A.h"


def test_dimension_descriptions() -> None:
    assert describe_dimension(dimension_of("mV")) == "an electric potential"
    assert describe_dimension(dimension_of("W.h.kg-1")) == "an energy per mass"
    assert describe_dimension(dimension_of("mol/L")) == "[substance] / [length] ** 3"
