"""decontaminate: planted copies of evaluation text are found, clean text is left alone."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.decontam_eval import plant
from pipeline.config import ConfigError
from pipeline.readers import ReadOptions, expand_inputs, read_file
from pipeline.runner import run_pipeline
from stages.ngrams import ngram_hashes, words
from tests.conftest import REPO, SAMPLE, make_config

EVAL = REPO / "data/eval/wikitext-2-test.jsonl.zst"


def eval_articles() -> list[str]:
    return [t for r in expand_inputs([(str(EVAL), None)]) for tb in read_file(r, ReadOptions())
            for t in tb.column("text").to_pylist()]


def planted_corpus(path: Path, n: int = 60, seed: int = 7) -> tuple[list[str], list[str]]:
    """Clean book chunks, every other one with a 50-500-word span of an eval article inside."""
    rng = random.Random(seed)
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()[:n]
    articles = [a for a in eval_articles() if len(a.split()) > 520]
    docs, planted, clean = [], [], []
    for i, text in enumerate(books):
        if i % 2:
            text = plant(text, rng.choice(articles), rng.randint(50, 500), rng)
        (planted if i % 2 else clean).append(f"d{i}")
        docs.append({"id": f"d{i}", "text": text})
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return planted, clean


def _run(tmp_path: Path, inputs: list, name: str = "out", **options) -> tuple[dict, dict]:
    out = tmp_path / name
    cfg = make_config(out, inputs, [{"name": "read"}, {"name": "decontaminate", "eval_sets": [str(EVAL)], **options}],
                      executor="inline")
    run_pipeline(cfg)
    rows = {r["id"]: r for kind in ("kept", "rejected") for p in sorted((out / "01-decontaminate" / kind).glob("*.parquet"))
            for r in pq.read_table(p).to_pylist()}
    return rows, json.loads((out / "01-decontaminate/stats.json").read_text())


def test_planted_spans_of_eval_text_are_rejected_and_clean_books_kept(tmp_path):
    planted, clean = planted_corpus(tmp_path / "train.jsonl")
    rows, stats = _run(tmp_path, [tmp_path / "train.jsonl"])
    assert stats["in"] == stats["kept"] + stats["rejected_total"] == 60
    assert [i for i in planted if rows[i].get("reject_reason") != "contamination"] == []  # recall 1.0
    assert [i for i in clean if rows[i].get("reject_reason") is not None] == []           # no false positive
    assert all(rows[i]["contamination_eval"] == "wikitext-2-test.jsonl.zst" for i in planted)
    assert stats["extra"]["eval_docs"] == 61 and stats["extra"]["eval_ngrams"] > 200_000


def test_cut_mode_removes_the_overlap_with_context_and_keeps_the_rest(tmp_path):
    planted, clean = planted_corpus(tmp_path / "train.jsonl")
    rows, _ = _run(tmp_path, [tmp_path / "train.jsonl"], mode="cut")
    index = set()
    wh, off = words(pa.array(eval_articles()))
    index.update(ngram_hashes(wh, off, 13, short_docs=False)[0].tolist())
    source = {json.loads(l)["id"]: json.loads(l)["text"] for l in (tmp_path / "train.jsonl").read_text().splitlines()}
    for i in planted:
        r = rows[i]
        if r.get("reject_reason") is None:
            assert 0 < r["contamination_cut_chars"] < len(source[i]) and len(r["text"]) >= 200
            wh, off = words(pa.array([r["text"]]))
            assert not set(ngram_hashes(wh, off, 13, short_docs=False)[0].tolist()) & index, i
        else:
            assert r.get("reject_reason") == "contamination"
    assert sum(rows[i].get("reject_reason") is None for i in planted) >= len(planted) // 2
    assert all(rows[i]["text"] == source[i].strip() and rows[i]["contamination_cut_chars"] == 0 for i in clean)


def test_ngrams_common_to_many_eval_documents_are_not_evidence(tmp_path):
    boiler = "this article is licensed under the creative commons attribution share alike license and may be reused"
    ev = tmp_path / "eval"
    ev.mkdir()
    (ev / "tasks.jsonl").write_text("".join(json.dumps({"text": f"Question {i}: {boiler}. Answer {i}."}) + "\n"
                                            for i in range(12)))
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"id": "page", "text": f"Our blog post. {boiler}."}) + "\n")
    out = tmp_path / "out"
    run_pipeline(make_config(out, [train], [{"name": "read"}, {"name": "decontaminate", "eval_sets": [str(ev)],
                                                                "max_eval_docs": 10}], executor="inline"))
    stats = json.loads((out / "01-decontaminate/stats.json").read_text())
    assert stats["kept"] == 1 and stats["extra"]["eval_ngrams_too_common"] >= 5
    # and a change to the eval set redoes the stage (its files are part of the input hash)
    (ev / "tasks.jsonl").write_text(json.dumps({"text": f"One task only: {boiler}."}) + "\n")
    run_pipeline(make_config(out, [train], [{"name": "read"}, {"name": "decontaminate", "eval_sets": [str(ev)],
                                                                "max_eval_docs": 10}], executor="inline"))
    stats = json.loads((out / "01-decontaminate/stats.json").read_text())
    assert stats["rejected"] == {"contamination": 1}


def test_no_eval_sets_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="eval_sets is empty"):
        run_pipeline(make_config(tmp_path / "out", [SAMPLE / "wiki"], [{"name": "read"}, {"name": "decontaminate"}],
                                 executor="inline"))
