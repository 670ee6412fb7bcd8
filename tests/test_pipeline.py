"""The runner's promises: accounting, atomic commit, resume, determinism, kill-and-resume."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import ConfigError
from pipeline.runner import run_pipeline
from pipeline.stage import Decisions, Stage, register
from pipeline.stats import AccountingError
from pipeline.work import StageError
from tests.conftest import REPO, SAMPLE, make_config, tree_digest
from tests.processes import _kill_when, _session_pids

STAGES = [{"name": "read", "unit_bytes": 1 << 20, "part_rows": 400}, {"name": "normalize"}]


def sample_config(out: Path, **top):
    return make_config(out, [{"path": str(SAMPLE), "source": None}], STAGES, **top)


def parquet_rows(directory: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in directory.glob("*.parquet"))


def test_every_document_is_accounted_for(tmp_path):
    cfg = sample_config(tmp_path / "out", executor="inline")
    runs = run_pipeline(cfg)
    for run in runs:
        stats = json.loads((run.directory / "stats.json").read_text())
        kept, rejected = parquet_rows(run.directory / "kept"), parquet_rows(run.directory / "rejected")
        assert stats["in"] == stats["kept"] + sum(stats["rejected"].values())
        assert (kept, rejected) == (stats["kept"], stats["rejected_total"])
        manifest = json.loads((run.directory / "_SUCCESS").read_text())
        assert manifest["kept"] == kept and all(len(f["sha256"]) == 64 for f in manifest["files"]["kept"])
    # the read stage's input is every record of the sample; normalize's is read's kept output
    assert runs[1].stats.docs_in == runs[0].stats.kept
    assert runs[0].stats.docs_in > 2000


def test_outputs_open_with_pandas_and_duckdb_in_stable_column_order(tmp_path):
    runs = run_pipeline(sample_config(tmp_path / "out", executor="inline"))
    kept = runs[-1].directory / "kept"
    files = sorted(kept.glob("*.parquet"))
    assert len(files) > 1  # unit_bytes/part_rows split the sample into several parts
    schema = pq.read_schema(files[0])
    assert schema.names[:6] == ["id", "text", "url", "source", "timestamp", "metadata"]
    assert schema.names[-2:] == ["normalize_bytes_removed", "normalize_lines_joined"]  # each stage's, after
    assert pq.ParquetFile(files[0]).metadata.row_group(0).num_rows <= 1024
    pd = pytest.importorskip("pandas")
    df = pd.concat(pd.read_parquet(f) for f in files)
    assert len(df) == runs[-1].stats.kept
    duckdb = pytest.importorskip("duckdb")
    n = duckdb.sql(f"select count(*) from read_parquet('{kept}/*.parquet', union_by_name=true)").fetchall()[0][0]
    assert n == runs[-1].stats.kept


def test_rerun_skips_committed_stages_and_from_redoes_them(tmp_path):
    cfg = sample_config(tmp_path / "out", executor="inline")
    first = run_pipeline(cfg)
    before = tree_digest(cfg.output and Path(cfg.output))
    again = run_pipeline(cfg)
    assert [r.skipped for r in first] == [False, False] and [r.skipped for r in again] == [True, True]
    redo = run_pipeline(cfg, from_stage="normalize")
    assert [r.skipped for r in redo] == [False]
    assert tree_digest(Path(cfg.output)) == before


def test_changed_config_redoes_the_stage_and_its_successors(tmp_path):
    cfg = sample_config(tmp_path / "out", executor="inline")
    run_pipeline(cfg)
    cfg.stages[0].config.max_bytes = 20_000
    runs = run_pipeline(cfg)
    assert [r.skipped for r in runs] == [False, False]
    assert runs[0].stats.rejected.get("too_long", 0) > 0


def test_only_needs_a_committed_input_stage(tmp_path):
    cfg = sample_config(tmp_path / "out", executor="inline")
    with pytest.raises(ConfigError, match="not committed"):
        run_pipeline(cfg, only="normalize")
    run_pipeline(cfg, only="read")
    assert [r.entry.name for r in run_pipeline(cfg, only="normalize")] == ["normalize"]


def test_partial_stage_directory_is_cleaned_and_redone(tmp_path):
    cfg = sample_config(tmp_path / "out", executor="inline")
    run_pipeline(cfg)
    reference = tree_digest(Path(cfg.output))
    stage_dir = Path(cfg.output) / "01-normalize"
    (stage_dir / "_SUCCESS").unlink()  # as if killed between the rename and the manifest
    victim = sorted((stage_dir / "kept").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    (Path(cfg.output) / ".01-normalize.tmp").mkdir()  # and a stale temp dir
    runs = run_pipeline(cfg)
    assert [r.skipped for r in runs] == [True, False]
    assert tree_digest(Path(cfg.output)) == reference
    assert not (Path(cfg.output) / ".01-normalize.tmp").exists()


@dataclass
class _DropConfig:
    pass


@register
class _DropsRows(Stage):
    """A broken stage: loses rows instead of rejecting them."""

    name = "test_drops_rows"
    Config = _DropConfig

    def process(self, batch: pa.Table) -> Decisions:
        half = batch.slice(0, batch.num_rows // 2)
        return Decisions.keep_all(half)


def test_a_stage_that_drops_rows_fails_loudly_and_commits_nothing(tmp_path):
    cfg = make_config(tmp_path / "out", [str(SAMPLE / "wiki")],
                      [{"name": "read"}, {"name": "test_drops_rows"}], executor="inline")
    with pytest.raises(StageError, match="must reject rows, never drop them"):
        run_pipeline(cfg)
    assert not (tmp_path / "out/01-test_drops_rows/_SUCCESS").exists()


def test_accounting_check_rejects_a_mismatch():
    from pipeline.stats import StageStats

    s = StageStats("x", docs_in=10, kept=7, rejected={"empty": 2})
    with pytest.raises(AccountingError, match="10 documents in, but 7 kept"):
        s.check()


def test_same_output_with_one_and_two_ray_workers_and_inline(tmp_path, ray_executor):
    digests = []
    for workers in (1, 2):
        cfg = sample_config(tmp_path / f"w{workers}", workers=workers)
        run_pipeline(cfg, executor=ray_executor)
        digests.append(tree_digest(Path(cfg.output)))
    cfg = sample_config(tmp_path / "inline", executor="inline")
    run_pipeline(cfg)
    digests.append(tree_digest(Path(cfg.output)))
    assert digests[0] == digests[1] == digests[2]
    assert len(digests[0]) > 4


@pytest.mark.slow
def test_kill_9_at_several_points_then_rerun_gives_identical_output(tmp_path):
    config = tmp_path / "c.yaml"
    inputs = "\n".join(f"  - {SAMPLE / d}" for d in ["wiki", "manpages", "handbook", "books", "fortunes", "web"])
    config.write_text(f"input:\n{inputs}\nworkers: 2\nexecutor: ray\nstages:\n"
                      "  - {name: read, unit_bytes: 300000, part_rows: 200}\n  - {name: normalize}\n")
    cmd = [sys.executable, "-m", "pipeline.cli", "-q", "run", str(config), "--output"]
    ref = tmp_path / "ref"
    subprocess.run(cmd + [str(ref)], check=True, capture_output=True)
    reference = tree_digest(ref)

    out = tmp_path / "killed"
    kill_points = [
        lambda: any((out / ".00-read.tmp/kept").glob("*.parquet")),        # mid read
        lambda: any((out / ".01-normalize.tmp/kept").glob("*.parquet")),   # mid normalize
        lambda: (out / "01-normalize").is_dir(),                           # renamed, manifest racing
    ]
    for condition in kill_points:
        _kill_when(cmd + [str(out)], condition)
        for manifest_path in out.glob("*/_SUCCESS"):  # whatever is committed is whole
            manifest = json.loads(manifest_path.read_text())
            listed = {f["path"] for files in manifest["files"].values() for f in files if not f.get("in_place")}
            present = {str(p.relative_to(manifest_path.parent)) for p in manifest_path.parent.glob("*/*.parquet")}
            assert listed == present
    subprocess.run(cmd + [str(out)], check=True, capture_output=True)
    assert tree_digest(out) == reference
    assert not list(out.glob(".*.tmp"))
    for stats in out.glob("*/stats.json"):
        s = json.loads(stats.read_text())
        assert s["in"] == s["kept"] + s["rejected_total"]


@pytest.mark.slow
def test_a_ray_worker_killed_mid_stage_is_retried_with_identical_output(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"input: [{SAMPLE}]\nworkers: 2\nexecutor: ray\nstages:\n"
                      "  - {name: read, unit_bytes: 300000, part_rows: 200}\n  - {name: quality}\n")
    cmd = [sys.executable, "-m", "pipeline.cli", "-q", "run", str(config), "--output"]
    ref = subprocess.run(cmd + [str(tmp_path / "ref"), "--inline"], capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr[-3000:]  # SIGSEGV once: trafilatura on two threads (html.py)
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(out)], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any((out / ".01-quality.tmp/kept").glob("*.parquet")):  # mid-stage: some units done
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    workers = [pid for pid in _session_pids(proc.pid)
               if b"_StageWorker" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert workers, "no stage worker found"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert tree_digest(out) == tree_digest(tmp_path / "ref")


STAGE_SOURCE = '''
from dataclasses import dataclass
import pyarrow as pa
import pyarrow.compute as pc
from pipeline.stage import Decisions, Stage, register

SUFFIX = "{suffix}"

@dataclass
class _Options:
    pass

@register
class Marks(Stage):
    name = "test_marks"
    Config = _Options

    def process(self, batch: pa.Table) -> Decisions:
        text = pc.binary_join_element_wise(batch.column("text"), pa.scalar(SUFFIX), "")
        return Decisions.keep_all(batch.set_column(batch.column_names.index("text"), "text", text))
'''


def test_editing_a_stage_s_code_redoes_it_without_from(tmp_path, monkeypatch):
    import importlib

    import pipeline.stage

    monkeypatch.setattr(pipeline.stage, "_REGISTRY", dict(pipeline.stage.registry()))  # undone after the test
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "curate_test_marks.py"
    module.write_text(STAGE_SOURCE.format(suffix=" [v1]"))
    importlib.import_module("curate_test_marks")
    cfg = make_config(tmp_path / "out", [str(SAMPLE / "wiki")], [{"name": "read"}, {"name": "test_marks"}],
                      executor="inline")
    first = run_pipeline(cfg)
    assert not first[1].skipped and run_pipeline(cfg)[1].skipped  # unchanged code: up to date
    module.write_text(STAGE_SOURCE.format(suffix=" [v2]"))
    del pipeline.stage._REGISTRY["test_marks"]  # an edited stage is a new class of the same name
    importlib.reload(importlib.import_module("curate_test_marks"))
    again = run_pipeline(cfg)
    assert again[0].skipped and not again[1].skipped  # read's code did not change; the stage's did
    text = pq.read_table(next((tmp_path / "out/01-test_marks/kept").glob("*.parquet"))).column("text")[0].as_py()
    assert text.endswith(" [v2]")


def _imports_by_ast(name: str, path) -> set[str]:
    """What the code hash counts as a module's project imports, read from its syntax tree."""
    import ast
    import importlib.util

    from pipeline.manifest import _in_project, _is_module

    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if _in_project(base) and _is_module(f"{base}.{a.name}"))
    return {m for m in found if _in_project(m)}


