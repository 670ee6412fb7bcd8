"""A miniature ablation (two variants, a few steps) so `make ablate`'s path keeps working."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_miniature_ablation_writes_results_for_both_variants(tmp_path):
    cmd = [sys.executable, "-m", "trainer.ablate", "--variants", "raw,curated", "--corpus-mb", "3",
           "--out", str(tmp_path / "ablate"), "--set", "train.steps=6", "--set", "train.eval_every=3",
           "--set", "train.log_every=3", "--set", "train.warmup_steps=1", "--set", "train.eval_batches=2",
           "--set", "train.checkpoint_every=6"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    results = (tmp_path / "ablate/RESULTS.md").read_text()
    # reproducible: the same command again gives the same numbers (the table, not the command line)
    again = [c if c != str(tmp_path / "ablate") else str(tmp_path / "again") for c in cmd]
    p = subprocess.run(again, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    table = lambda text: [l for l in text.splitlines() if l.startswith("| ")]  # noqa: E731
    assert table((tmp_path / "again/RESULTS.md").read_text()) == table(results)
    rows = {m.group(1): m for m in re.finditer(r"^\| (raw|curated) \|.*$", results, re.M)}
    assert set(rows) == {"raw", "curated"}
    svg = (tmp_path / "ablate/ablation.svg").read_text()
    assert svg.startswith("<svg") and "curated" in svg and "raw" in svg
    # the curated variant is a subset of the raw one: fewer tokens available
    avail = {k: int(v.group(0).split("|")[3].replace(",", "")) for k, v in rows.items()}
    assert avail["curated"] < avail["raw"]
    # every curated variant passed decontaminate with the held-out texts as its eval set: no
    # 13-gram of them (other than those too common to count) is left in its training shards
    import json

    import numpy as np
    import pyarrow.parquet as pq

    from stages.ngrams import ngram_hashes, words

    variant = tmp_path / "ablate/variants/curated"
    stats = json.loads(next(variant.glob("*-decontaminate/stats.json")).read_text())
    held_out = pq.read_table(tmp_path / "ablate/eval.parquet").column("text")
    assert stats["extra"]["eval_docs"] == len(held_out) > 100
    wh, off = words(held_out)
    h, noff = ngram_hashes(wh, off, 13, short_docs=False)
    pairs = np.unique(np.stack([h, np.repeat(np.arange(len(held_out)), np.diff(noff)).astype(np.uint64)], 1), axis=0)
    values, counts = np.unique(pairs[:, 0], return_counts=True)
    evidence = set(values[counts <= 10].tolist())
    shards = pq.read_table(next(variant.glob("*-mix/shards"))).column("text")
    wh, off = words(shards)
    assert not set(ngram_hashes(wh, off, 13, short_docs=False)[0].tolist()) & evidence
