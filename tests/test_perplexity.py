"""KenLM perplexity: built by `make lm`, scored the way it was trained, filtering as configured."""
from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.runner import run_pipeline
from stages.perplexity import Perplexity, PerplexityConfig, normalize_for_lm
from tests.conftest import REPO, SAMPLE, make_config

MODEL = REPO / "models/lm/en.bin"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="run `make lm` (make test does)")


def medians(texts: list[str]) -> float:
    stage = Perplexity(PerplexityConfig(models_dir=str(MODEL.parent)))
    stage.setup()
    return float(np.nanmedian(stage.process(pa.table({"text": texts})).table["perplexity"].to_numpy(zero_copy_only=False)))


def test_normalization_is_what_training_saw():
    out = normalize_for_lm(pa.array(["“Hello”, World — 2024…"])).to_pylist()[0]
    assert out.split() == ['"', "hello", '"', ",", "world", "-", "0000", ".", ".", "."]


def test_missing_model_names_make_lm(tmp_path):
    with pytest.raises(FileNotFoundError, match="make lm"):
        Perplexity(PerplexityConfig(models_dir=str(tmp_path))).setup()


@needs_model
def test_clean_prose_scores_lower_than_web_pages_and_than_its_own_shuffled_words():
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    prose = ["\n".join(" ".join(p.split()) for p in t.split("\n\n")) for t in books if "Gutenberg" not in t]
    raw = pa.input_stream(str(SAMPLE / "web/cc-web.jsonl.gz"), compression="gzip").read().decode()
    web = [json.loads(l)["text"] for l in raw.splitlines() if '"id": "http' in l]
    assert medians(prose) < medians(web)
    rng = random.Random(3)
    shuffled = []
    for text in prose:
        words = text.split()
        rng.shuffle(words)
        shuffled.append(" ".join(words))
    stage = Perplexity(PerplexityConfig())
    stage.setup()
    scored = stage.process(pa.table({"text": prose + shuffled})).table.column("perplexity").to_numpy()
    clean, salad = scored[:len(prose)], scored[len(prose):]
    assert np.mean(salad > clean) > 0.95  # the same words in a random order: worse nearly always


@needs_model
def test_stage_scores_english_only_and_filters_by_bucket_and_limit(tmp_path):
    stages = [{"name": "read"}, {"name": "langid"},
              {"name": "perplexity", "models_dir": str(MODEL.parent), "keep_buckets_by_language": {"en": ["head", "middle"]},
               "max_perplexity": {"en": 2000.0}}]
    cfg = make_config(tmp_path / "o", [str(SAMPLE / "books"), str(SAMPLE / "manpages")], stages, executor="inline")
    run = run_pipeline(cfg)[-1]
    rows = [{"reject_reason": None, **r} for kind in ("kept", "rejected") for f in (run.directory / kind).glob("*.parquet")
            for r in pq.read_table(f).select([c for c in ("language", "perplexity", "ppl_bucket", "reject_reason")
                                              if c in pq.read_schema(f).names]).to_pylist()]
    english = [r for r in rows if r["language"] == "en"]
    others = [r for r in rows if r["language"] != "en"]
    assert english and all(r["perplexity"] > 0 for r in english)
    assert others and all(r["perplexity"] is None and r["reject_reason"] is None for r in others)
    for r in english:
        if r["perplexity"] > 2000:
            assert r["reject_reason"] == "perplexity"
        elif r["ppl_bucket"] == "tail":
            assert r["reject_reason"] == "perplexity_bucket"
        else:
            assert r["reject_reason"] is None
    assert run.stats.docs_in == run.stats.kept + run.stats.rejected_total


@needs_model
def test_unknown_words_are_left_out_of_perplexity_and_too_many_make_the_tail():
    stage = Perplexity(PerplexityConfig(models_dir=str(MODEL.parent)))
    stage.setup()
    known = "The river runs through the old town and past the church before it reaches the sea."
    named = "The Wharfedale runs through Otley and past Ilkley church before it reaches the Ouse."
    junk = "qzvx wplk trmb xxqj vbnm zzkp qwrt plmn the xkcd jjfw."
    t = stage.process(pa.table({"text": [known, named, junk]})).table
    oov = t["oov_share"].to_pylist()
    assert oov[0] == 0 and 0 < oov[1] < 0.3 and oov[2] > 0.5
    # names the model never saw cost nothing in themselves: the sentence stays among clean text
    assert t["ppl_bucket"].to_pylist()[1] in ("head", "middle")
    assert t["ppl_bucket"].to_pylist()[2] == "tail"  # mostly unknown words: tail whatever the rest scores


@needs_model
def test_default_config_keeps_clean_text_of_every_kind_and_drops_forum_spam():
    """The default config rejects above max_perplexity: forum spam goes, while Wikipedia,
    documentation and news (a kind the reference lacks: two thirds of it is tail) stay."""
    from bench.perplexity_eval import kinds
    from bench.quality_model_eval import news
    from pipeline.config import load_config
    from tests.conftest import needs_shared

    needs_shared("reference-prose", "nltk")
    cfg = next(s for s in load_config(REPO / "configs/default.yaml").stages if s.name == "perplexity").config
    stage = Perplexity(cfg)
    stage.setup()
    sets = {**kinds(), "news": news()}

    def rejected(name: str) -> float:
        return float(np.mean([r is not None for r in stage.process(pa.table({"text": sets[name]})).reject.to_pylist()]))

    assert rejected("Wikipedia (sample WikiText-2 test articles)") <= 0.05
    assert rejected("Python documentation (the sample's pages)") == 0
    assert len(sets["news"]) > 200 and rejected("news") <= 0.05
    assert rejected("NLTK webtext firefox (forum, chat, ads)") >= 0.9