IMPORT_FORMS = '''"""A module that imports the ways people write it."""
from __future__ import annotations
import os, pipeline.schema as schema_module  # a comment
from . import stats
from .parts import (PartWriter,  # the writer
                    iter_batches)
from pipeline.readers import jsonl, \\
    parquet


def lazy():
    from stages import keyed_dedup
    import stages.ngrams
'''


def test_the_code_hash_finds_the_imports_the_syntax_tree_holds(tmp_path):
    """The code hash finds imports line by line (ast.parse cost every command ~0.08 s): the same
    modules as the syntax tree, for every module of the project and the forms of IMPORT_FORMS."""
    from pipeline.manifest import _parse_imports

    forms = tmp_path / "forms.py"
    forms.write_text(IMPORT_FORMS)
    expected = {"pipeline.schema", "pipeline", "pipeline.stats", "pipeline.parts", "pipeline.readers",
                "pipeline.readers.jsonl", "pipeline.readers.parquet", "stages", "stages.keyed_dedup", "stages.ngrams"}
    assert _imports_by_ast("pipeline.forms", forms) == expected
    assert _parse_imports("pipeline.forms", forms) == expected
    modules = [p for d in ("pipeline", "stages") for p in (REPO / d).rglob("*.py")]
    assert len(modules) > 40
    for path in modules:
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        assert _parse_imports(name, path) == _imports_by_ast(name, path), name


