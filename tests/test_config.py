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
    assert [s.name for s in cfg.stages][:3] == ["read", "unique_ids", "normalize"]
    assert cfg.stages[0].config.max_bytes == 1_000_000


@pytest.mark.parametrize("text, pattern", [
    ("stages:\n  - name: read\n    max_byte: 5\n", r"c\.yaml: stages\[0\] \(read\): unknown key 'max_byte'"),
    ("stages:\n  - name: read\n    max_bytes: lots\n", r"c\.yaml: stages\[0\] \(read\)\.max_bytes: expected int, got 'lots'"),
    ("stages:\n  - name: read\n  - name: dedupe\n", r"c\.yaml: stages\[1\]: unknown stage 'dedupe'"),
    ("stages:\n  - name: read\nworkerz: 2\n", r"c\.yaml: unknown key 'workerz'"),
    ("stages:\n  - name: read\nworkers: 0\n", r"workers: must be >= 1"),
    ("stages:\n  - name: read\nexecutor: spark\n", r"executor: expected one of \['auto', 'ray', 'inline'\]"),
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


# Every file in configs/ and the loader its command reads it with (a new file must be added here).
def _loaders():
    from trainer.ablate import load_ablate_config
    from trainer.config import load_run_config

    return {"default.yaml": load_config, "ablate-pipeline.yaml": load_config,
            "train-demo.yaml": load_run_config, "train-gpt124m.yaml": load_run_config,
            "ablate-train.yaml": load_run_config, "ablate.yaml": load_ablate_config}


def test_every_config_file_loads_with_its_commands_loader():
    loaders = _loaders()
    assert sorted(p.name for p in (REPO / "configs").glob("*.yaml")) == sorted(loaders)
    for name, load in loaders.items():
        load(REPO / "configs" / name)


def test_numbers_are_floats_as_yaml_1_2_and_python_write_them(tmp_path):
    from trainer.config import config_from_args, load_run_config, run_config_parser

    cfg = load_run_config(REPO / "configs/train-gpt124m.yaml")
    assert cfg.train.peak_flops == 989e12 and cfg.train.lr == 6e-4
    p = write(tmp_path, "train:\n  lr: 1e-3\n  min_lr: 1E-4\n  peak_flops: 989.0e12\n  grad_clip: '2.5e0'\n"
                        "  beta2: .95\n  weight_decay: 1\n")
    t = load_run_config(p).train
    assert (t.lr, t.min_lr, t.peak_flops, t.grad_clip, t.beta2, t.weight_decay) == (1e-3, 1e-4, 989e12, 2.5, 0.95, 1.0)
    assert all(type(v) is float for v in (t.lr, t.min_lr, t.peak_flops, t.grad_clip, t.beta2, t.weight_decay))
    args = run_config_parser("x", None).parse_args(["--config", str(p), "--set", "train.lr=6e-4",
                                                    "--set", "train.peak_flops=312e12"])
    assert config_from_args(args).train.lr == 6e-4 and config_from_args(args).train.peak_flops == 312e12
    # a stage option through `curate stage --set` reads the same way; words stay words
    cfg = load_config(write(tmp_path, "stages:\n  - name: read\n  - name: quality\n"
                                      "    gopher_quality: {min_alpha_words: 8e-1}\n"))
    assert cfg.stages[1].config.gopher_quality.min_alpha_words == 0.8
    with pytest.raises(ConfigError, match=r"lr: expected float, got 'fast'"):
        load_run_config(write(tmp_path, "train:\n  lr: fast\n"))
    with pytest.raises(ConfigError, match=r"lr: expected float"):
        load_run_config(write(tmp_path, "train:\n  lr: .nan\n"))


def test_a_built_in_stage_is_found_by_importing_its_own_module_alone():
    # start-up: `curate stage url_dedup` need not import langid's or quality's libraries
    script = ("import sys\nfrom pipeline.stage import stage_class\n"
              "print(stage_class('url_dedup').__module__, sorted(m for m in sys.modules if m.startswith('stages.')))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(" ", 1) == ["stages.url_dedup", "['stages.keyed_dedup', 'stages.url_dedup']\n"]
    from pipeline.stage import registry

    built_in = {name: cls for name, cls in registry().items() if cls.__module__.startswith("stages.")}
    assert len(built_in) >= 15
    for name, cls in built_in.items():  # the convention that lookup relies on
        assert cls.__module__ == f"stages.{name}", name
