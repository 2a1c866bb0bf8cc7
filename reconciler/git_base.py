"""The manifests as they were at a git commit, for ``plan --base REF``.

Git is the state: the manifests at a pull request's base are what Ionworks should already
hold, so a plan compared with them can tell this change from edits made outside
ionworks-apply (``reconciler.provenance``). This module reads them, locally and read-only:
``git ls-tree`` lists the directory at REF, ``git cat-file --batch`` reads its YAML files (and
symlinks) into a temporary directory, and the one loader (``load_manifests``) loads them, with
every check a plan makes. Nothing is fetched; the working tree and the index are not touched.

REF is user input, so it is checked before git sees it (no option injection: it may not start
with ``-``; every git call also ends its options with ``--end-of-options`` or ``--``). The base
is a help for reviewers, never a reason to fail a plan: when it cannot be read (no git, an
unknown commit, manifests at REF that do not load), the plan says so in one line and marks
nothing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.discovery import MANIFEST_SUFFIXES
from reconciler.errors import ManifestError, UsageError
from reconciler.manifests import load_manifests
from reconciler.plan import Plan
from reconciler.provenance import Base, classify
from reconciler.yaml_text import MAX_FILE_BYTES

#: Longest REF accepted (a full SHA-256 commit id is 64 characters).
MAX_REF_CHARS = 256
#: Seconds one git command may take (reading a directory of manifests takes well under one).
GIT_TIMEOUT = 60.0
_REGULAR_MODES = (b"100644", b"100755")
_SYMLINK_MODE = b"120000"


class BaseUnreadable(Exception):
    """The manifests at REF could not be read; the message says why, in one line."""


def check_ref(ref: str) -> str:
    """``ref`` if it can only be read as a revision by git, else UsageError (exit 1)."""
    if (
        not ref
        or ref.startswith("-")
        or len(ref) > MAX_REF_CHARS
        or not ref.isprintable()
        or any(ch.isspace() for ch in ref)
    ):
        raise UsageError(
            f"--base {ref!r} is not a git revision: give a commit, branch or tag "
            "(e.g. origin/main, or a commit id), without spaces and not starting with '-'"
        )
    return ref


def mark_plans(plans: Sequence[Plan], ref: str) -> tuple[list[Plan], list[str]]:
    """Each plan with every change's reason judged against its directory at ``ref``, and a
    note for each plan whose base could not be read (that plan is left unmarked)."""
    marked: list[Plan] = []
    notes: list[str] = []
    for plan in plans:
        try:
            base = read_base(ref, Path(plan.manifests_dir))
        except BaseUnreadable as exc:
            notes.append(
                f"--base {ref}: cannot read {plan.manifests_dir} at {ref} ({exc}); changes are "
                "not marked as from this change or as made outside ionworks-apply"
            )
            marked.append(plan)
            continue
        marked.append(classify(plan, base))
    return marked, notes


def read_base(ref: str, directory: Path) -> Base:
    """What ``directory`` declared at commit ``ref`` (nothing, if it did not exist there)."""
    top = os.fsdecode(_git(directory, "rev-parse", "--show-toplevel")).rstrip("\n")
    prefix = os.fsdecode(_git(directory, "rev-parse", "--show-prefix")).rstrip("\n").rstrip("/")
    commit = _commit(Path(top), ref)
    entries = _entries(Path(top), commit, prefix)
    if not entries:
        return Base(commit)
    with tempfile.TemporaryDirectory(prefix="ionworks-apply-base-") as temporary:
        root = Path(temporary)
        _materialise(Path(top), entries, root)
        try:
            manifests = load_manifests(root / prefix)
        except ManifestError as exc:
            errors = [p for p in exc.problems if p.severity == "error"]
            first = f"; first: {errors[0].message}" if errors else ""
            raise BaseUnreadable(
                f"the manifests there have {len(errors)} problem(s){first}"
            ) from None
    return Base.of(commit, manifests)


@dataclass(frozen=True)
class _Entry:
    """One file of the directory at REF: its mode, object id and path in the repository."""

    mode: bytes
    oid: str
    path: str


def _commit(top: Path, ref: str) -> str:
    """The commit id ``ref`` names in the repository at ``top``."""
    try:
        found = _git(
            top, "rev-parse", "--verify", "--end-of-options", f"{check_ref(ref)}^{{commit}}"
        )
    except BaseUnreadable:
        raise BaseUnreadable(f"no commit {ref} in this repository (is it fetched?)") from None
    return found.decode().strip()


def _entries(top: Path, commit: str, prefix: str) -> list[_Entry]:
    """The YAML files and symlinks under ``prefix`` at ``commit`` (others are never read)."""
    pathspec = [prefix] if prefix else []
    listing = _git(top, "--literal-pathspecs", "ls-tree", "-r", "-l", "-z", commit, "--", *pathspec)
    entries = []
    for line in listing.split(b"\0"):
        if not line:
            continue
        meta, _, raw_path = line.partition(b"\t")
        mode, _kind, oid, size = meta.split()
        path = os.fsdecode(raw_path)
        if mode == _SYMLINK_MODE or (
            mode in _REGULAR_MODES and path.lower().endswith(MANIFEST_SUFFIXES)
        ):
            if mode != _SYMLINK_MODE and int(size) > MAX_FILE_BYTES:
                raise BaseUnreadable(f"{path} is larger than any manifest may be")
            entries.append(_Entry(mode, oid.decode(), path))
    return entries


def _materialise(top: Path, entries: Sequence[_Entry], root: Path) -> None:
    """Write each entry's content under ``root`` at its path (symlinks as symlinks)."""
    contents = _git(
        top, "cat-file", "--batch", stdin="".join(f"{e.oid}\n" for e in entries).encode()
    )
    offset = 0
    for entry in entries:
        header_end = contents.index(b"\n", offset)
        size = int(contents[offset:header_end].split()[2])
        data = contents[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        target = root / entry.path
        if ".." in Path(entry.path).parts or Path(entry.path).is_absolute():
            raise BaseUnreadable(f"{entry.path} is not a path inside the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.mode == _SYMLINK_MODE:
            os.symlink(os.fsdecode(data), target)
        else:
            target.write_bytes(data)


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """The output of one git command, or BaseUnreadable with git's first line of complaint."""
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise BaseUnreadable("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise BaseUnreadable(f"git took longer than {GIT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise BaseUnreadable(lines[0][:200] if lines else f"git {args[0]} failed")
    return done.stdout