def test_retention_drops_rejected_text_and_superseded_parts_and_resumes_to_the_same_bytes(tmp_path):
    stages = [{"name": "read", "unit_bytes": 300000, "part_rows": 200}, {"name": "normalize"}, {"name": "quality"},
              {"name": "exact_dedup"}]
    inputs = [str(SAMPLE / d) for d in ("wiki", "fortunes", "books")]
    full = make_config(tmp_path / "full", inputs, stages, executor="inline")
    run_pipeline(full)
    lean = make_config(tmp_path / "lean", inputs, stages, executor="inline", rejected_text="drop",
                       keep_stage_outputs="last")
    run_pipeline(lean)
    out = tmp_path / "lean"
    # every stage but the last lost its kept parts; accounting and the last stage's bytes are as in full
    for d in ("00-read", "01-normalize", "02-quality"):
        assert not list((out / d / "kept").glob("*.parquet")) and (out / d / "_PRUNED").is_file()
    last_stage = {k: v for k, v in tree_digest(tmp_path / "full", kinds=("kept",)).items() if k.startswith("03-")}
    assert last_stage and tree_digest(out, kinds=("kept",)) == last_stage
    rejected = pq.read_table(out / "02-quality/rejected").to_pylist()
    per_reason: dict = {}
    for r in rejected:
        per_reason.setdefault(r["reject_reason"], []).append(r)
    assert len(rejected) > 100 and {"id", "reject_reason", "metadata", "q_top_2gram_char_frac"} <= set(rejected[0])
    assert all(sum(r["text"] is not None for r in rows) >= 1 for rows in per_reason.values())  # samples stay
    assert sum(r["text"] is None for r in rejected) > 0.8 * len(rejected)
    # re-run: all up to date; then redoing the last stage makes the deleted parts again, same bytes
    assert all(r.skipped for r in run_pipeline(lean))
    redo = run_pipeline(lean, from_stage="exact_dedup")
    assert [r.directory.name for r in redo] == ["03-exact_dedup"]
    assert tree_digest(out, kinds=("kept",)) == last_stage
    assert (out / "02-quality/_PRUNED").is_file()  # pruned again after the run


