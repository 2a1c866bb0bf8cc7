"""Load the manifests of a directory: every YAML document is one cell specification, or one
shared material (``kind: material``).

``load_manifests`` reads the project config and every manifest file below the root (which files:
``reconciler.discovery``), validates each document, checks names across files, builds the
material catalog (``reconciler.catalog``), and either returns a ``ManifestSet`` or raises one
``ManifestError`` listing every problem as ``path:line:col: message``.

Errors: anything that would send a wrong or ambiguous body. Warnings: an empty file, an empty
document between ``---`` lines, an empty config, a directory without manifests.

Files are independent until the cross-file checks, so a large directory is shared out between
this process and forked workers (parsing YAML is CPU work, which threads would not share out);
``load_workers`` says when.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from reconciler.catalog import (
    DesiredMaterial,
    MaterialDocument,
    MaterialKey,
    build_catalog,
    expand,
    material_key,
)
from reconciler.config import ProjectConfig, read_config
from reconciler.discovery import MANIFEST_SUFFIXES, manifest_paths, scan
from reconciler.errors import Location, ManifestError, Problem
from reconciler.normalise import COMPONENT_SLOTS
from reconciler.schema import (
    RECONCILER_FIELDS,
    Issue,
    check_material,
    check_spec,
    document_kind,
)
from reconciler.yaml_source import YamlDocument, YamlFile, parse_documents
from reconciler.yaml_text import display_path, read_text

#: Files per process below which forking one costs more than it saves (a file takes ~0.6 ms).
FILES_PER_WORKER = 150
#: Most processes reading at once; beyond this, taking in their results here is the bound.
MAX_WORKERS = 4
#: Files per task sent to a worker: small, so results stream back instead of piling up.
FILES_PER_TASK = 200


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
    """Everything a manifests directory declares, loaded without errors: the specs (every
    component material carrying its one definition) and the materials they use."""

    roots: tuple[Path, ...]
    config: ProjectConfig
    specs: tuple[SpecDocument, ...]
    warnings: tuple[Problem, ...]
    materials: tuple[DesiredMaterial, ...] = ()


def load_manifests(root: Path, *, workers: int | None = None) -> ManifestSet:
    """Load and validate the config and every spec under ``root``; see the module docstring.

    ``workers`` processes share the files (default: ``load_workers``); the result is the same.
    """
    config, problems = read_config(root)
    files, scan_problems = scan(root)
    problems.extend(scan_problems)
    if not files and not any(p.severity == "error" for p in scan_problems):
        message = f"no {' or '.join('*' + s for s in MANIFEST_SUFFIXES)} manifests found"
        problems.append(Problem(Location(display_path(root)), message, "warning"))
    return _load_set((root,), config, files, problems, workers)


def load_manifest_files(paths: Sequence[Path], *, workers: int | None = None) -> ManifestSet:
    """Load the given files as one set, as ``validate FILE...`` and pre-commit need.

    Each file is checked as in a directory, names across the files given (not against the rest
    of their directories), and a config file among them as a config; directories are searched.
    """
    files, configs, problems = manifest_paths(paths)
    config: ProjectConfig | None = ProjectConfig()
    for path in configs:
        found, config_problems = read_config(path.parent)
        config = config if found is None else found
        problems.extend(config_problems)
    return _load_set(tuple(paths), config, files, problems, workers)


def load_paths(paths: Sequence[Path]) -> ManifestSet:
    """What ``validate`` checks: each directory on its own (as ``plan`` loads it) and the
    files given as one set; raises ManifestError with every problem of them all."""
    sets: list[ManifestSet] = []
    problems: list[Problem] = []
    loads = [functools.partial(load_manifests, path) for path in paths if path.is_dir()]
    files = [path for path in paths if not path.is_dir()]
    if files:
        loads.append(functools.partial(load_manifest_files, files))
    for load in loads:
        try:
            sets.append(load())
        except ManifestError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ManifestError(problems + [w for found in sets for w in found.warnings])
    return ManifestSet(
        roots=tuple(root for found in sets for root in found.roots),
        config=sets[0].config if sets else ProjectConfig(),
        specs=tuple(spec for found in sets for spec in found.specs),
        warnings=tuple(sorted(w for found in sets for w in found.warnings)),
        materials=tuple(material for found in sets for material in found.materials),
    )


def _load_set(
    roots: tuple[Path, ...],
    config: ProjectConfig | None,
    files: Sequence[Path],
    problems: list[Problem],
    workers: int | None,
) -> ManifestSet:
    """Load ``files``, check names across them, and raise if anything (so far) is an error."""
    loader = _Loader()
    count = load_workers(len(files)) if workers is None else workers
    for loaded in _load_files(files, count):
        loader.add(loaded)
    problems.extend(loader.problems)
    problems.extend(loader.cross_file_problems())
    if config is not None and config.release:
        conflicts = (released_conflict(spec, config.release) for spec in loader.specs)
        problems.extend(problem for problem in conflicts if problem is not None)
    catalog, material_problems = build_catalog(
        loader.materials,
        [spec.body for spec in loader.specs],
        COMPONENT_SLOTS,
        loader.locate,
        loader.near,
    )
    problems.extend(material_problems)
    if config is None or any(problem.severity == "error" for problem in problems):
        raise ManifestError(problems)
    return ManifestSet(
        roots=roots,
        config=config,
        specs=tuple(
            replace(spec, body=expand(spec.body, catalog, COMPONENT_SLOTS)) for spec in loader.specs
        ),
        warnings=tuple(sorted(problems)),
        materials=tuple(catalog[key] for key in sorted(catalog, key=_key_order)),
    )


def released_conflict(spec: SpecDocument, globs: Sequence[str]) -> Problem | None:
    """A manifest declaring a spec the config releases: it cannot be both managed and not."""
    for name in (spec.name, *spec.lifecycle.previous_names):
        for glob in globs:
            if fnmatchcase(name, glob):
                return Problem(
                    spec.field_locations.get("name", spec.location),
                    f"'{name}' is declared by this manifest and matched by the release glob "
                    f"'{glob}' in ionworks-apply.yaml; a spec is either managed or released: "
                    "remove the manifest or the glob",
                )
    return None


def _key_order(key: MaterialKey) -> tuple[str, str]:
    return key[0], key[1] or ""


def load_workers(files: int) -> int:
    """How many processes should read ``files`` manifest files (1: this one alone).

    Workers are forked, so they start in milliseconds with everything imported. That is done
    only on Linux (fork is unsafe on macOS and absent on Windows) and only while this process
    runs no other thread (one holding a lock at fork time could deadlock the child).
    """
    if files < 2 * FILES_PER_WORKER or not sys.platform.startswith("linux"):
        return 1
    if threading.active_count() > 1:
        return 1
    cpus = len(os.sched_getaffinity(0))
    return max(1, min(cpus, MAX_WORKERS, files // FILES_PER_WORKER))


@dataclass(frozen=True)
class _LoadedFile:
    """One file's problems, specs (each with its document's index) and material entries."""

    path: Path
    problems: tuple[Problem, ...]
    specs: tuple[tuple[SpecDocument, int], ...]
    materials: tuple[MaterialDocument, ...] = ()


def _load_files(files: Sequence[Path], workers: int) -> list[_LoadedFile]:
    """Every file loaded, in the order given.

    With more than one worker, this process reads the first share while forked workers read
    the rest in tasks of ``FILES_PER_TASK``; if no process can be started, all are read here.
    """
    if workers <= 1:
        return _load_share(files)
    mine = len(files) // workers
    rest = files[mine:]
    tasks = [rest[i : i + FILES_PER_TASK] for i in range(0, len(rest), FILES_PER_TASK)]
    # Ctrl-C reaches every process of the group. Workers are forked with SIGINT blocked, so
    # they never see it (not even between fork and their first line); this process takes it
    # only once the pool exists, so that it always stops the workers and reports it once.
    interrupts = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = multiprocessing.get_context("fork").Pool(min(workers - 1, len(tasks)))
    except OSError:  # out of processes (ulimit, container limits): no help to be had
        signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)
        return _load_share(files)
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)
        theirs = pool.imap(_load_share, tasks)
        loaded = _load_share(files[:mine])
        for share in theirs:
            loaded.extend(share)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return loaded


def _load_share(paths: Sequence[Path]) -> list[_LoadedFile]:
    return [_load_file(path) for path in paths]


def _load_file(path: Path) -> _LoadedFile:
    """Read, parse and check one file; it is parsed again with every position recorded only
    when one of its documents has a problem to locate (positions are what make parsing slow)."""
    shown = display_path(path)
    text, problems = read_text(path, shown)
    if text is None:
        return _LoadedFile(path, tuple(problems), ())
    parsed = parse_documents(text, shown)
    if not parsed.documents and not parsed.problems:
        message = "empty file: no YAML documents"
        return _LoadedFile(path, (Problem(Location(shown, 1, 1), message, "warning"),), ())
    checked = [(doc, _check_document(doc)) for doc in parsed.documents]
    if not parsed.problems and any(issues for _, issues in checked):
        full = parse_documents(text, shown, full_positions=True)
        checked = [(doc, issues) for doc, (_, issues) in zip(full.documents, checked, strict=True)]
    problems.extend(parsed.problems)
    # A value the parser already refused (empty, too large ...) is not reported twice.
    reported = {problem.location for problem in parsed.problems}
    specs: list[tuple[SpecDocument, int]] = []
    materials: list[MaterialDocument] = []
    for doc, issues in checked:
        located = (_problem(doc, issue) for issue in issues)
        problems.extend(problem for problem in located if problem.location not in reported)
        if not isinstance(doc.value, dict) or not isinstance(doc.value.get("name"), str):
            continue
        if document_kind(doc.value) == "material":
            materials.append(_material_document(doc))
        else:
            specs.append((_spec_document(doc), doc.index))
    return _LoadedFile(path, tuple(problems), tuple(specs), tuple(materials))


@dataclass
class _Loader:
    """Takes in loaded files in order; keeps what the cross-file checks need."""

    specs: list[SpecDocument] = field(default_factory=list)
    materials: list[MaterialDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    origins: list[tuple[Path, int]] = field(default_factory=list)  # per spec: file, doc index
    full_reads: dict[Path, YamlFile | None] = field(default_factory=dict)

    def add(self, loaded: _LoadedFile) -> None:
        self.problems.extend(loaded.problems)
        self.materials.extend(loaded.materials)
        for spec, index in loaded.specs:
            self.specs.append(spec)
            self.origins.append((loaded.path, index))

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
                    problems.append(Problem(self._previous(number, index), message))
                elif old in claimed and claimed[old][0] != number:
                    message = (
                        f"previous name {old!r} is also claimed at {self._previous(*claimed[old])}"
                    )
                    problems.append(Problem(self._previous(number, index), message))
                else:
                    claimed.setdefault(old, (number, index))
        return problems

    def near(self, number: int, key: str) -> Location:
        """Where top-level ``key`` of spec ``number`` is (known without re-reading)."""
        spec = self.specs[number]
        return spec.field_locations.get(key, spec.location)

    def _previous(self, number: int, index: int) -> Location:
        return self.locate(number, ("lifecycle", "previous_names", index))

    def locate(self, number: int, path: tuple[str | int, ...]) -> Location:
        """Where ``path`` of spec ``number`` is; re-reads its file with every position for
        that (only problems need it, and positions are what make parsing slow)."""
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
        return parsed.documents[document].location(path)


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
    kind = document_kind(doc.value)
    if kind is None:
        message = (
            f"unknown kind {doc.value.get('kind')!r}: write `kind: material` for a material, "
            "or leave kind out for a cell specification"
        )
        return [Issue(("kind",), message)]
    return check_material(doc.value) if kind == "material" else check_spec(doc.value)


def _problem(doc: YamlDocument, issue: Issue) -> Problem:
    return Problem(doc.location(issue.path, key=issue.at_key), issue.message, issue.severity)


def _spec_document(doc: YamlDocument) -> SpecDocument:
    value: dict[str, Any] = doc.value
    locations = {key: doc.location((key,), key=True) for key in value}
    lifecycle = value.get("lifecycle")
    settings = lifecycle if isinstance(lifecycle, dict) else {}
    return SpecDocument(
        location=locations.get("name", doc.location()),
        body={key: item for key, item in value.items() if key not in RECONCILER_FIELDS},
        lifecycle=Lifecycle(
            previous_names=_strings(settings.get("previous_names")),
            ignore_fields=_strings(settings.get("ignore_fields")),
        ),
        field_locations=locations,
    )


def _material_document(doc: YamlDocument) -> MaterialDocument:
    value: dict[str, Any] = doc.value
    locations = {key: doc.location((key,), key=True) for key in value}
    definition = value.get("definition")
    product_id = value.get("product_id")
    return MaterialDocument(
        key=material_key(value),
        definition=definition if isinstance(definition, dict) else None,
        product_id=product_id if isinstance(product_id, str) else None,
        location=locations.get("name", doc.location()),
        field_locations=locations,
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


__all__ = [
    "Lifecycle",
    "ManifestSet",
    "SpecDocument",
    "load_manifest_files",
    "load_manifests",
    "load_paths",
    "load_workers",
    "released_conflict",
]
