"""toxicity: word lists with word boundaries and languages, the trained classifier on held-out
tweets, false positives on clean prose, and the stage's columns and rejections."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import stages.toxicity as tox
from bench.toxicity_eval import clean_texts, prf
from scripts.build_toxicity_model import load, split
from stages.toxicity import Scorers, Toxicity, ToxicityConfig, flagged_fraction, normalize


@pytest.fixture(scope="module")
def scorers():
    return Scorers(ToxicityConfig())


def test_word_lists_respect_word_boundaries_phrases_and_languages():
    assert flagged_fraction("The class assistant passed the assessment in Scunthorpe.", "en") == 0
    assert flagged_fraction("what an ass", "en") == pytest.approx(1 / 3)
    assert flagged_fraction("they watched a blow job scene", "en") == pytest.approx(2 / 6)
    # German words count in German documents, English ones everywhere
    assert flagged_fraction("Du bist ein Arschloch", "de") == pytest.approx(1 / 4)
    assert flagged_fraction("Du bist ein Arschloch", "en") == 0
    assert flagged_fraction("das ist shit", "de") == pytest.approx(1 / 3)
    # Chinese is not spaced: listed strings are counted where they occur
    assert flagged_fraction("这是三级片的广告", "zh") > 0 and flagged_fraction("今天天气很好", "zh") == 0


def test_tweets_are_normalised_like_the_training_data():
    assert normalize("RT @user123: look &amp; see https://t.co/abc NOW") == "@user : look & see http now"


def test_combined_score_on_held_out_tweets_and_clean_prose(scorers):
    _, held = split(load())
    tweets, gold = [t for _, t, _ in held], np.array([y for *_, y in held])
    s = scorers.score(tweets, [None] * len(tweets))
    p, r, f = prf(s["toxicity_score"] > ToxicityConfig().max_toxicity, gold)
    assert p >= 0.95 and r >= 0.9 and f >= 0.95, (p, r, f)
    clean = clean_texts()
    c = scorers.score(clean, [None] * len(clean))
    assert len(clean) > 300 and (c["toxicity_score"] > ToxicityConfig().max_toxicity).mean() <= 0.01


def test_stage_adds_every_score_and_rejects_toxic_text():
    stage = Toxicity(ToxicityConfig())
    stage.setup()
    batch = pa.table({"id": ["a", "b", "c"], "language": ["en", "en", "de"], "text": [
        "The maintainers upload new package versions to unstable, where they are tested for weeks.",
        "shut the fuck up you stupid bitch, nobody wants your shit here",
        "Halt die Fresse, du Hurensohn, du dummes Arschloch."]})
    d = stage.process(batch)
    assert d.reject.to_pylist() == [None, "toxicity", "toxicity"]
    for col in ("tox_words", "tox_fasttext", "tox_profanity", "toxicity_score"):
        values = d.table.column(col).to_pylist()
        assert all(0 <= v <= 1 for v in values), col
    assert d.table.column("toxicity_score")[0].as_py() < 0.5


def test_missing_model_names_the_make_target(monkeypatch, tmp_path):
    monkeypatch.setattr(tox, "MODEL", tmp_path / "none.bin")
    with pytest.raises(FileNotFoundError, match="make toxicity-model"):
        Scorers(ToxicityConfig())
