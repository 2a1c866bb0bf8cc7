"""Loading manifest directories: the bad-input corpus, edge-valid cases, layout rules, positions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler import yaml_source
from reconciler.discovery import find_manifest_files
from reconciler.errors import ManifestError
from reconciler.manifests import (
    FILES_PER_TASK,
    MAX_WORKERS,
    load_manifests,
    load_workers,
)
from reconciler.yaml_source import parse_documents
from reconciler.yaml_text import MAX_FILE_BYTES

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
GOOD = FIXTURES / "good"
EXAMPLES = Path(__file__).resolve().parent.parent / "manifests"
SPEC = (
    "name: {name}\nratings:\n  capacity: {{value: 5, unit: A*h}}\n"
    "  voltage_min: {{value: 2.5, unit: V}}\n  voltage_max: {{value: 4.2, unit: V}}\n"
)


def problem_lines(root: Path) -> tuple[list[str], bool]:
    """Every problem line for ``root`` and whether loading failed."""
    try:
        return [str(w) for w in load_manifests(root).warnings], False
    except ManifestError as exc:
        return [str(p) for p in exc.problems], True


def cases(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())


@pytest.mark.parametrize("case", cases(BAD))
def test_bad_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case lists the exact lines it must produce in expected.txt."""
    monkeypatch.chdir(BAD / case)
    expected = (BAD / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    lines, failed = problem_lines(Path("."))
    assert lines == expected
    assert failed == any(": warning: " not in line for line in expected)


def test_the_bad_corpus_is_large_and_all_real() -> None:
    failing = [case for case in cases(BAD) if "warning" not in case and "empty" not in case]
    assert len(failing) >= 40
    for case in cases(BAD):
        assert (BAD / case / "expected.txt").read_text(encoding="utf-8").strip(), case


@pytest.mark.parametrize("case", cases(GOOD))
def test_good_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case's expected.json holds the config, warnings, and every spec as loaded."""
    monkeypatch.chdir(GOOD / case)
    loaded = load_manifests(Path("."))
    actual = {
        "config": loaded.config.model_dump(),
        "warnings": [str(w) for w in loaded.warnings],
        "specs": [
            {
                "location": str(spec.location),
                "body": spec.body,
                "lifecycle": {
                    "previous_names": list(spec.lifecycle.previous_names),
                    "ignore_fields": list(spec.lifecycle.ignore_fields),
                },
                "field_locations": {k: str(v) for k, v in spec.field_locations.items()},
            }
            for spec in loaded.specs
        ],
    }
    expected = json.loads((GOOD / case / "expected.json").read_text(encoding="utf-8"))
    assert actual == expected


def test_the_example_manifests_are_valid() -> None:
    loaded = load_manifests(EXAMPLES)
    assert loaded.warnings == ()
    assert len(loaded.specs) >= 4
    assert loaded.config.owner == "examples"
    for spec in loaded.specs:
        assert "lifecycle" not in spec.body
    names = [spec.name for spec in loaded.specs]
    assert "NCM622/Graphite Coin Cell" in names
    for path in EXAMPLES.glob("*.yaml"):
        if path.name != "ionworks-apply.yaml":
            first = path.read_text(encoding="utf-8").splitlines()[0]
            assert first == "# yaml-language-server: $schema=./cellspec.schema.json"


def test_bodies_are_plain_python_and_not_shared(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: A\nproperties:\n  x: &shared {list: [a, {value: 1, unit: mm}]}\n  y: *shared\n",
        encoding="utf-8",
    )
    (spec,) = load_manifests(tmp_path).specs

    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return type(value) is dict and all(plain(v) for v in value.values())
        if isinstance(value, list):
            return type(value) is list and all(plain(v) for v in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(spec.body)
    properties = spec.body["properties"]
    assert properties["x"] == properties["y"]
    assert properties["x"] is not properties["y"]
    assert properties["x"]["list"] is not properties["y"]["list"]


def test_paths_outside_the_working_directory_are_absolute(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: [A\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests(tmp_path)
    assert str(caught.value.problems[0].location).startswith(f"{tmp_path.as_posix()}/a.yaml:2:1")


def test_a_symlink_escaping_the_directory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(SPEC.format(name="Secret"), encoding="utf-8")
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "cell.yaml").write_text(SPEC.format(name="Cell"), encoding="utf-8")
    (root / "linked.yaml").symlink_to(outside / "secret.yaml")
    (root / "linked-dir").symlink_to(outside)
    (root / "notes.txt").symlink_to(outside / "secret.yaml")  # not a manifest: ignored
    monkeypatch.chdir(root)
    lines, failed = problem_lines(Path("."))
    real = os.path.realpath(outside)
    assert failed
    assert lines == [
        f"linked-dir:1:1: symlink points outside the manifests directory (to {real})",
        f"linked.yaml:1:1: symlink points outside the manifests directory (to {real}/secret.yaml)",
    ]
    with pytest.raises(ManifestError):
        find_manifest_files(Path("."))


def test_symlinks_inside_the_directory_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "cell.yaml").write_text(SPEC.format(name="Cell"), encoding="utf-8")
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "real" / "cell.yaml")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "broken.yaml").symlink_to(tmp_path / "missing.yaml")
    lines, failed = problem_lines(tmp_path)
    assert failed
    assert [line.split(": ", 1)[1] for line in lines] == ["broken symlink"]
    (tmp_path / "broken.yaml").unlink()
    assert [spec.name for spec in load_manifests(tmp_path).specs] == ["Cell"]
    assert find_manifest_files(tmp_path) == [tmp_path / "alias.yaml"]


