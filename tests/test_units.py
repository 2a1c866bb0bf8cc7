"""Unit parsing and physical comparison of Quantities."""

from __future__ import annotations

import math

import pytest

from reconciler.compare import same
from reconciler.unit_help import describe_dimension, unit_problem
from reconciler.units import (
    UnitError,
    canonical,
    canonical_spelling,
    dimension_of,
    format_quantity,
    is_quantity,
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
    # Spellings labs write (datasheets, lab notebooks), read physically:
    ("ohm", "Ohm", 1),
    ("ohm", "mOhm", 1000),
    ("ohm", "Ω", 1),
    ("mohm", "mΩ", 1),
    ("mA*h", "mAh", 1),
    ("mA*h/g", "mAh/g", 1),
    ("mA*h/g", "mA h g-1", 1),
    ("W*h", "Wh", 1),
    ("W*h/kg", "Wh/kg", 1),
    ("W*h/L", "Wh/L", 1),
    ("mA*h/cm**2", "mAh/cm2", 1),
    ("wt%", "wt %", 1),
    ("wt%", "wt.%", 1),
    ("vol%", "vol %", 1),
]


@pytest.mark.parametrize(("first", "second", "factor"), EQUIVALENT)
def test_spellings_compare_equal(first: str, second: str, factor: float) -> None:
    assert same({"value": 2, "unit": first}, {"value": 2 * factor, "unit": second})
    assert not same({"value": 2, "unit": first}, {"value": 2.1 * factor, "unit": second})


def test_the_example_from_the_contract() -> None:
    assert same({"value": 2, "unit": "mA*h"}, {"value": 0.002, "unit": "A*h"})
    assert same({"value": 2, "unit": "mA*h"}, {"value": 0.002, "unit": "A.h"})


def test_c_is_always_a_c_rate_never_a_coulomb() -> None:
    assert dimension_of("C") == "1 / [time]"
    assert dimension_of("coulomb") == "[current] * [time]"
    assert canonical(1, "C") == pytest.approx((1 / 3600, "1 / [time]"))
    assert not same({"value": 1, "unit": "C"}, {"value": 1, "unit": "coulomb"})
    with pytest.raises(UnitError, match=r"ambiguous.*millicoulomb"):
        dimension_of("mC")


def test_different_dimensions_are_never_equal() -> None:
    assert not same({"value": 1, "unit": "A*h"}, {"value": 1, "unit": "W*h"})
    assert not same({"value": 0, "unit": "V"}, {"value": 0, "unit": "A"})


def test_canonical_is_si_and_stable() -> None:
    assert canonical(5, "A*h") == (18000.0, "[current] * [time]")
    assert canonical(12.3, "mg.cm-2") == canonical(12.3, "mg/cm**2")
    magnitude, dimension = canonical(25, "degC")
    assert magnitude == pytest.approx(298.15)
    assert dimension == "[temperature]"


def test_unknown_units_raise_and_are_explained_with_a_suggestion() -> None:
    """parse_unit says why, cheaply (plan calls it on live data); unit_problem, for the user,
    also says what to write."""
    with pytest.raises(UnitError, match=r"^unknown unit 'Ahh'$"):
        dimension_of("Ahh")
    assert unit_problem("Ahh") == "unknown unit 'Ahh' (did you mean 'Ah'?)"
    assert unit_problem("mg/cmm**2") == "unknown unit 'mg/cmm**2' (did you mean 'mg/cm**2'?)"
    assert unit_problem("mAhr") == "unknown unit 'mAhr'; write the units apart: 'mA.hr' or 'mA*h'"
    assert unit_problem("qqqqqq") == "unknown unit 'qqqqqq'"
    with pytest.raises(UnitError, match=r"^cannot read unit 'kg/'; write e.g. 'mA\*h/g'"):
        dimension_of("kg/")


@pytest.mark.parametrize("text", ["", "   ", "kg/", "**", "m**m", "m-", "(", "km**999", "x" * 101])
def test_unreadable_units_raise_unit_error(text: str) -> None:
    with pytest.raises(UnitError):
        dimension_of(text)


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


def test_quantities_equal_falls_back_to_exact_comparison_for_unknown_units() -> None:
    odd = {"value": 3, "unit": "widgets/fortnight"}
    assert same(odd, {"value": 3, "unit": "widgets/fortnight"})
    assert not same(odd, {"value": 3.0000001, "unit": "widgets/fortnight"})
    assert not same(odd, {"value": 3, "unit": "A*h"})


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
    same(a, b)  # type: ignore[arg-type]


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
    assert describe_dimension(dimension_of("mV")) == "a voltage"
    assert describe_dimension(dimension_of("W.h.kg-1")) == "an energy per mass"
    assert describe_dimension(dimension_of("mol/L")) == "a concentration (amount per volume)"


