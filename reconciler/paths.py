"""Dotted paths into plain JSON data: split, read, write and remove, and show them.

Ignored fields, the ownership marker and field-level differences all address values inside a
spec by path; manifests problems show them as ``ratings.capacity.unit`` or ``names[0]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def split_path(path: str) -> tuple[str, ...]:
    """``"properties.last_calibrated"`` -> ``("properties", "last_calibrated")``."""
    return tuple(part for part in path.split(".") if part)


def path_text(path: Sequence[str | int]) -> str:
    """``ratings.capacity.unit`` / ``lifecycle.previous_names[0]``: a path as people read it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def without_paths(body: Mapping[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``body`` with the dotted paths removed (ignored fields, the marker)."""
    result: dict[str, Any] = copy_tree(body)
    for path in paths:
        _remove(result, path)
    return result


def copy_tree(value: Any) -> Any:
    """A deep copy of plain JSON data (mappings and lists copied, leaves shared)."""
    if isinstance(value, Mapping):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def _remove(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = tree
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def get_path(tree: Any, path: Sequence[str | int]) -> Any:
    """The value at a path (keys, or indexes into lists), ``None`` when any step is missing."""
    node = tree
    for part in path:
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a value at a path, creating (or replacing non-dict) parents."""
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value
