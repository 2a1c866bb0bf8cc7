"""The project config, ionworks-apply.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reconciler.config import CONFIG_FILENAME, ProjectConfig, read_config
from reconciler.errors import ManifestError

REPO = Path(__file__).resolve().parent.parent


def load_config(root: Path) -> ProjectConfig:
    """The config of ``root``, or ManifestError listing every problem in it."""
    config, problems = read_config(root)
    if config is None:
        raise ManifestError(problems)
    return config


def write_config(root: Path, text: str) -> Path:
    path = root / CONFIG_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_safe_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config == ProjectConfig()
    assert config.owner == "default"
    assert config.marker == "ionworks-apply/default"
    assert config.prune is False
    assert config.protect == []
    assert config.max_deletes == 10
    assert config.max_delete_percent == 25.0
    assert config.allow_cascade is False
    assert config.ignore_fields == []
    assert config.project_id is None


def test_a_full_config_loads(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "project_id: p-1\nowner: lab.7_x-y\nprune: true\nprotect: ['Ref*', 'Golden ?']\n"
        "max_deletes: 0\nmax_delete_percent: 100\nallow_cascade: true\n"
        "ignore_fields: [properties.last_calibrated, notes]\n",
    )
    config = load_config(tmp_path)
    assert config.marker == "ionworks-apply/lab.7_x-y"
    assert config.max_delete_percent == 100.0
    assert config.protect == ["Ref*", "Golden ?"]
    assert config.ignore_fields == ["properties.last_calibrated", "notes"]
    assert config.max_deletes == 0


def test_the_example_config_loads() -> None:
    config = load_config(REPO / "manifests")
    assert config.owner == "examples"
    assert config.prune is False
    assert config.protect


def test_errors_point_at_lines_and_all_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "owner: a/b\nprune: maybe\nmax_deletes: 1.5\nmax_delete_percent: -1\n")
    with pytest.raises(ManifestError) as caught:
        load_config(Path("."))
    assert [str(p) for p in caught.value.problems] == [
        "ionworks-apply.yaml:1:8: owner: 'a/b' must be 1-64 letters, digits, '.', '_' or '-' "
        "(it becomes part of the ownership marker)",
        "ionworks-apply.yaml:2:8: prune must be true or false, got the text 'maybe'",
        "ionworks-apply.yaml:3:14: max_deletes must be a whole number, got the number 1.5",
        "ionworks-apply.yaml:4:21: max_delete_percent must be at least 0",
    ]


def test_owner_length_is_limited(tmp_path: Path) -> None:
    write_config(tmp_path, f"owner: {'x' * 65}\n")
    with pytest.raises(ManifestError):
        load_config(tmp_path)
    write_config(tmp_path, f"owner: {'x' * 64}\n")
    assert load_config(tmp_path).owner == "x" * 64


def test_an_empty_config_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    write_config(tmp_path, "# nothing configured yet\n")
    config, problems = read_config(tmp_path)
    assert config == ProjectConfig()
    assert [(p.severity, p.message) for p in problems] == [
        ("warning", "config is empty; using defaults")
    ]


def test_a_config_symlink_outside_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("owner: x\n", encoding="utf-8")
    root = tmp_path / "manifests"
    root.mkdir()
    (root / CONFIG_FILENAME).symlink_to(outside)
    with pytest.raises(ManifestError) as caught:
        load_config(root)
    assert "symlink points outside" in caught.value.problems[0].message


def test_the_model_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        ProjectConfig.model_validate({"prune": "yes"})
    with pytest.raises(ValidationError):
        ProjectConfig.model_validate({"unknown": 1})
    with pytest.raises(ValidationError):
        ProjectConfig().prune = True  # type: ignore[misc]
