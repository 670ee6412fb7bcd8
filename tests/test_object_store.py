"""Inputs and outputs in an object store: a real S3 API server (moto in server mode, as s3fs and
pyarrow test themselves) on the loopback address, reached through the usual AWS_* variables."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.runner import committed_stages, run_pipeline
from pipeline.storage import Loc, _filesystem
from tests.conftest import REPO, SAMPLE, make_config
from tests.processes import _kill_when

BUCKET = "curate"


@pytest.fixture(scope="module")
def s3():
    """A bucket on a moto S3 server; the AWS_* variables point every process at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _filesystem.cache_clear()  # a filesystem made for an earlier endpoint must not be reused
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    for f in sorted(SAMPLE.rglob("*")):
        if f.is_file():
            # under the sample directory's own name: ids and sources derive from it
            client.upload_file(str(f), BUCKET, f"{SAMPLE.name}/{f.relative_to(SAMPLE).as_posix()}")
    yield client
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _filesystem.cache_clear()


def objects(client, prefix: str) -> dict[str, str]:
    """sha256 of every object under `prefix`, by its key relative to the prefix (but for the empty
    `dir/` markers pyarrow leaves where it deleted a directory's last object)."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            if o["Key"].endswith("/"):
                continue
            body = client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            out[o["Key"][len(prefix):]] = hashlib.sha256(body).hexdigest()
    return out


def local_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def data_files(files: dict[str, str]) -> dict[str, str]:
    """The parts and shards: what must be byte-identical (manifests hold input hashes, and an
    object's modification time differs from a local file's)."""
    return {k: v for k, v in files.items() if k.endswith(".parquet")}


def test_loc_names_and_files_in_a_bucket(s3):
    d = Loc(f"s3://{BUCKET}/scratch/")
    assert str(d) == f"s3://{BUCKET}/scratch" and d.name == "scratch" and not d.local
    f = d / "a" / "x.json"
    assert (f.name, f.stem, f.parent.name, f.relative_to(d)) == ("x.json", "x", "a", "a/x.json")
    assert not f.exists() and not d.is_dir()
    with pytest.raises(FileNotFoundError):
        f.read_bytes()
    f.write_text('{"k": 1}')
    (d / "a" / "y.json").write_bytes(b"{}")
    (d / "b" / "z.parquet").write_bytes(b"PAR1")
    assert f.is_file() and d.is_dir() and json.loads(f.read_text()) == {"k": 1} and f.size() == 8
    assert [x.relative_to(d) for x in d.files(recursive=True)] == ["a/x.json", "a/y.json", "b/z.parquet"]
    assert [x.name for x in d.dirs()] == ["a", "b"]
    assert [x.relative_to(d) for x in d.glob("*/*.json")] == ["a/x.json", "a/y.json"]
    assert [x.relative_to(d) for x in d.glob("b/*.parquet")] == ["b/z.parquet"]
    (d / "a").rmtree()
    assert [x.relative_to(d) for x in d.files(recursive=True)] == ["b/z.parquet"]
    d.rmtree()
    assert not d.files(recursive=True) and not d.exists()


def _default_config(output: str, inputs: str | Path, executor: str = "inline"):
    """configs/default.yaml with its inputs under `inputs` (a directory or a bucket prefix)."""
    cfg = load_config(REPO / "configs/default.yaml")
    cfg.input = [dataclasses.replace(i, path=f"{inputs}/{Path(i.path).name}") for i in cfg.input]
    cfg.output, cfg.executor = output, executor
    for entry in cfg.stages:
        if entry.name == "decontaminate":  # a repo file, wherever the test runs from
            entry.config.eval_sets = [str(REPO / p) for p in entry.config.eval_sets]
    return cfg


def test_default_pipeline_with_input_and_output_in_a_bucket_writes_the_bytes_of_local_disk(s3, tmp_path, ray_executor):
    local = tmp_path / "local"
    run_pipeline(_default_config(str(local), SAMPLE))
    uri = f"s3://{BUCKET}/out-default"
    runs = run_pipeline(_default_config(uri, f"s3://{BUCKET}/{SAMPLE.name}", executor="ray"), executor=ray_executor)
    assert [r.entry.name for r in runs][-1] == "mix" and not any(r.skipped for r in runs)

    remote, on_disk = objects(s3, "out-default/"), local_files(local)
    assert set(remote) == set(on_disk)  # no scratch (_work, _units, _ATTEMPT) left
    assert data_files(remote) == data_files(on_disk)
    assert any(k.startswith("14-mix/shards/train-") for k in remote)
    for name, stats in committed_stages(uri):
        assert stats.docs_in == stats.kept + stats.rejected_total, name
        assert stats.to_json()["in"] == json.loads((local / name / "stats.json").read_text())["in"]
    # what a committed stage lists is all its directory holds
    for name, _ in committed_stages(uri):
        manifest = json.loads(Loc(f"{uri}/{name}/_SUCCESS").read_bytes())
        listed = {f["path"] for files in manifest["files"].values() for f in files if not f.get("in_place")}
        held = {k.split("/", 1)[1] for k in remote if k.startswith(f"{name}/")}
        assert held - listed <= {"stats.json", "manifest.json", "_SUCCESS"}, name
    assert all(r.skipped for r in run_pipeline(_default_config(uri, f"s3://{BUCKET}/{SAMPLE.name}"))), "re-run: up to date"

    from pipeline.cli import main

    assert main(["stats", uri, "--json"]) == 0


def test_retention_in_a_bucket_prunes_and_regenerates_as_on_disk(s3, tmp_path):
    stages = [{"name": "read", "unit_bytes": 300000, "part_rows": 200}, {"name": "normalize"}, {"name": "exact_dedup"}]
    lean = {"executor": "inline", "rejected_text": "drop", "keep_stage_outputs": "last"}
    local = tmp_path / "lean"
    run_pipeline(make_config(local, [SAMPLE / "wiki", SAMPLE / "fortunes"], stages, **lean))
    uri = f"s3://{BUCKET}/out-lean"
    cfg = make_config(uri, [f"s3://{BUCKET}/{SAMPLE.name}/wiki", f"s3://{BUCKET}/{SAMPLE.name}/fortunes"], stages, **lean)
    run_pipeline(cfg)
    remote = objects(s3, "out-lean/")
    assert data_files(remote) == data_files(local_files(local))
    assert "00-read/_PRUNED" in remote and not [k for k in remote if k.startswith(("00-read/kept/", "01-normalize/kept/"))]
    redo = run_pipeline(cfg, from_stage="exact_dedup")  # needs normalize's deleted parts: made again
    assert [r.entry.name for r in redo] == ["exact_dedup"]
    assert data_files(objects(s3, "out-lean/")) == data_files(remote)


@pytest.mark.slow
def test_kill_9_in_a_bucket_then_rerun_redoes_only_unfinished_units_to_the_same_bytes(s3, tmp_path):
    stages = [{"name": "read", "unit_bytes": 300000, "part_rows": 150}, {"name": "quality"}, {"name": "minhash_dedup"}]
    ref = tmp_path / "ref"
    run_pipeline(make_config(ref, [SAMPLE], stages, executor="inline"))
    out = f"s3://{BUCKET}/out-killed"
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"input": [f"s3://{BUCKET}/{SAMPLE.name}"], "output": out, "executor": "inline",
                                  "stages": stages}))  # JSON is YAML
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(config)]
    for stage in ("01-quality", "02-minhash_dedup"):  # a row-local stage, then a global one
        units = Loc(f"{out}/{stage}/_units")
        _kill_when(cmd, lambda: len(units.files()) >= 3, timeout=180)
        assert not Loc(f"{out}/{stage}/_SUCCESS").exists()
        # an object a dead attempt left that no unit writes again: deleted at commit, never listed
        stray = f"out-killed/{stage}/kept/part-99999.parquet"
        s3.put_object(Bucket=BUCKET, Key=stray, Body=b"stray")
        rerun = subprocess.run(cmd + ["--only", stage.split("-", 1)[1]], capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        resumed = re.search(rf"\[{stage}\] (\d+) units .*resuming: (\d+) of (\d+) units already done", rerun.stderr)
        assert resumed, rerun.stderr[-3000:]
        todo, done, total = map(int, resumed.groups())
        assert done >= 3 and todo == total - done and total > done
        if stage.startswith("02"):
            assert "analysis done by an earlier attempt, reused" in rerun.stderr
        assert not Loc(f"s3://{BUCKET}/{stray}").exists()

    remote = objects(s3, "out-killed/")
    assert data_files(remote) == data_files(local_files(ref))
    assert not [k for k in remote if "/_units/" in k or "/_work/" in k or k.endswith("_ATTEMPT")]
    for name, stats in committed_stages(out):
        assert stats.docs_in == stats.kept + stats.rejected_total, name


def test_a_filesystem_only_fsspec_knows_works_too(tmp_path):
    """memory:// is not a pyarrow filesystem: Loc reaches it through fsspec (one per process, so inline)."""
    stages = [{"name": "read"}, {"name": "normalize"}, {"name": "exact_dedup"}]
    run_pipeline(make_config(tmp_path / "local", [SAMPLE / "fortunes"], stages, executor="inline"))
    run_pipeline(make_config("memory://curate-test/out", [SAMPLE / "fortunes"], stages, executor="inline"))
    out = Loc("memory://curate-test/out")
    remote = {f.relative_to(out): hashlib.sha256(f.read_bytes()).hexdigest() for f in out.files(recursive=True)}
    assert data_files(remote) == data_files(local_files(tmp_path / "local")) and data_files(remote)
    assert [name for name, _ in committed_stages("memory://curate-test/out")] == \
        ["00-read", "01-normalize", "02-exact_dedup"]
