"""Property tests: any input gives a clean result or our own error, never a traceback."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.compare import same
from reconciler.errors import ManifestError
from reconciler.manifests import load_manifests
from reconciler.schema import CellSpecManifest, check_spec
from reconciler.units import UnitError, canonical, dimension_of

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = [*CellSpecManifest.model_fields, "value", "unit", "project_id", "capacity", "definition"]
UNITS = ["A*h", "mA.h", "V", "mV", "W*h", "C", "mg/cm**2", "percent", "um", "zz", "", "mC"]
YAML_BITS = [
    "name: ",
    "ratings:",
    "\n",
    "  ",
    "\t",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    ": ",
    "&a ",
    "*a",
]
YAML_BITS += ["<<: ", "---\n", "!!int ", "'", '"', "#", "value: ", "unit: ", "1e400", ".nan", "é"]


@contextmanager
def manifests_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fuzz-manifests-"))
    try:
        yield root
    finally:
        shutil.rmtree(root)


def load_or_explain(content: bytes) -> None:
    """Load one file; only success or a ManifestError may come out."""
    with manifests_dir() as root:
        (root / "fuzz.yaml").write_bytes(content)
        try:
            loaded = load_manifests(root)
        except ManifestError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.location.path.endswith("fuzz.yaml")
                assert problem.message
        else:
            json.dumps([spec.body for spec in loaded.specs])  # bodies are plain JSON values


@FAST
@given(st.binary(max_size=300))
def test_random_bytes(content: bytes) -> None:
    load_or_explain(content)


@FAST
@given(st.text(max_size=300))
def test_random_text(content: str) -> None:
    load_or_explain(content.encode("utf-8", errors="surrogatepass"))


@FAST
@given(st.lists(st.sampled_from(YAML_BITS + FIELDS), max_size=60))
def test_yaml_like_text(bits: list[str]) -> None:
    load_or_explain("".join(bits).encode("utf-8"))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(UNITS),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=25,
)


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8))
def test_random_documents_through_the_schema(document: dict[str, Any]) -> None:
    for issue in check_spec(document):
        assert isinstance(issue.message, str) and issue.message


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8))
def test_random_documents_through_the_loader(document: dict[str, Any]) -> None:
    # JSON is YAML; NaN and Infinity become text there, which is fine.
    load_or_explain(json.dumps(document).encode("utf-8"))


SPELLINGS = [
    ("A*h", "mA.h", 1000.0),
    ("mg/cm**2", "mg.cm-2", 1.0),
    ("mA*h/g", "mA.h.g-1", 1.0),
    ("mol/L", "mol.L-1", 1.0),
    ("W*h", "mW.h", 1000.0),
    ("V", "mV", 1000.0),
    ("percent", "dimensionless", 0.01),
    ("C", "1/h", 1.0),
]


@FAST
@given(
    st.sampled_from(SPELLINGS),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).filter(lambda v: abs(v) > 1e-9),
)
def test_equal_quantities_in_different_spellings(
    spelling: tuple[str, str, float], value: float
) -> None:
    first, second, factor = spelling
    a = {"value": value, "unit": first}
    b = {"value": value * factor, "unit": second}
    assert same(a, b)
    assert same(b, a)
    assert not same(a, {"value": value * factor * 1.001, "unit": second})
    assert canonical(value, first)[1] == canonical(value * factor, second)[1]


@FAST
@given(st.sampled_from(UNITS[:9]), st.floats(allow_nan=False, allow_infinity=False))
def test_canonical_is_stable(unit: str, value: float) -> None:
    assert canonical(value, unit) == canonical(value, unit)
    magnitude, _ = canonical(value, unit)
    assert math.isfinite(magnitude) or abs(value) > 1e300


@FAST
@given(st.text(max_size=20))
def test_unit_parsing_only_raises_unit_error(text: str) -> None:
    try:
        dimension_of(text)
    except UnitError as exc:
        assert str(exc)


@FAST
@given(documents, documents)
def test_quantities_equal_never_raises(a: Any, b: Any) -> None:
    assert same(a, b) in (True, False)


HUGE_NUMBERS = [
    "9" * 4301,  # Python refuses to read more than 4300 digits without help
    "-" + "9" * 10_000,
    "1" + "0" * 309,  # just past a 64-bit float
    "1_000_" * 60 + "1",
    "0x" + "f" * 300,
    "0o" + "7" * 400,
    "0b" + "1" * 1100,
    "1" + "0" * 5000 + ".0",
    "1e999999999999",
    "-1e400",
    "1e-400",
]
HUGE_PLACES = [
    "name: {n}\n",
    "name: A\nratings:\n  capacity: {{value: {n}, unit: A*h}}\n"
    "  voltage_min: {{value: 2.5, unit: V}}\n  voltage_max: {{value: 4.2, unit: V}}\n",
    "name: A\nproperties:\n  count: {n}\n",
    "name: A\nproperties:\n  mass: {{value: {n}, unit: g}}\n",
    "name: A\nproperties:\n  list: [1, {n}]\n",
    "name: A\nproperties:\n  {n}: key\n",
    "name: A\nproperties:\n  x: {{value: !!int {n}, unit: g}}\n",
    "name: A\nproperties:\n  x: {{value: !!float {n}, unit: g}}\n",
    "name: A\nnotes: !!str {n}\n",
]


def test_huge_numbers_anywhere_are_explained_not_crashes() -> None:
    """Each number in each place: loaded, or refused with our own file:line:col problems."""
    for number in HUGE_NUMBERS:
        for place in HUGE_PLACES:
            load_or_explain(place.format(n=number).encode("utf-8"))


@FAST
@given(st.integers(min_value=300, max_value=6000), st.sampled_from(HUGE_PLACES))
def test_integers_of_any_length_are_explained(digits: int, place: str) -> None:
    load_or_explain(place.format(n="7" * digits).encode("utf-8"))


def test_a_huge_integer_in_the_config_is_a_problem_not_a_crash(run_cli: Any) -> None:
    with manifests_dir() as root:
        (root / "ionworks-apply.yaml").write_text(f"max_deletes: {'9' * 4301}\n")
        result = run_cli("validate", str(root))
    assert result.code == 1
    assert "ionworks-apply.yaml:1:14: number too large (4301 digits)" in result.err
    assert "Internal error" not in result.output
