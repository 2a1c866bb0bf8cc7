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
    found: dict[str, tuple[str, Path]] = {}  # real path -> (relative path, path as found)
    problems: list[Problem] = []
    seen_real = {real_root}
    # (directory, its real path, its path relative to root with a trailing "/", or "")
    pending: list[tuple[Path, str, str]] = [(root, real_root, "")]
    while pending:
        directory, real_directory, relative = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            message = f"cannot list directory: {exc.strerror or exc}"
            problems.append(Problem(Location(display_path(directory)), message))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            is_yaml = entry.name.lower().endswith(MANIFEST_SUFFIXES)
            if directory == root and entry.name == CONFIG_FILENAME:
                continue
            if directory == root and entry.name == "ionworks-apply.yml":
                message = f"rename the config to {CONFIG_FILENAME} (it is read only by that name)"
                problems.append(Problem(Location(display_path(path), 1, 1), message))
                continue
            if entry.is_symlink():
                real = os.path.realpath(path)
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
                is_dir, is_file = os.path.isdir(real), os.path.isfile(real)
            else:  # not a link: its real path follows from its directory's, no system call
                real = os.path.join(real_directory, entry.name)
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            if is_dir:
                if real not in seen_real:
                    seen_real.add(real)
                    pending.append((path, real, f"{relative}{entry.name}/"))
            elif is_yaml and is_file:
                found.setdefault(real, (f"{relative}{entry.name}", path))
    files = [path for _, path in sorted(found.values(), key=lambda item: item[0])]
    return files, problems
