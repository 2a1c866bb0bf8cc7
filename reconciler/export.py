"""Live specs -> manifests, so a team can start from what already lives in Ionworks.

One file per spec and one catalog document per shared material (``materials/``), in the
canonical layout of ``reconciler.layout`` (what ``fmt`` leaves as it is), server fields, empty
objects and the ownership marker removed; components name their material, whose definition is
written once, in the catalog. Every document written passes ``validate``: a live spec the
manifests cannot express (one a colleague made outside our schema: inverted ratings, an unknown
unit, a key the API takes and manifests do not) is not written but reported with its name and
why, and a material whose live rows disagree is named without a definition (so Ionworks keeps
each as it is) and reported. What is written plans back to "no changes" (tested round trip).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from reconciler import layout, normalise
from reconciler.catalog import MaterialKey, material_key
from reconciler.compare import same
from reconciler.config import CONFIG_FILENAME
from reconciler.errors import UsageError
from reconciler.ownership import MARKER_PATH, marker_of
from reconciler.paths import path_text, without_paths
from reconciler.plan import material_title
from reconciler.schema import check_material, check_spec

SCHEMA_FILE = "cellspec.schema.json"
SCHEMA_LINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}\n"
MATERIAL_SCHEMA_LINE = f"# yaml-language-server: $schema=../{SCHEMA_FILE}\n"
MATERIALS_DIR = "materials"
MAX_STEM = 80
#: File stems a spec can never be exported to: the project config lives there.
RESERVED_STEMS = frozenset({Path(CONFIG_FILENAME).stem})


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    name: str
    text: str


@dataclass
class Export:
    """What an export writes, and what it could not express (spec name or material, why)."""

    files: list[ExportedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def select(
    records: Sequence[Mapping[str, Any]], *, marker: str, pattern: str, include_unmanaged: bool
) -> list[Mapping[str, Any]]:
    """Specs to export: ours (and, on request, unmarked ones) whose name matches the glob."""
    chosen = []
    for record in records:
        owner = marker_of(record)
        if owner != marker and not (include_unmanaged and owner is None):
            continue
        if fnmatchcase(str(record["name"]), pattern):
            chosen.append(record)
    return sorted(chosen, key=lambda r: str(r["name"]))


def manifest_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """A live spec as a manifest declares it: no server fields, marker, nulls or empty objects."""
    body = without_paths(normalise.live_body(record), [MARKER_PATH])
    return {key: value for key, value in _pruned(body).items() if value is not None}


def manifest_text(record: Mapping[str, Any]) -> str:
    """The YAML manifest of one live spec, materials inline: a self-contained document (what
    the apply report keeps of a deleted spec, to re-create it)."""
    return SCHEMA_LINE + layout.dump(layout.document_nodes(manifest_body(record)))


def build_export(records: Sequence[Mapping[str, Any]], out_dir: Path) -> Export:
    """Every document to write for ``records`` under ``out_dir`` (nothing is written here)."""
    export = Export()
    uses: Uses = {}
    bodies: list[tuple[str, dict[str, Any]]] = []
    for record in records:
        name = str(record["name"])
        body = _with_references(manifest_body(record), name, uses)
        problem = _first_problem(check_spec(body))
        if problem:
            export.skipped.append((name, problem))
            continue
        bodies.append((name, body))
    used = {material_key(m) for _, body in bodies for m in _materials(body)}
    for key in sorted(used, key=lambda k: (k[0], k[1] or "")):
        document = _catalog_document(key, uses.get(key, []), export)
        if document is not None:
            stem = file_stem(" ".join(part for part in key if part))
            export.files.append(
                ExportedFile(
                    out_dir / MATERIALS_DIR / f"{stem}.yaml",
                    material_title(key),
                    MATERIAL_SCHEMA_LINE + layout.dump(layout.document_nodes(document)),
                )
            )
    names = [name for name, _ in bodies]
    for (name, body), stem in zip(bodies, file_stems(names), strict=True):
        text = SCHEMA_LINE + layout.dump(layout.document_nodes(body))
        export.files.append(ExportedFile(out_dir / f"{stem}.yaml", name, text))
    return export


Uses = dict[MaterialKey, list[tuple[str, Mapping[str, Any]]]]


def _with_references(body: dict[str, Any], spec: str, uses: Uses) -> dict[str, Any]:
    """``body`` with each component naming its material only; its state noted in ``uses``."""
    result = dict(body)
    for slot in normalise.COMPONENT_SLOTS:
        component = body.get(slot)
        material = component.get("material") if isinstance(component, Mapping) else None
        if not isinstance(material, Mapping) or not isinstance(material.get("name"), str):
            continue
        key = material_key(material)
        uses.setdefault(key, []).append((spec, material))
        name, manufacturer = key
        reference = {"name": name} | ({"manufacturer": manufacturer} if manufacturer else {})
        result[slot] = {**component, "material": reference}  # type: ignore[dict-item]
    return result


def _materials(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = []
    for slot in normalise.COMPONENT_SLOTS:
        component = body.get(slot)
        if isinstance(component, Mapping) and isinstance(component.get("material"), Mapping):
            found.append(component["material"])
    return found


def _catalog_document(
    key: MaterialKey, uses: Sequence[tuple[str, Mapping[str, Any]]], export: Export
) -> dict[str, Any] | None:
    """The catalog entry of one material, or None when its live rows say nothing we can write
    (no definition or product id, or rows that disagree: then Ionworks keeps each)."""
    shared: dict[str, Any] = {}
    for part in ("definition", "product_id"):
        values = [(spec, m.get(part)) for spec, m in uses if m.get(part) is not None]
        if not values:
            continue
        first_spec, first = values[0]
        others = [spec for spec, value in values if not same(value, first)]
        if others:
            export.notes.append(
                f"material {material_title(key)} has different {part}s in Ionworks ({first_spec} "
                f"and {', '.join(others)}): exported without one, so apply keeps each as it is"
            )
            continue
        shared[part] = first
    if not shared:
        return None
    name, manufacturer = key
    identity = {"name": name} | ({"manufacturer": manufacturer} if manufacturer else {})
    document = {"kind": "material", **identity, **shared}
    problem = _first_problem(check_material(document))
    if problem:
        export.notes.append(
            f"material {material_title(key)} is not written to the catalog ({problem}): apply "
            "keeps it as it is"
        )
        return None
    return document


def _first_problem(issues: Sequence[Any]) -> str:
    errors = [issue for issue in issues if issue.severity == "error"]
    if not errors:
        return ""
    first = errors[0]
    where = path_text(first.path)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where + ': ' if where else ''}{first.message}{more}"


def _pruned(value: Any) -> Any:
    """``value`` without nulls and empty objects at any depth (they mean "absent" to plan)."""
    if isinstance(value, Mapping):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def file_stem(name: str) -> str:
    """A portable file name for a spec name: ASCII, lower case, dashes, bounded length."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_STEM].strip("-")
    if stem in RESERVED_STEMS:
        return f"{stem}-spec"
    return stem or "spec"