def test_files_over_the_size_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with (tmp_path / "big.yaml").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    lines, failed = problem_lines(Path("."))
    assert failed
    assert lines == [f"big.yaml:1:1: file is {MAX_FILE_BYTES + 1} bytes, over the 5 MiB limit"]


def test_a_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="1 problem"):
        load_manifests(tmp_path / "nope")
    loaded = load_manifests(tmp_path)
    assert loaded.specs == ()
    assert [w.message for w in loaded.warnings] == ["no *.yaml or *.yml manifests found"]


def test_config_and_manifest_problems_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "ionworks-apply.yaml").write_text("prun: true\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("name: A\nratngs: {}\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests(tmp_path)
    assert [p.message for p in caught.value.problems] == [
        "unknown key 'ratngs' (did you mean 'ratings'?)",
        "unknown key 'prun' (did you mean 'prune'?)",
    ]


def test_many_documents_keep_file_then_document_order(tmp_path: Path) -> None:
    for number in range(10):
        docs = [SPEC.format(name=f"Cell {number}-{index}") for index in range(100)]
        (tmp_path / f"batch-{number}.yaml").write_text("---\n".join(docs), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.yaml").write_text(SPEC.format(name="Last"), encoding="utf-8")
    (tmp_path / "a.yaml").write_text(SPEC.format(name="First"), encoding="utf-8")
    names = [spec.name for spec in load_manifests(tmp_path).specs]
    assert len(names) == 1002
    assert names[0] == "First"
    assert names[1:3] == ["Cell 0-0", "Cell 0-1"]
    assert names[-1] == "Last"


def test_fast_and_full_reads_agree() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = parse_documents(text, path.name)
        full = parse_documents(text, path.name, full_positions=True)
        assert [d.value for d in fast.documents] == [d.value for d in full.documents]
        for quick, slow in zip(fast.documents, full.documents, strict=True):
            for key in quick.value:
                assert quick.location((key,), key=True) == slow.location((key,), key=True)


def test_full_positions_reach_every_level() -> None:
    text = "name: X\nanode:\n  material:\n    definition:\n      sizes: [1, {d50: 2}]\n"
    (doc,) = parse_documents(text, "f.yaml", full_positions=True).documents
    path = ("anode", "material", "definition", "sizes", 1, "d50")
    assert str(doc.location(path)) == "f.yaml:5:24"
    assert str(doc.location(path, key=True)) == "f.yaml:5:19"
    assert str(doc.location(("anode", "material", "missing"))) == "f.yaml:4:5"


def test_the_pure_python_parser_gives_the_same_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ruamel.yaml.clib the loader falls back to ruamel's own parser."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
    texts.append("a: &x {b: [1, 2]}\nc: *x\n<<: {d: 3}\n---\n---\n- 1\n")
    with_c = [parse_documents(t, "f.yaml", full_positions=True) for t in texts]
    monkeypatch.setattr(yaml_source, "CParser", None)
    pure = [parse_documents(t, "f.yaml", full_positions=True) for t in texts]
    for a, b in zip(with_c, pure, strict=True):
        assert [d.value for d in a.documents] == [d.value for d in b.documents]
        assert [str(d.location()) for d in a.documents] == [str(d.location()) for d in b.documents]
    broken = parse_documents("a: 1\nb: [1\n", "f.yaml")
    assert [str(p.location) for p in broken.problems] == ["f.yaml:3:1"]


def corpus_with_padding(root: Path, padding: int) -> Path:
    """Every bad-corpus manifest in one directory, spread among ``padding`` valid ones."""
    root.mkdir()
    for number in range(padding):
        (root / f"{number:04d}-good.yaml").write_text(SPEC.format(name=f"Good {number}"))
    for number, case in enumerate(cases(BAD)):
        for source in sorted((BAD / case).iterdir()):
            if source.suffix in (".yaml", ".yml") and source.name != "ionworks-apply.yaml":
                place = number * padding // len(cases(BAD))
                shutil.copyfile(source, root / f"{place:04d}-{case}-{source.name}")
    return root


def loaded_with(root: Path, workers: int) -> tuple[list[str], Any]:
    """Problem lines and, when loading succeeded, the specs."""
    try:
        loaded = load_manifests(root, workers=workers)
    except ManifestError as exc:
        return [str(p) for p in exc.problems], None
    return [str(w) for w in loaded.warnings], loaded.specs


def test_worker_processes_load_exactly_what_one_process_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = corpus_with_padding(tmp_path / "bad", 2 * FILES_PER_TASK + 50)
    one = loaded_with(Path("bad"), workers=1)
    assert one[1] is None and len(one[0]) > 60
    assert loaded_with(Path("bad"), workers=3) == one
    for path in bad.iterdir():
        if "-good." not in path.name:
            path.unlink()
    good_one = loaded_with(Path("bad"), workers=1)
    assert good_one[1] is not None and len(good_one[1]) == 2 * FILES_PER_TASK + 50
    assert loaded_with(Path("bad"), workers=3) == good_one


def test_workers_only_for_large_directories_and_never_beside_a_thread() -> None:
    assert load_workers(10) == 1
    many = load_workers(100_000)
    if sys.platform.startswith("linux"):
        assert many == max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))
    else:
        assert many == 1
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert load_workers(100_000) == 1
    finally:
        stop.set()
        thread.join()


