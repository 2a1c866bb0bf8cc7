"""The JSON Schema editors use (yaml-language-server): completion, field help, bare numbers
flagged, for both kinds of manifest document (cell specifications and material entries).

Derived from the pydantic models of ``reconciler.schema``, never written by hand; the committed
``manifests/cellspec.schema.json`` is this output (a test checks it is current).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from reconciler.schema import FREE_FORM_MARK, CellSpecManifest, MaterialManifest

_PROPERTY_VALUE = {
    "description": "A Quantity, text, true/false, null, a list or a nested mapping; never a "
    "bare number.",
    "anyOf": [
        {"$ref": "#/$defs/Quantity"},
        {"type": "string"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/$defs/PropertyValue"}},
        {"type": "object", "additionalProperties": {"$ref": "#/$defs/PropertyValue"}},
    ],
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one manifest document: a material with ``kind: material``, else a
    cell specification."""
    _, models = models_json_schema(
        [(CellSpecManifest, "validation"), (MaterialManifest, "validation")],
        ref_template="#/$defs/{model}",
    )
    definitions: dict[str, Any] = _with_free_form(models["$defs"])
    definitions["PropertyValue"] = _PROPERTY_VALUE
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Ionworks manifest document",
        "description": (
            "One Ionworks cell specification per YAML document, or a shared material "
            "(`kind: material`); ionworks-apply sends every field but `kind` and `lifecycle` "
            "to the API."
        ),
        "if": {"properties": {"kind": {"const": "material"}}, "required": ["kind"]},
        "then": {"$ref": "#/$defs/MaterialManifest"},
        "else": {"$ref": "#/$defs/CellSpecManifest"},
        "$defs": definitions,
    }


def _with_free_form(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(FREE_FORM_MARK):
            return {"type": "object", "additionalProperties": {"$ref": "#/$defs/PropertyValue"}}
        return {key: _with_free_form(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_free_form(item) for item in node]
    return node