def test_fractions_by_kind_are_their_own_quantities() -> None:
    """5 wt% and 5 vol% (or a plain 5 %) say different things: never equal, never converted."""
    assert same({"value": 5, "unit": "wt%"}, {"value": 5, "unit": "wt%"})
    for other in ("percent", "%", "vol%", "mol%", "at%", "dimensionless"):
        assert not same({"value": 5, "unit": "wt%"}, {"value": 5, "unit": other})
    assert describe_dimension(dimension_of("wt%")) == "a mass fraction (wt%)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mA*h/g-1",
            "unit 'mA*h/g-1' mixes '/' with a negative exponent: '/g-1' would mean times g; "
            "write 'mA*h/g' or 'mA.h.g-1'",
        ),
        (
            "mg/cm-2",
            "unit 'mg/cm-2' mixes '/' with a negative exponent: '/cm-2' would mean times cm; "
            "write 'mg/cm**2' or 'mg.cm-2'",
        ),
        (
            "(mA*h)/g-1",
            "unit '(mA*h)/g-1' mixes '/' with a negative exponent: '/g-1' would mean times g; "
            "write '/' alone (mA*h/g) or dot exponents alone (mA.h.g-1)",
        ),
    ],
)
def test_slash_with_a_negative_exponent_is_refused(text: str, message: str) -> None:
    """pint reads '/g-1' as times g: a physically wrong unit that used to pass."""
    with pytest.raises(UnitError) as caught:
        dimension_of(text)
    assert str(caught.value) == message
    assert unit_problem(text) == message


@pytest.mark.parametrize(
    ("text", "apart", "slash"),
    [
        ("mAhg-1", "mA.h.g-1", "mA*h/g"),
        ("Whkg-1", "W.h.kg-1", "W*h/kg"),
        ("mAhcm-2", "mA.h.cm-2", "mA*h/cm**2"),
        ("mgcm-2", "mg.cm-2", "mg/cm**2"),
    ],
)
def test_glued_units_are_told_apart_as_meant(text: str, apart: str, slash: str) -> None:
    message = unit_problem(text)
    assert message == f"unknown unit {text!r}; write the units apart: {apart!r} or {slash!r}"
    assert dimension_of(apart) == dimension_of(slash)
    assert same({"value": 1, "unit": apart}, {"value": 1, "unit": slash})


def test_suggestions_must_mean_what_the_field_needs() -> None:
    assert unit_problem("grm") == "unknown unit 'grm' (did you mean 'gram'?)"
    assert unit_problem("grm", "um") == "unknown unit 'grm'; a length is written e.g. 'um'"
    assert unit_problem("Volt", "V") == "unknown unit 'Volt' (did you mean 'volt'?)"
    assert unit_problem("", "um") == "empty unit; write e.g. 'um'"
    assert unit_problem("kg/", "mg/cm**2") == "cannot read unit 'kg/'; write e.g. 'mg/cm**2'"
    assert unit_problem("A*h", "V") is None  # a wrong dimension is the caller's message


@pytest.mark.parametrize(
    ("unit", "words"),
    [
        ("W", "a power"),
        ("mA", "a current"),
        ("A*h", "a charge"),
        ("W*h", "an energy"),
        ("mA*h/g", "a specific capacity (charge per mass)"),
        ("mg/cm**2", "an areal loading (mass per area)"),
        ("g/cm**3", "a density (mass per volume)"),
        ("mS/cm", "a conductivity"),
        ("mohm", "a resistance"),
        ("mA*h/cm**2", "an areal capacity (charge per area)"),
        ("mA/cm**2", "a current density (current per area)"),
        ("mol/L", "a concentration (amount per volume)"),
        ("ohm*cm**2", "an areal resistance"),
        ("W/kg", "a power per mass"),
        ("kg*m", "a quantity in m*kg"),
        ("mV/s**3", "a quantity in m**2*kg/A/s**6"),
    ],
)
def test_dimensions_are_named_in_words(unit: str, words: str) -> None:
    assert describe_dimension(dimension_of(unit)) == words
    assert "[" not in words


SPELLINGS = [spelling for pair in EQUIVALENT for spelling in pair[:2]]


@pytest.mark.parametrize("spelling", sorted(set(SPELLINGS)))
def test_canonical_spelling_means_the_same_and_is_stable(spelling: str) -> None:
    canonical_one = canonical_spelling(spelling)
    assert same({"value": 3, "unit": spelling}, {"value": 3, "unit": canonical_one})
    assert canonical_spelling(canonical_one) == canonical_one
    assert "." not in canonical_one and "µ" not in canonical_one


def test_canonical_spelling_examples() -> None:
    assert canonical_spelling("mA.h.g-1") == "mA*h/g"
    assert canonical_spelling("mAh/g") == "mA*h/g"
    assert canonical_spelling("mg.cm-2") == "mg/cm**2"
    assert canonical_spelling("%") == "percent"
    assert canonical_spelling("µm") == "um"
    assert canonical_spelling("mOhm") == "mohm"
    assert canonical_spelling("C") == "C"
    assert canonical_spelling("coulomb") == "coulomb"
    assert canonical_spelling("widgets") == "widgets"  # unreadable: left as written
