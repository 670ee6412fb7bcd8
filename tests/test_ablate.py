"""`make ablate`: equal token budgets, seeds and their statistics, held-out text kept out of every
variant and of the tokenizer, and a miniature run end to end."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import ConfigError
from trainer.ablate import AblateConfig, Pool, draw, draw_order, load_ablate_config, steps_for
from trainer.ablate_corpus import SHARED
from trainer.ablate_report import difference

REPO = Path(__file__).resolve().parents[1]
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")


def _pool(lengths: list[int], ids: list[str] | None = None) -> Pool:
    flat = np.concatenate([np.full(n, i, np.uint16) for i, n in enumerate(lengths)])
    return Pool(flat, np.array(lengths, np.uint64), np.array(lengths, np.int64) * 4,
                ids or [f"doc-{i}" for i in range(len(lengths))])


def test_draw_takes_exactly_the_budget_in_a_seeded_order():
    pool = _pool([50, 120, 7, 300, 64, 90, 33])
    flat, lengths, _ = draw(pool, 400, seed=1)
    assert flat.size == 400 == int(lengths.sum())
    # whole documents in the seed's order, the last one cut
    order = draw_order(pool.ids, 1)
    ids = [int(flat[int(s)]) for s in np.concatenate([[0], np.cumsum(lengths)[:-1]])]
    assert ids == order[:len(ids)].tolist()
    assert lengths[-1] <= pool.lengths[order[len(ids) - 1]]
    again, _, _ = draw(pool, 400, seed=1)
    other, _, _ = draw(pool, 400, seed=2)
    assert np.array_equal(flat, again) and not np.array_equal(flat, other)
    with pytest.raises(ValueError, match="fewer than the budget of 1,000"):
        draw(pool, 1000, seed=1)


def test_variants_keeping_the_same_documents_draw_the_same_ones():
    """Common random numbers: a document's place in the draw depends on its id and the seed, not
    on which other documents a variant kept."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 400, 300).tolist()
    ids = [f"doc-{i}" for i in range(300)]
    full = _pool(lengths, ids)
    dropped = set(range(0, 300, 10))  # a stage that removed every 10th document
    keep = [i for i in range(300) if i not in dropped]
    fewer = _pool([lengths[i] for i in keep], [ids[i] for i in keep])
    for seed in (1, 2, 3):
        a = [full.ids[i] for i in draw_order(full.ids, seed)[:100]]
        b = [fewer.ids[i] for i in draw_order(fewer.ids, seed)[:90]]
        assert [x for x in a if int(x[4:]) not in dropped][:80] == b[:80]


def test_steps_read_each_token_at_most_epochs_times():
    cfg = AblateConfig(token_budget=1_000_000, epochs=1)
    steps = steps_for(cfg, block_size=256, windows_per_step=8)
    assert steps * 8 * 256 <= 1_000_000 < (steps + 1) * 8 * 256 + 256
    cfg.epochs = 2
    assert steps_for(cfg, 256, 8) * 8 * 256 <= 2_000_000


@pytest.mark.parametrize("bad, match", [
    ({"epochs": 3}, "at most 2"),
    ({"variants": {"no-decon": ["decontaminate"]}}, "cannot be left out"),
    ({"seeds": [1, 1]}, "distinct"),
])
def test_bad_ablation_configs_are_refused(tmp_path, bad, match):
    import yaml

    path = tmp_path / "ablate.yaml"
    path.write_text(yaml.safe_dump({"variants": {"raw": ["*"], "curated": []}, **bad}))
    with pytest.raises(ConfigError, match=match):
        load_ablate_config(path)


def test_a_variant_leaving_out_an_unknown_stage_is_refused(tmp_path):
    path = tmp_path / "ablate.yaml"
    path.write_text("variants: {no-lid: [lang_id]}\n")
    with pytest.raises(ConfigError, match=r"no-lid.*lang_id"):
        load_ablate_config(path)


def test_a_difference_is_real_only_beyond_two_standard_errors():
    # paired by seed: a steady gap is real even where the seeds spread more than the gap
    d, se, real = difference({1: 5.10, 2: 5.40, 3: 5.25}, {1: 5.20, 2: 5.51, 3: 5.34})
    assert d == pytest.approx(-0.10) and real
    d, se, real = difference({1: 5.10, 2: 5.40, 3: 5.20}, {1: 5.25, 2: 5.05, 3: 5.35})
    assert abs(d) < 2 * se and not real
    assert difference({1: 5.0}, {1: 5.1})[2] is False  # one seed: never called real


