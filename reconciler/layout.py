"""The canonical layout of a manifest: which keys come first, and Quantities on one line.

``fmt`` rewrites existing files into this layout and ``export`` can write new files in it, so the
two always agree: top-level keys in the order of the create body, ``ratings`` in their natural
order, every other schema mapping (``source``, a component, its ``material``, ``lifecycle``) in
the order the schema declares, free-form mappings (``properties``, ``definition``) as the author
wrote them, and every Quantity in flow style, ``{value: 5, unit: A*h}``. Block mappings indent
by two spaces and list items sit two spaces in (``  - item``).

The orders come from the pydantic models, so a field added to the schema has its place here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.schema import CellSpecManifest, Quantity, Ratings, model_at
from reconciler.units import is_quantity

#: name, form_factor, manufacturer, ratings, properties, source, anode ... notes, lifecycle.
TOP_LEVEL_ORDER: tuple[str, ...] = tuple(CellSpecManifest.model_fields)
#: capacity, voltage_min, voltage_max, nominal_voltage, energy, ... max_discharge_rate.
RATINGS_ORDER: tuple[str, ...] = tuple(Ratings.model_fields)
QUANTITY_ORDER: tuple[str, ...] = tuple(Quantity.model_fields)
#: YAML merge keys (``<<: *base``) stay first: they read as "start from this".
MERGE_KEY = "<<"
INDENT = 2

K = TypeVar("K")


def key_order(path: Sequence[str | int], keys: Iterable[str] = ()) -> tuple[str, ...] | None:
    """The canonical key order of the mapping at ``path`` (list indexes ignored) that has
    ``keys``, or None where the author's order is kept (free-form ``properties`` and
    ``definition``, except that a Quantity there is still value then unit)."""
    model = model_at(CellSpecManifest, tuple(path))
    if model is not None:
        return tuple(model.model_fields)
    return QUANTITY_ORDER if is_quantity_keys(keys) else None


def ordered(keys: Iterable[K], order: Sequence[str] | None, name: Any = None) -> list[K]:
    """``keys`` in canonical order: a merge key, the known keys by ``order``, then the others
    as written. ``name(key)`` gives a key's text when keys are not strings."""
    listed = list(keys)
    if order is None:
        return listed
    text = name or str
    rank = {key: index for index, key in enumerate(order)}
    return sorted(
        listed,
        key=lambda k: (text(k) != MERGE_KEY, text(k) not in rank, rank.get(text(k), 0)),
    )


def is_quantity_keys(keys: Iterable[str]) -> bool:
    """A mapping with exactly the keys of a Quantity (``value`` and ``unit``)."""
    listed = list(keys)
    return len(listed) == len(QUANTITY_ORDER) and set(listed) == set(QUANTITY_ORDER)


def flow_quantity(value: str, unit: str) -> str:
    """``{value: 5, unit: A*h}`` from the two scalars as they are written."""
    return f"{{value: {value}, unit: {unit}}}"


def document_nodes(body: Mapping[str, Any]) -> CommentedMap:
    """ruamel nodes of a spec body in the canonical layout, ready for ``dump``."""
    return _nodes(body, ())  # type: ignore[no-any-return]


def _nodes(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        if is_quantity(value):
            flow = CommentedMap((key, value[key]) for key in QUANTITY_ORDER)
            flow.fa.set_flow_style()
            return flow
        keys = ordered(value, key_order(path))
        return CommentedMap((key, _nodes(value[key], (*path, str(key)))) for key in keys)
    if isinstance(value, list):
        return CommentedSeq(_nodes(item, path) for item in value)
    return value


def dump(nodes: Any) -> str:
    """YAML text in the canonical layout (what ``fmt`` leaves unchanged)."""
    yaml = YAML()
    yaml.width = 4096  # never fold a long line: a folded string reads differently in a diff
    yaml.indent(mapping=INDENT, sequence=2 * INDENT, offset=INDENT)
    stream = io.StringIO()
    yaml.dump(nodes, stream)
    return stream.getvalue()


__all__ = [
    "INDENT",
    "MERGE_KEY",
    "QUANTITY_ORDER",
    "RATINGS_ORDER",
    "TOP_LEVEL_ORDER",
    "document_nodes",
    "dump",
    "flow_quantity",
    "is_quantity_keys",
    "key_order",
    "ordered",
]
