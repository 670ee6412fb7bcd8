"""toxicity: word lists with word boundaries and languages, the combined score on the test halves
(tweets, written comments), false positives on clean prose, insults and threats without swear
words, the abuse patterns and their ordinary-use look-alikes, the Jigsaw BiLSTM and
alt-profanity-check ports, and the stage's columns and rejections."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import json
import pickle
import random

import stages.toxicity as tox
from bench.pii_eval import SHARED, clean_sets
from bench.toxicity_eval import prf, sample_clean
from pipeline.config import ConfigError
from scripts.build_toxicity_model import comments, load, passages, raw_text, split, tuning
from stages.toxicity import COMBINER, Scorers, Toxicity, ToxicityConfig, flagged_fraction, normalize, words_of
from stages.toxicity_abuse import hits
from stages.toxicity_bilstm import JigsawBiLSTM, _TokenizerUnpickler
from stages.toxicity_profanity import ProfanityModel


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


def test_combined_score_on_the_test_halves_and_clean_prose(scorers):
    from stages.langid import Langid, LangidConfig

    threshold = ToxicityConfig().max_toxicity
    _, test = tuning(split(load())[1])
    raw = raw_text([r for r, *_ in test])
    s = scorers.score([raw[r] for r, *_ in test], [None] * len(test))
    p, r, f = prf(s["toxicity_score"] > threshold, np.array([y for *_, y in test]))
    assert p >= 0.95 and r >= 0.9 and f >= 0.95, (p, r, f)
    _, written = comments()
    s = scorers.score([t for t, _ in written], ["en"] * len(written))
    p, r, f = prf(s["toxicity_score"] > threshold, np.array([y for _, y in written]))
    assert p >= 0.85 and r >= 0.8, (p, r, f)
    clean = sample_clean()
    langid = Langid(LangidConfig())
    langid.setup()
    c = scorers.score(clean, list(langid.predict(pa.array(clean))[0]))
    assert len(clean) > 300 and (c["toxicity_score"] > threshold).mean() <= 0.005


def test_insults_without_swear_words_are_rejected_and_civil_criticism_kept():
    """fastText trained on tweets alone scored the civil criticism 0.99 (Davidson taught it that
    "your" and "weak" are tweet talk) and, under the old max of the signals, rejected it; trained
    with clean prose beside the tweets it reads it as clean."""
    stage = Toxicity(ToxicityConfig())
    stage.setup()
    toxic = ["You are a worthless idiot and everyone on this forum despises you.",
             "Nobody wants you here, crawl back into your hole and stay there, loser.",
             "Go die in a fire, nobody will miss you."]
    civil = ["I think your argument is weak, and the survey you cite does not support it.",
             "The killer whale hunts seals near the coast in winter.",
             "This update is terrible: the app crashes every time I open the camera."]
    batch = pa.table({"id": [str(i) for i in range(6)], "language": ["en"] * 6, "text": toxic + civil})
    d = stage.process(batch)
    assert d.reject.to_pylist() == ["toxicity"] * 3 + [None] * 3
    assert d.table.column("tox_fasttext")[3].as_py() < 0.5


@pytest.mark.skipif(not (SHARED.parent / "reference-prose/gutenberg-en").is_dir(), reason="needs ../shared/data")
def test_book_passages_none_of_the_models_saw_stay_under_the_budget(scorers):
    """Passages of 40-100 words (a comment's length) of the 17 Gutenberg books kept out of the
    reference: dialogue, oaths, archaic words and a character called Dick. Before fastText learnt
    clean prose and the combiner was tuned on passages too, the stage rejected 1.4 % of them."""
    books = clean_sets()["Gutenberg books kept out of the reference (17, whole)"]
    short = passages(books, random.Random(3))[::3]
    s = scorers.score(short, ["en"] * len(short))
    assert len(short) > 2500 and (s["toxicity_score"] > ToxicityConfig().max_toxicity).mean() <= 0.005


def test_a_long_chapter_with_one_rough_line_is_kept(scorers):
    """Bag-of-words models on a whole chapter add up every crude word; each model scores windows
    of 100 words and their mean counts, so one rough line does not make the chapter toxic."""
    chapter = sample_clean()[0]
    rough = chapter[:3000] + "\n\"Damn you, you stupid old fool!\" he shouted.\n" + chapter[3000:]
    assert len(rough.split()) > 500
    s = scorers.score([rough, "Damn you, you stupid old fool!"], ["en", "en"])
    assert s["toxicity_score"][0] < ToxicityConfig().max_toxicity < s["toxicity_score"][1]


def test_abuse_patterns_find_threats_insults_and_wishes_of_harm_without_a_listed_word():
    abusive = ["I will hunt you down and make you pay for this.",
               "You're nothing but a pathetic joke, everyone here laughs at you.",
               "Honestly I hope you choke on your own words.",
               "People like you should be locked up.",
               "Refugees are parasites and we all know it.",
               "Do the world a favor and quit breathing, you imbecile.",
               "Say that again and see what happens.",
               "Go back to your cave, troglodyte."]
    for text in abusive:
        assert hits(words_of(text)) >= 1, text


def test_abuse_patterns_leave_the_same_words_in_ordinary_use_alone():
    """Violent verbs, insults and groups in documentation, recipes, sport, biology and idioms."""
    ordinary = ["Kill the process and restart the server if it hangs.",
                "The egg whites should be beaten until stiff peaks form.",
                "The command should be executed as root on every node.",
                "Don't shoot yourself in the foot with this API: read the docs first.",
                "You're dead right about the budget, we overspent.",
                "I'll find you a seat near the front, the show starts at eight.",
                "Let's wait and see what happens after the election.",
                "These animals are nocturnal and feed on insects.",
                "We'll beat them next season, the young players are improving.",
                "The villain swore he would destroy the city, and the hero stopped him.",
                "Immigrants are the backbone of the city's hospitals.",
                "I told you nothing, and you believed me anyway."]
    for text in ordinary:
        assert hits(words_of(text)) == 0, text


def test_one_abusive_line_in_a_chapter_weighs_less_than_in_a_reply(scorers):
    """tox_abuse is a match's share of its window: the line alone is a reply; inside a chapter it is
    one phrase among hundreds of words, and the combiner clips it below 0.1."""
    line = "\"Say that again and I will break your face,\" he said."
    chapter = sample_clean()[0]
    long = chapter[:3000] + "\n" + line + "\n" + chapter[3000:]
    s = scorers.score([line, long], ["en", "en"])
    assert hits(words_of(line)) == 1  # two patterns match, over the same words
    assert s["tox_abuse"][0] > 0.6 and s["tox_abuse"][1] < 0.1


def test_jigsaw_bilstm_reads_like_the_original():
    model = JigsawBiLSTM()
    # Keras' tokenizer: lower case, punctuation to spaces, unknown words dropped, last 100 kept
    assert model.ids("The THE, the!") == [1, 1, 1]
    # tabs and newlines are among its filters; other white space is part of a word, as in Keras
    assert model.ids("the\tthe\nthe  the\xa0the") == [1, 1, 1]
    assert model.ids("qwzxv") == []
    assert len(model.ids("the " * 150)) == 100
    p = model.score(["You are so dumb and stupid!", "Thank you for the references, I added them to the article.", ""])
    assert p[0] > 0.9 and p[1] < 0.05 and 0 <= p[2] <= 1


def test_profanity_port_gives_the_wheels_probabilities():
    from profanity_check import predict_prob

    texts = ["You are so dumb and stupid!", "Thank you for the references, I added them to the article.", "",
             "the and of it", "Shit, the build broke again: the the THE linker can't find libfoo.so.2",
             "Ünïcödé wörds and a fucking Straße, 42 times", "a\nb c\td ee ff's gg’s"]
    texts += list(raw_text(range(0, 3000, 7)).values())  # Davidson tweets, as written
    assert np.abs(ProfanityModel().score(texts) - predict_prob(texts)).max() < 1e-9
    assert ProfanityModel().score([]).shape == (0,)


def test_tokenizer_unpickler_refuses_code(tmp_path):
    import io
    import os

    payload = pickle.dumps(os.getcwd)
    with pytest.raises(pickle.UnpicklingError, match="unexpected class"):
        _TokenizerUnpickler(io.BytesIO(payload)).load()


def test_default_threshold_is_the_fitted_one_and_logistic_needs_every_signal():
    assert json.loads(COMBINER.read_text())["max_toxicity"] == ToxicityConfig().max_toxicity
    with pytest.raises(ConfigError, match="combine: max"):
        ToxicityConfig(use_jigsaw=False)
    assert ToxicityConfig(use_jigsaw=False, combine="max").combine == "max"


def test_stage_adds_every_score_and_rejects_toxic_text():
    stage = Toxicity(ToxicityConfig())
    stage.setup()
    batch = pa.table({"id": ["a", "b", "c"], "language": ["en", "en", "de"], "text": [
        "The maintainers upload new package versions to unstable, where they are tested for weeks.",
        "shut the fuck up you stupid bitch, nobody wants your shit here",
        "Halt die Fresse, du Hurensohn, du dummes Arschloch."]})
    d = stage.process(batch)
    assert d.reject.to_pylist() == [None, "toxicity", "toxicity"]
    for col in ("tox_words", "tox_fasttext", "tox_profanity", "tox_jigsaw", "tox_abuse", "toxicity_score"):
        values = d.table.column(col).to_pylist()
        assert all(0 <= v <= 1 for v in values), col
    assert d.table.column("toxicity_score")[0].as_py() < 0.5
    # German: the English models do not score it; the word lists alone decide
    assert d.table.column("tox_jigsaw")[2].as_py() == 0
    assert d.table.column("toxicity_score")[2].as_py() == d.table.column("tox_words")[2].as_py()


def test_missing_model_names_the_make_target(monkeypatch, tmp_path):
    monkeypatch.setattr(tox, "MODEL", tmp_path / "none.bin")
    with pytest.raises(FileNotFoundError, match="make toxicity-model"):
        Scorers(ToxicityConfig())
