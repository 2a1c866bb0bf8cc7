"""Find and load the manifests of a directory: every YAML document is one cell specification.

``load_manifests`` reads the project config and every ``*.yaml`` / ``*.yml`` file below the root
(hidden files and folders skipped, symlinks never followed outside the root), validates each
document, checks names across files, and either returns a ``ManifestSet`` or raises one
``ManifestError`` listing every problem as ``path:line:col: message``.

Errors: anything that would send a wrong or ambiguous body. Warnings: an empty file, an empty
document between ``---`` lines, an empty config, a directory without manifests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config import CONFIG_FILENAME, ProjectConfig, read_config
from reconciler.errors import Location, ManifestError, Problem
from reconciler.schema import Issue, check_spec
from reconciler.yaml_source import YamlDocument, YamlFile, parse_documents
from reconciler.yaml_text import display_path, read_text

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Lifecycle:
    """Reconciler-only settings of one spec (``lifecycle:``); never sent to the API."""

    previous_names: tuple[str, ...] = ()
    ignore_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpecDocument:
    """One validated spec: the body sent to the API and where each part was declared."""

    location: Location
    body: dict[str, Any]
    lifecycle: Lifecycle
    field_locations: Mapping[str, Location]

    @property
    def name(self) -> str:
        return str(self.body["name"])


@dataclass(frozen=True)
class ManifestSet:
    """Everything a manifests directory declares, loaded without errors."""

    roots: tuple[Path, ...]
    config: ProjectConfig
    specs: tuple[SpecDocument, ...]
    warnings: tuple[Problem, ...]


def find_manifest_files(root: Path) -> list[Path]:
    """The manifest files under ``root`` in load order; raises ManifestError for bad links."""
    files, problems = _scan(root)
    if any(problem.severity == "error" for problem in problems):
        raise ManifestError(problems)
    return files


def load_manifests(root: Path) -> ManifestSet:
    """Load and validate the config and every spec under ``root``; see the module docstring."""
    config, problems = read_config(root)
    files, scan_problems = _scan(root)
    problems.extend(scan_problems)
    loader = _Loader()
    for path in files:
        loader.load_file(path)
    problems.extend(loader.problems)
    problems.extend(loader.cross_file_problems())
    if not files and not any(p.severity == "error" for p in scan_problems):
        message = f"no {' or '.join('*' + s for s in MANIFEST_SUFFIXES)} manifests found"
        problems.append(Problem(Location(display_path(root)), message, "warning"))
    if config is None or any(problem.severity == "error" for problem in problems):
        raise ManifestError(problems)
    return ManifestSet(
        roots=(root,),
        config=config,
        specs=tuple(loader.specs),
        warnings=tuple(sorted(problems)),
    )


def _scan(root: Path) -> tuple[list[Path], list[Problem]]:
    """Manifest files below ``root``, sorted by relative path, and problems with links."""
    shown = display_path(root)
    if not root.is_dir():
        if root.exists():
            message = "not a directory: give the folder that holds the manifests"
        else:
            message = "no such manifests directory"
        return [], [Problem(Location(shown), message)]
    real_root = os.path.realpath(root)
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    seen_real: set[str] = set()
    pending = [root]
    while pending:
        directory = pending.pop()
        seen_real.add(os.path.realpath(directory))
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            message = f"cannot list directory: {exc.strerror or exc}"
            problems.append(Problem(Location(display_path(directory)), message))
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            is_yaml = entry.name.lower().endswith(MANIFEST_SUFFIXES)
            if directory == root and entry.name == CONFIG_FILENAME:
                continue
            if directory == root and entry.name == "ionworks-apply.yml":
                message = f"rename the config to {CONFIG_FILENAME} (it is read only by that name)"
                problems.append(Problem(Location(display_path(path), 1, 1), message))
                continue
            real = os.path.realpath(path)
            if entry.is_symlink():
                if not os.path.exists(real):
                    if is_yaml:
                        where = Location(display_path(path), 1, 1)
                        problems.append(Problem(where, "broken symlink"))
                    continue
                inside = os.path.commonpath([real, real_root]) == real_root
                if not inside and (is_yaml or os.path.isdir(real)):
                    message = f"symlink points outside the manifests directory (to {real})"
                    problems.append(Problem(Location(display_path(path), 1, 1), message))
                    continue
            if os.path.isdir(real):
                if real not in seen_real:
                    seen_real.add(real)
                    pending.append(path)
            elif is_yaml and os.path.isfile(real):
                found.setdefault(real, path)
    files = sorted(found.values(), key=lambda p: p.relative_to(root).as_posix())
    return files, problems


@dataclass
class _Loader:
    """Loads files one by one; keeps what the cross-file checks need."""

    specs: list[SpecDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    origins: list[tuple[Path, int]] = field(default_factory=list)  # per spec: file, doc index
    full_reads: dict[Path, YamlFile | None] = field(default_factory=dict)

    def load_file(self, path: Path) -> None:
        shown = display_path(path)
        text, problems = read_text(path, shown)
        self.problems.extend(problems)
        if text is None:
            return
        parsed = parse_documents(text, shown)
        if not parsed.documents and not parsed.problems:
            message = "empty file: no YAML documents"
            self.problems.append(Problem(Location(shown, 1, 1), message, "warning"))
            return
        checked = [(doc, _check_document(doc)) for doc in parsed.documents]
        if not parsed.problems and any(issues for _, issues in checked):
            full = parse_documents(text, shown, full_positions=True)
            checked = [
                (doc, issues) for doc, (_, issues) in zip(full.documents, checked, strict=True)
            ]
        self.problems.extend(parsed.problems)
        for doc, issues in checked:
            self.problems.extend(_problem(doc, issue) for issue in issues)
            if isinstance(doc.value, dict) and isinstance(doc.value.get("name"), str):
                self.specs.append(_spec_document(doc))
                self.origins.append((path, doc.index))

    def cross_file_problems(self) -> list[Problem]:
        """Duplicate names, and previous_names that name another live manifest."""
        problems: list[Problem] = []
        by_name: dict[str, SpecDocument] = {}
        for spec in self.specs:
            first = by_name.setdefault(spec.name, spec)
            if first is not spec:
                where = spec.field_locations["name"]
                message = f"duplicate spec name {spec.name!r} (also defined at {first.location})"
                problems.append(Problem(where, message))
        claimed: dict[str, tuple[int, int]] = {}  # previous name -> spec number, list index
        for number, spec in enumerate(self.specs):
            for index, old in enumerate(spec.lifecycle.previous_names):
                if old in by_name and by_name[old] is not spec:
                    other = by_name[old].location
                    message = f"previous name {old!r} is the name of the spec at {other}"
                    problems.append(Problem(self._locate(number, index), message))
                elif old in claimed and claimed[old][0] != number:
                    message = (
                        f"previous name {old!r} is also claimed at {self._locate(*claimed[old])}"
                    )
                    problems.append(Problem(self._locate(number, index), message))
                else:
                    claimed.setdefault(old, (number, index))
        return problems

    def _locate(self, number: int, index: int) -> Location:
        """Where previous name ``index`` of spec ``number`` is; re-reads its file for that."""
        file_path, document = self.origins[number]
        if file_path not in self.full_reads:
            shown = display_path(file_path)
            text, _ = read_text(file_path, shown)
            self.full_reads[file_path] = (
                parse_documents(text, shown, full_positions=True) if text is not None else None
            )
        parsed = self.full_reads[file_path]
        if parsed is None or document >= len(parsed.documents):
            return self.specs[number].location
        return parsed.documents[document].location(("lifecycle", "previous_names", index))


def _check_document(doc: YamlDocument) -> list[Issue]:
    """The document's issues, by path; located once the file's positions are known."""
    if doc.value is None:
        return (
            [] if doc.broken else [Issue((), "empty document: nothing to load", False, "warning")]
        )
    if not isinstance(doc.value, dict):
        got = "a list" if isinstance(doc.value, list) else f"a single value ({doc.value!r})"
        return [
            Issue((), f"a spec document must be a mapping (name: ..., ratings: ...), got {got}")
        ]
    return check_spec(doc.value)


def _problem(doc: YamlDocument, issue: Issue) -> Problem:
    return Problem(doc.location(issue.path, key=issue.at_key), issue.message, issue.severity)


def _spec_document(doc: YamlDocument) -> SpecDocument:
    value: dict[str, Any] = doc.value
    locations = {key: doc.location((key,), key=True) for key in value}
    lifecycle = value.get("lifecycle")
    settings = lifecycle if isinstance(lifecycle, dict) else {}
    return SpecDocument(
        location=locations.get("name", doc.location()),
        body={key: item for key, item in value.items() if key != "lifecycle"},
        lifecycle=Lifecycle(
            previous_names=_strings(settings.get("previous_names")),
            ignore_fields=_strings(settings.get("ignore_fields")),
        ),
        field_locations=locations,
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


__all__ = [
    "Lifecycle",
    "ManifestSet",
    "SpecDocument",
    "find_manifest_files",
    "load_manifests",
]
