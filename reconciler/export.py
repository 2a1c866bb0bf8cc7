"""Live specs -> manifests, so a team can start from what already lives in Ionworks.

One file per spec, a safe and stable file name, fields in the create body's order and nested keys
sorted, Quantities in flow style (``{value: 5, unit: A*h}``), server fields and the ownership
marker removed. What is written plans back to "no changes" (tested round trip).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler import normalise, units
from reconciler.config import CONFIG_FILENAME
from reconciler.errors import UsageError
from reconciler.ownership import MARKER_PATH, marker_of
from reconciler.paths import without_paths

SCHEMA_LINE = "# yaml-language-server: $schema=./cellspec.schema.json\n"
MAX_STEM = 80
#: File stems a spec can never be exported to: the project config lives there.
RESERVED_STEMS = frozenset({Path(CONFIG_FILENAME).stem})


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    name: str


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


def manifest_text(record: Mapping[str, Any]) -> str:
    """The YAML manifest of one live spec."""
    body = without_paths(normalise.live_body(record), [MARKER_PATH])
    if body.get("properties") == {}:
        del body["properties"]
    document = CommentedMap((key, _yaml_value(body[key])) for key in body)
    stream = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(document, stream)
    return SCHEMA_LINE + stream.getvalue()


def _yaml_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        if units.is_quantity(value):
            flow = CommentedMap([("value", value["value"]), ("unit", value["unit"])])
            flow.fa.set_flow_style()
            return flow
        return CommentedMap((k, _yaml_value(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return CommentedSeq(_yaml_value(v) for v in value)
    return value


def file_stem(name: str) -> str:
    """A portable file name for a spec name: ASCII, lower case, dashes, bounded length."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_STEM].strip("-")
    if stem in RESERVED_STEMS:
        return f"{stem}-spec"
    return stem or "spec"


def plan_files(records: Sequence[Mapping[str, Any]], out_dir: Path) -> list[ExportedFile]:
    """File names for the specs, stable and distinct (a numeric suffix on collisions)."""
    used: set[str] = set()
    files = []
    for record in records:
        stem = file_stem(str(record["name"]))
        candidate, n = stem, 2
        while candidate in used:
            candidate, n = f"{stem}-{n}", n + 1
        used.add(candidate)
        files.append(ExportedFile(out_dir / f"{candidate}.yaml", str(record["name"])))
    return files


def write_export(
    records: Sequence[Mapping[str, Any]], out_dir: Path, *, force: bool
) -> list[ExportedFile]:
    """Write every manifest, refusing to overwrite anything unless ``force`` (checked first)."""
    files = plan_files(records, out_dir)
    existing = [f.path for f in files if f.path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise UsageError(f"refusing to overwrite {shown}{more}; pass --force to replace them")
    out_dir.mkdir(parents=True, exist_ok=True)
    for exported, record in zip(files, records, strict=True):
        exported.path.write_text(manifest_text(record), encoding="utf-8")
    return files
