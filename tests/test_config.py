"""A bad config is an error that names the file and the key, before any work starts."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.config import ConfigError, load_config
from tests.conftest import REPO


def write(tmp_path, text: str):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_default_config_loads():
    cfg = load_config(REPO / "configs/default.yaml")
    assert [s.name for s in cfg.stages][:2] == ["read", "normalize"]
    assert cfg.stages[0].config.max_bytes == 1_000_000


@pytest.mark.parametrize("text, pattern", [
    ("stages:\n  - name: read\n    max_byte: 5\n", r"c\.yaml: stages\[0\] \(read\): unknown key 'max_byte'"),
    ("stages:\n  - name: read\n    max_bytes: lots\n", r"c\.yaml: stages\[0\] \(read\)\.max_bytes: expected int, got 'lots'"),
    ("stages:\n  - name: read\n  - name: dedupe\n", r"c\.yaml: stages\[1\]: unknown stage 'dedupe'"),
    ("stages:\n  - name: read\nworkerz: 2\n", r"c\.yaml: unknown key 'workerz'"),
    ("stages:\n  - name: read\nworkers: 0\n", r"workers: must be >= 1"),
    ("stages:\n  - name: read\nexecutor: spark\n", r"executor: expected one of \['ray', 'inline'\]"),
    ("stages:\n  - name: read\n  - name: normalize\n    unicode_form: NFD\n", r"unicode_form: expected one of"),
    ("stages: [\n", r"c\.yaml: invalid YAML"),
    ("stages:\n  - name: read\n    max_bytes: true\n", r"max_bytes: expected int, got True"),
])
def test_bad_config_names_file_and_key(tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_cli_reports_config_errors_without_traceback(tmp_path):
    p = write(tmp_path, "input: [data]\nstages:\n  - name: read\n    max_byte: 5\n")
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(p)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown key 'max_byte'" in r.stderr and "Traceback" not in r.stderr


def test_cli_set_override_is_validated(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "stage", "normalize", "--input",
                        str(REPO / "data/sample/corpus/fortunes/files"), "--output", str(tmp_path / "o"),
                        "--set", "unicode_form=XYZ", "--inline"], capture_output=True, text=True)
    assert r.returncode == 2 and "unicode_form" in r.stderr