@needs_shared
def test_held_out_text_is_in_no_variant_and_not_in_the_tokenizer_text(tmp_path):
    """Every variant reads the raw corpus (the curated ones less of it); the tokenizer reads
    data/reference. Neither may hold a passage of the evaluation text."""
    from trainer.ablate_corpus import build_raw_corpus, eval_texts, ngram_set, reference_texts

    texts, info = eval_texts()
    assert "WikiText-2 test" in info and len(texts) > 1000
    held_out = ngram_set(texts)
    corpus = build_raw_corpus(tmp_path / "raw", 14, 1234, books_mb=4)
    jsonl = [json.loads(l)["text"] for f in sorted(corpus.rglob("*.jsonl")) for l in f.read_text().split("\n") if l]
    assert len(jsonl) > 3000 and any("gutenberg" in f.name for f in corpus.rglob("*.jsonl"))
    assert not held_out & ngram_set(reference_texts())
    # what the corpus shares is incidental, never a passage: 6 of 933,636 13-grams when written (a
    # publisher's list of titles at the end of a book, a stock phrase in a Wikipedia article)
    assert len(held_out & ngram_set(jsonl)) < 1e-5 * len(held_out)


@pytest.mark.slow
@needs_shared
def test_miniature_ablation_trains_every_variant_on_the_same_tokens(tmp_path):
    out = tmp_path / "ablate"
    cmd = [sys.executable, "-m", "trainer.ablate", "--variants", "raw,curated", "--seeds", "1,2",
           "--corpus-mb", "8", "--books-mb", "1", "--token-budget", "40000", "--out", str(out),
           "--set", "train.eval_batches=2", "--set", "train.warmup_steps=2"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    results = (out / "RESULTS.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| \**(raw|curated)\** \|.*$", results, re.M)}
    assert set(rows) == {"raw", "curated"}
    assert re.search(r"raw \|.*\| [+-]\d\.\d{3} ± \d\.\d{3} (\*\*real\*\*|\(noise\))", rows["raw"]), rows["raw"]
    available = {k: int(v.split("|")[3].replace(",", "")) for k, v in rows.items()}
    assert 40_000 < available["curated"] < available["raw"]
    # the same number of actual tokens for every run, each read at most once (epochs: 1)
    for run in sorted((out / "train").glob("*/seed-*")):
        meta = json.loads((run / "lm/tokens/meta.json").read_text())
        assert meta["splits"]["train"]["tokens"] == 40_000, run
        log = json.loads((run / "result.json").read_text())["log"]
        assert log[-1]["tokens_seen"] <= 40_000
    seeds = {run.name: (run / "lm/tokens/train.bin").read_bytes() for run in (out / "train/curated").iterdir()}
    assert seeds["seed-1"] != seeds["seed-2"]  # each seed draws its own sample
    svg = (out / "ablation.svg").read_text()
    assert svg.startswith("<svg") and "curated" in svg
    # the same seeds again, trained afresh: the same numbers
    import shutil

    shutil.rmtree(out / "train")
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    table = lambda text: [l for l in text.splitlines() if l.startswith("| ") or l.startswith("Per seed")]  # noqa: E731
    assert table((out / "RESULTS.md").read_text()) == table(results)
    # a budget one variant cannot meet stops the run before training, naming it
    p = subprocess.run(cmd[:cmd.index("--token-budget") + 1] + [str(available["curated"] + 1)]
                       + cmd[cmd.index("--token-budget") + 2:], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 1 and "variant 'curated' has" in p.stderr and "'raw'" not in p.stderr, p.stderr[-2000:]
    # the curated variant passed decontaminate with the held-out texts as its eval set: no 13-gram
    # of them (other than those too common to count) is left in what it trains on
    import pyarrow.parquet as pq

    from stages.ngrams import ngram_hashes, words

    variant = out / "variants/curated"
    stats = json.loads(next(variant.glob("*-decontaminate/stats.json")).read_text())
    held_out = pq.read_table(out / "eval.parquet").column("text")
    assert stats["extra"]["eval_docs"] == len(held_out) > 1000
    wh, off = words(held_out)
    h, noff = ngram_hashes(wh, off, 13, short_docs=False)
    pairs = np.unique(np.stack([h, np.repeat(np.arange(len(held_out)), np.diff(noff)).astype(np.uint64)], 1), axis=0)
    values, counts = np.unique(pairs[:, 0], return_counts=True)
    evidence = set(values[counts <= 10].tolist())
    kept = pq.read_table(next(variant.glob("*-pii")) / "kept").column("text")
    wh, off = words(kept)
    assert not set(ngram_hashes(wh, off, 13, short_docs=False)[0].tolist()) & evidence
