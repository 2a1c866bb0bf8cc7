"""Which files are manifests: every ``*.yaml`` / ``*.yml`` below a directory, in a stable order.

Hidden files and folders are skipped, the project config (``ionworks-apply.yaml``) is not a
manifest, and symlinks are followed only when they stay inside the directory (a link out of it
is a problem, as is a broken one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.config import CONFIG_FILENAME
from reconciler.errors import Location, ManifestError, Problem
from reconciler.yaml_text import display_path

MANIFEST_SUFFIXES = (".yaml", ".yml")


def find_manifest_files(root: Path) -> list[Path]:
    """The manifest files under ``root`` in load order; raises ManifestError for bad links."""
    files, problems = scan(root)
    if any(problem.severity == "error" for problem in problems):
        raise ManifestError(problems)
    return files


def manifest_paths(paths: Sequence[Path]) -> tuple[list[Path], list[Path], list[Problem]]:
    """The manifest files among ``paths`` (directories searched as ``load_manifests`` does),
    the project configs named among them, and the paths that are neither."""
    files: dict[str, Path] = {}
    configs: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        shown = display_path(path)
        if path.is_dir():
            found, scan_problems = scan(path)
            files.update((os.path.realpath(f), f) for f in found)
            problems.extend(scan_problems)
        elif path.name == CONFIG_FILENAME:
            configs.append(path)
        elif not path.exists():
            problems.append(Problem(Location(shown), "no such file or directory"))
        elif not path.name.lower().endswith(MANIFEST_SUFFIXES) or not path.is_file():
            message = "not a manifest: give *.yaml or *.yml files, or a directory"
            problems.append(Problem(Location(shown), message))
        else:
            files.setdefault(os.path.realpath(path), path)
    return list(files.values()), configs, problems


def scan(root: Path) -> tuple[list[Path], list[Problem]]:
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