def test_validate_of_a_large_directory_reports_problems_read_by_workers(tmp_path: Path) -> None:
    """A fresh process (no threads), so the files are shared out when there are cores."""
    root = tmp_path / "big"
    root.mkdir()
    for number in range(600):
        (root / f"{number:04d}.yaml").write_text(SPEC.format(name=f"Cell {number}"))
    (root / "0590.yaml").write_text(SPEC.format(name="Cell 7") + "  unknown: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "big"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert (result.stdout + result.stderr).splitlines() == [
        "big/0590.yaml:1:1: duplicate spec name 'Cell 7' (also defined at big/0007.yaml:1:1)",
        "big/0590.yaml:6:3: unknown key 'unknown'",
        "Error: 2 problem(s) in the manifests; nothing was sent to the API",
    ]


@pytest.mark.skipif(load_workers(3000) == 1, reason="one CPU or not Linux: no worker processes")
def test_ctrl_c_while_workers_load_stops_them_all_with_one_message(tmp_path: Path) -> None:
    for number in range(3000):
        (tmp_path / f"{number:04d}.yaml").write_text(SPEC.format(name=f"Cell {number}"))
    script = Path(sys.executable).with_name("ionworks-apply")  # what users run
    # A terminal runs commands with Ctrl-C at its default action; a shell's background job (a
    # test run started with `&`) hands it down ignored, so set it as a terminal would.
    as_in_a_terminal = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", as_in_a_terminal, str(script), "validate", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    workers: list[str] = []
    deadline = time.monotonic() + 60
    while not workers and process.poll() is None and time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
        workers = found.stdout.split()
        time.sleep(0.01)
    assert workers, "no worker process was seen while the files loaded"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().splitlines() == ["Interrupted; a re-run converges."]
    assert out == ""
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_validate_takes_files_and_checks_names_across_the_files_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Any
) -> None:
    """What a pre-commit hook does: pass the changed files, not the directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text(SPEC.format(name="Cell A"))
    (tmp_path / "m" / "b.yaml").write_text(SPEC.format(name="Cell A"))
    (tmp_path / "m" / "c.yaml").write_text(SPEC.format(name="Cell C"))
    alone = run_cli("validate", "m/a.yaml")
    assert (alone.code, alone.out) == (0, "1 cell specification(s) valid.\n")
    together = run_cli("validate", "m/a.yaml", "m/b.yaml", "m/c.yaml")
    assert together.code == 1
    assert together.err.splitlines() == [
        "m/b.yaml:1:1: duplicate spec name 'Cell A' (also defined at m/a.yaml:1:1)",
        "Error: 1 problem(s) in the manifests; nothing was sent to the API",
    ]
    assert run_cli("validate", "m/a.yaml", "m/c.yaml").out == "2 cell specification(s) valid.\n"


def test_validate_files_and_directories_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Any
) -> None:
    """Files given are one set (with any config among them); each directory is its own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text(SPEC.format(name="Cell A"))
    (tmp_path / "m" / "ionworks-apply.yaml").write_text("prun: true\n")
    (tmp_path / "other.yaml").write_text(SPEC.format(name="Cell A"))
    (tmp_path / "notes.txt").write_text("hello")
    result = run_cli("validate", "m/a.yaml", "m/ionworks-apply.yaml", "other.yaml", "notes.txt")
    assert result.code == 1
    assert result.err.splitlines() == [
        "m/ionworks-apply.yaml:1:1: unknown key 'prun' (did you mean 'prune'?)",
        "notes.txt: not a manifest: give *.yaml or *.yml files, or a directory",
        "other.yaml:1:1: duplicate spec name 'Cell A' (also defined at m/a.yaml:1:1)",
        "Error: 3 problem(s) in the manifests; nothing was sent to the API",
    ]
    (tmp_path / "m" / "ionworks-apply.yaml").write_text("prune: true\n")
    apart = run_cli("validate", "m", "other.yaml")  # the directory, and a set of one file
    assert (apart.code, apart.out) == (0, "2 cell specification(s) valid.\n")
    missing = run_cli("validate", "missing.yaml", "nodir")
    assert missing.code == 1
    assert missing.err.splitlines() == [
        "missing.yaml: no such file or directory",
        "nodir: no such file or directory",
        "Error: 2 problem(s) in the manifests; nothing was sent to the API",
    ]
