"""The `curate` console script as a user types it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLE

CURATE = str(Path(sys.executable).parent / "curate")


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CURATE, *args], capture_output=True, text=True)


def test_help_explains_every_command():
    r = curate("--help")
    assert r.returncode == 0
    for word in ("run", "stage", "stats", "stages", "RAY_ADDRESS", "_SUCCESS"):
        assert word in r.stdout
    r = curate("run", "--help")
    for flag in ("--only", "--from", "--input", "--output"):
        assert flag in r.stdout


def test_stage_alone_on_jsonl_then_stats(tmp_path):
    out = tmp_path / "o"
    r = curate("stage", "normalize", "--input", str(SAMPLE / "web/cc-web.jsonl.gz"),
               str(SAMPLE / "fortunes/files"), "--output", str(out), "--inline", "-q")
    assert r.returncode == 0, r.stderr
    assert (out / "00-read/_SUCCESS").is_file() and (out / "01-normalize/_SUCCESS").is_file()
    r = curate("stats", str(out))
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["stage", "in", "kept", "rejected"]
    assert any(l.startswith("01-normalize") for l in lines)
    data = json.loads(curate("stats", str(out), "--json").stdout)["stages"]
    assert data["00-read"]["in"] == data["00-read"]["kept"] + data["00-read"]["rejected_total"]
    assert data["01-normalize"]["in"] == data["00-read"]["kept"]


def test_stats_lists_rejection_reasons(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "fine"}\n{"text": ""}\n\xff\n')
    out = tmp_path / "o"
    assert curate("stage", "read", "--input", str(bad), "--output", str(out), "--inline", "-q").returncode == 0
    r = curate("stats", str(out))
    assert "empty" in r.stdout and "invalid_utf8" in r.stdout


def test_stages_lists_options():
    r = curate("stages")
    assert "read:" in r.stdout and "max_bytes = 1000000" in r.stdout and "normalize:" in r.stdout


def test_stats_on_missing_dir_is_a_clear_error(tmp_path):
    r = curate("stats", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "no such output directory" in r.stderr


def test_small_input_runs_in_this_process_and_large_input_on_ray(tmp_path):
    # one document: no Ray start-up (the log says where each stage ran); same bytes as Ray would write
    doc = tmp_path / "one.jsonl"
    doc.write_text(json.dumps({"id": "a", "text": "Caf\u00e9  au lait\r\n\r\n\r\nis   served."}) + "\n")
    r = curate("stage", "normalize", "--input", str(doc), "--output", str(tmp_path / "auto"))
    assert r.returncode == 0, r.stderr
    assert "inline worker" in r.stderr and "ray" not in r.stderr.lower()
    r = curate("stage", "normalize", "--input", str(doc), "--output", str(tmp_path / "ray"), "--executor", "ray")
    assert r.returncode == 0 and "ray: local instance" in r.stderr and "ray worker" in r.stderr
    parts = [sorted((tmp_path / d / "01-normalize/kept").glob("*.parquet")) for d in ("auto", "ray")]
    assert [p.read_bytes() for p in parts[0]] == [p.read_bytes() for p in parts[1]]


def test_auto_executor_picks_by_the_stage_input_size(monkeypatch):
    import pipeline.executors
    from pipeline import runner

    # a stand-in for starting Ray: what is chosen is the question here, not Ray itself
    monkeypatch.setattr(pipeline.executors, "make_executor", lambda kind, num_cpus=None: type("R", (), {"name": kind})())
    cfg = runner.PipelineConfig(executor="auto")
    lazy = runner._LazyExecutor(cfg, None)
    assert lazy.get(runner.AUTO_INLINE_BYTES - 1).name == "inline"
    assert lazy.get(runner.AUTO_INLINE_BYTES).name == "ray"
    # 100 MB: a cheap stage (URL dedup, ~30 MB/s on one core) is done inline before Ray could have
    # started; an expensive one (langid, ~5 MB/s, a second thread adding a quarter) stays inline on
    # 50 MB and goes to Ray on 200 MB; once Ray runs, its start-up is paid and only the actors count
    from pipeline.stage import Resources, stage_class

    two = runner._LazyExecutor(runner.PipelineConfig(executor="auto", workers=2), None)
    assert two.get(100_000_000, stage_class("url_dedup").resources).name == "inline"
    assert two.get(50_000_000, stage_class("langid").resources).name == "inline"
    assert two.get(200_000_000, stage_class("langid").resources).name == "ray"
    # threads in this process (url_dedup) beat Ray's actors on 100 MB, not on 1 GB; a stage
    # without threads (normalize, ~5 MB/s) is worth the actors on 100 MB
    assert two.get(100_000_000, stage_class("url_dedup").resources).name == "inline"
    assert two.get(1_000_000_000, stage_class("url_dedup").resources).name == "ray"
    assert two.get(100_000_000, stage_class("normalize").resources).name == "ray"
    assert runner._LazyExecutor(runner.PipelineConfig(executor="auto", workers=1), None).get(
        100_000_000, Resources(mb_per_s=0.1)).name == "inline"  # one worker: Ray cannot share the work
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # a cluster is always used when there is one
    assert runner._LazyExecutor(cfg, None).get(10).name == "ray"
    assert runner._LazyExecutor(runner.PipelineConfig(executor="ray"), None).get(10).name == "ray"


def test_a_command_does_not_import_pandas_yet_pandas_still_works_after(tmp_path):
    # pyarrow imports pandas (~0.45 s with its teardown) at its first conversion unless told early
    out = tmp_path / "o"
    script = (
        "import sys\n"
        "from pipeline.cli import main\n"
        f"rc = main(['-q', 'stage', 'exact_dedup', '--inline', '--input', {str(SAMPLE / 'web/cc-web.jsonl.gz')!r},"
        f" '--output', {str(out)!r}])\n"
        "print(rc, 'pandas' in sys.modules)\n"
        "import pyarrow as pa\n"
        "print(pa.table({'a': ['x', None]}).to_pandas().shape, 'pandas' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("0 False\n(2, 1) True\n"), r.stdout


# Runs the CLI in-process, noting the settings native libraries read as they load when numpy
# (OpenBLAS: its thread count) and pyarrow (mimalloc: its purge delay) are first imported.
_SEEN_AT_LOAD = r"""
import importlib.abc, os, sys
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("numpy", "pyarrow") and name not in sys.modules:
            print(name, "saw", os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("MIMALLOC_PURGE_DELAY"),
                  flush=True)
        return None
sys.meta_path.insert(0, Watch())
from pipeline.cli import main
main(["stages"])
"""


def test_native_libraries_load_with_one_blas_thread_and_freed_memory_kept_unless_told_otherwise():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MIMALLOC_PURGE_DELAY", "OPENBLAS_NUM_THREADS")}
    r = subprocess.run([sys.executable, "-c", _SEEN_AT_LOAD], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    seen = sorted(line for line in r.stdout.splitlines() if " saw " in line)
    assert seen == ["numpy saw 1 -1", "pyarrow saw 1 -1"], seen
    r = subprocess.run([sys.executable, "-c", _SEEN_AT_LOAD], capture_output=True, text=True,
                       env={**env, "MIMALLOC_PURGE_DELAY": "250", "OPENBLAS_NUM_THREADS": "2"})
    assert sorted(line for line in r.stdout.splitlines() if " saw " in line) == ["numpy saw 2 250", "pyarrow saw 2 250"]