@pytest.mark.slow
def test_kill_9_inside_a_stage_then_rerun_redoes_only_unfinished_units(tmp_path):
    config = tmp_path / "c.yaml"
    # small parts: many short units, so the kill lands mid-stage even when the machine is busy
    config.write_text(f"input: [{SAMPLE}]\nexecutor: inline\nstages:\n"
                      "  - {name: read, unit_bytes: 300000, part_rows: 50}\n  - {name: quality}\n"
                      "  - {name: minhash_dedup}\n")
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(config), "--output"]
    ref = tmp_path / "ref"
    subprocess.run(cmd + [str(ref)], check=True, capture_output=True)
    out = tmp_path / "killed"
    for stage in ("01-quality", "02-minhash_dedup"):  # a row-local stage, then a global one
        units = out / f".{stage}.tmp/_units"
        _kill_when(cmd + [str(out)], lambda: len(list(units.glob("*.json"))) >= 3)
        assert not (out / stage).exists()
        rerun = subprocess.run(cmd + [str(out), "--only", stage.split("-", 1)[1]], capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        resumed = re.search(rf"\[{stage}\] (\d+) units .*resuming: (\d+) of (\d+) units already done", rerun.stderr)
        assert resumed, rerun.stderr[-2000:]
        todo, done, total = map(int, resumed.groups())
        assert done >= 3 and todo == total - done and total > done
        if stage.startswith("02"):
            assert "analysis done by an earlier attempt, reused" in rerun.stderr
    assert tree_digest(out) == tree_digest(ref)
    for stats in out.glob("*/stats.json"):
        s = json.loads(stats.read_text())
        assert s["in"] == s["kept"] + s["rejected_total"]


def test_every_row_local_stage_answers_an_empty_batch():
    """A batch of no rows (a filter upstream of a stage inside one process can leave one) gets no
    decisions, not a crash: `first_reason` got untyped empty masks from the perplexity stage."""
    from pipeline.stage import GlobalStage, SourceStage, registry

    empty = pa.table({c: pa.array([], pa.string()) for c in ("id", "text", "url", "source", "language")})
    for name, cls in sorted(registry().items()):
        if issubclass(cls, (GlobalStage, SourceStage)):
            continue
        stage = cls(cls.Config())
        stage.setup()
        d = stage.process(empty)
        assert d.table.num_rows == 0 and len(d.reject) == 0, name


_RAY_STARTED_AND_STOPPED = r"""
import os, ray
from pipeline.executors import RayExecutor
started_api_server = ray._private.node.Node.start_api_server
dependency_error = ray._private.utils.get_dashboard_dependency_error
get_node = ray._private.services.get_node
ex = RayExecutor(num_cpus=1)
node = ray._private.worker._global_node
pids = {kind: [i.process.pid for i in infos] for kind, infos in node.all_processes.items()}
raylet = open(f"/proc/{pids['raylet'][0]}/cmdline").read().split("\0")
print("agents", [a.split()[-2:] for a in raylet if a.startswith("--dashboard_agent_command=")])
print(sorted(pids), ray._private.node.Node.start_api_server is started_api_server
      and ray._private.utils.get_dashboard_dependency_error is dependency_error
      and ray._private.services.get_node is get_node)
monitor, waited_for = node.all_processes["monitor"][0].process, []
terminate = monitor.terminate
monitor.terminate = lambda: (waited_for.append("monitor"), terminate())  # ray.shutdown's SIGTERM, then up to 1 s
ex.shutdown()
alive = []
for kind, ps in pids.items():
    for pid in ps:
        try:
            os.kill(pid, 0)
            if open(f"/proc/{pid}/stat").read().split()[2] != "Z":
                alive.append(kind)
        except (ProcessLookupError, FileNotFoundError):
            pass
print(alive, waited_for)
"""


def test_a_local_ray_instance_starts_no_api_server_and_leaves_no_process_behind():
    """A command's own instance runs without the dashboard process (its start cost every command
    ~0.5 s), with a minimal dashboard agent (the raylet waits for it) and without waiting for
    Ray's once-a-second lookup of the node; Ray's own functions are put back afterwards; shutting down kills the autoscaler monitor instead of waiting for it to
    heed SIGTERM."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    r = subprocess.run([sys.executable, "-c", _RAY_STARTED_AND_STOPPED], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    kinds, restored = r.stdout.split("\n")[-3].rsplit(" ", 1)
    assert "monitor" in kinds and "raylet" in kinds and "dashboard" not in kinds and restored == "True", r.stdout
    assert r.stdout.split("\n")[-4] == "agents [['--minimal', '--head']]", r.stdout
    assert r.stdout.split("\n")[-2] == "[] []", r.stdout


def test_stages_of_a_run_share_warm_ray_workers(ray_executor):
    """The next stage reuses the workers of the one before when it asks for the same resources
    (each call names its stage, which a worker builds the first time); other resources get new
    workers, and releasing them ends them all."""
    from pipeline.stage import Resources, stage_class

    batch = pa.table({"id": ["a", "b"], "text": ["Cafe\u0301  menu\u00a0today.", "x"]})
    ids = lambda pool: [a._actor_id.hex() for a in pool.actors]  # noqa: E731
    with ray_executor.pool("normalize", stage_class("normalize").Config(), 0, 2, Resources()) as first:
        normalized = first.map("process", [(batch,), (batch,)])
    with ray_executor.pool("quality", stage_class("quality").Config(), 0, 1, Resources()) as second:
        judged = second.map("process", [(batch,)])
    assert ids(second) == ids(first)[:1]
    assert "normalize_bytes_removed" in normalized[0].table.column_names
    assert "q_words" in judged[0].table.column_names and "normalize_bytes_removed" not in judged[0].table.column_names
    assert None not in judged[0].reject.to_pylist()  # two short texts: rejected
    with ray_executor.pool("normalize", stage_class("normalize").Config(), 0, 1, Resources(num_cpus=0.5)) as third:
        assert third.map("process", [(batch,)])[0].table.equals(normalized[0].table)
    assert not set(ids(third)) & set(ids(first))
    ray_executor.release_workers()
    assert ray_executor._actors == []