def file_stems(names: Sequence[str]) -> list[str]:
    """Stable, distinct stems for the names (a numeric suffix on collisions)."""
    used: set[str] = set()
    stems = []
    for name in names:
        stem = file_stem(name)
        candidate, n = stem, 2
        while candidate in used:
            candidate, n = f"{stem}-{n}", n + 1
        used.add(candidate)
        stems.append(candidate)
    return stems


def write_export(
    export: Export,
    out_dir: Path,
    *,
    force: bool,
    extra: Mapping[str, str],
    mask: Callable[[str], str] = str,
) -> None:
    """Write every document (and ``extra`` files, e.g. the config, only where missing),
    refusing to overwrite any manifest unless ``force``; checked before the first write.
    ``mask`` is the CLI's secret mask (a server may echo a credential in a live value)."""
    existing = [f.path for f in export.files if f.path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise UsageError(f"refusing to overwrite {shown}{more}; pass --force to replace them")
    out_dir.mkdir(parents=True, exist_ok=True)
    for exported in export.files:
        exported.path.parent.mkdir(parents=True, exist_ok=True)
        exported.path.write_text(mask(exported.text), encoding="utf-8")
    for name, text in extra.items():
        path = out_dir / name
        if not path.exists():
            path.write_text(mask(text), encoding="utf-8")
