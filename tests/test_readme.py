"""The README's commands, run exactly as written: a README example that stops working fails CI.

Every ```bash block of README.md is run, in order, as one bash script with `set -e`, in a
workspace that looks like a fresh clone after `make setup` (the repository's files, no `out/`).
A block that cannot run here must be listed in NOT_RUN with the reason, so a new block is run by
default rather than forgotten.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# first line of a block -> why this test does not run it
NOT_RUN = {
    "make run": "CI runs `make test` then `make run` itself (.ci/run); running make test here would recurse",
    "# 1. drive from a machine that reaches the cluster": "needs a cluster at HEAD:6379 and /shared/fs; "
                                                          "tests/test_cluster.py runs both ways on a local two-node cluster",
    "export AWS_ACCESS_KEY_ID": "needs an S3 bucket with credentials; tests/test_object_store.py runs the same "
                                "commands against a moto S3 server",
}


def readme_blocks() -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", (REPO / "README.md").read_text(encoding="utf-8"), re.S | re.M)


def _workspace(root: Path) -> Path:
    """The repository as a fresh clone after `make setup` would have it: no outputs yet. The
    virtual environment is the real one, entry by entry, with a set-up stamp of its own: a `make`
    in the workspace must never re-install the package into it from the workspace's path (which
    would leave the real `curate` script pointing at this temporary directory)."""
    ws = root / "clone"
    ws.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {"out", ".git", ".pytest_cache", ".venv"}:
            (ws / entry.name).symlink_to(entry)
    venv = REPO / ".venv"
    if venv.is_dir():
        (ws / ".venv").mkdir()
        for entry in venv.iterdir():
            if entry.name != ".installed":
                (ws / ".venv" / entry.name).symlink_to(entry)
        (ws / ".venv/.installed").touch()  # newer than pyproject.toml: set up, as in the real checkout
    return ws


def test_every_readme_block_is_run_or_says_why_not():
    firsts = [b.splitlines()[0].split("#")[0].strip() or b.splitlines()[0] for b in readme_blocks()]
    for key in NOT_RUN:
        assert any(f.startswith(key) for f in firsts), f"NOT_RUN names a block the README no longer has: {key}"
    assert len(readme_blocks()) - len(NOT_RUN) >= 2


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    ws = _workspace(tmp_path)
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    ran = 0
    for block in readme_blocks():
        if any(block.startswith(key) for key in NOT_RUN):
            continue
        r = subprocess.run(["bash", "-euo", "pipefail", "-xc", block], cwd=ws, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"README block failed:\n{block}\n--- stderr (end) ---\n{r.stderr[-4000:]}"
        ran += 1
    assert ran >= 2
    out = ws / "out"
    # what the commands promise, checked on what they wrote
    stats = json.loads(subprocess.run([str(venv_bin / "curate"), "stats", "out/default", "--json"], cwd=ws,
                                      env=env, capture_output=True, text=True, check=True).stdout)
    assert len(stats["stages"]) == 15 and all(s["in"] == s["kept"] + s["rejected_total"]
                                              for s in stats["stages"].values())
    assert (out / "default/14-mix/shards/train-00000.parquet").is_file()
    assert (out / "default/report.html").stat().st_size > 10_000
    assert (out / "bw/14-mix/_SUCCESS").is_file()
    try_stats = json.loads((out / "try/01-normalize/stats.json").read_text())
    assert try_stats["in"] > 300  # man pages and books
    tokenizer = json.loads((out / "gpt124m/tokenizer.json").read_text())
    meta = json.loads((out / "gpt124m/tokens/meta.json").read_text())
    assert meta["vocab_size"] == len(tokenizer["model"]["vocab"]) > 4096
    assert meta["splits"]["train"]["tokens"] > 100_000
