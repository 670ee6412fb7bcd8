"""alt-profanity-check's linear model, run without scikit-learn, for the `toxicity` stage (`tox_profanity`).

The alt-profanity-check 1.9.1 wheel (MIT) ships a TF-IDF vectoriser (words of two or more word
characters, lower case, English stop words out, 15,442 words, L2 norm) and a scikit-learn
CalibratedClassifierCV: five linear SVMs, each with its own sigmoid calibration, whose
probabilities are averaged. Importing the wheel imports scikit-learn and unpickles both (1.1 s a
worker, a twentieth of a toxicity stage on the benchmark corpus) and its vectoriser built a sparse
matrix per call (a tenth of the stage's time); `make toxicity-model` writes the same numbers to
`models/toxicity/profanity_linear.npz` and this module computes the same probabilities with numpy
(equal to the wheel's `predict_prob` within 1e-9: tests/test_toxicity.py).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pipeline.parts import atomic_write_arrays

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models/toxicity/profanity_linear.npz"
WHEEL = "alt-profanity-check==1.9.1"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # the vectoriser's token_pattern


def convert(out: Path = MODEL) -> Path:
    """The vectoriser's vocabulary and idf, and the five SVMs with their calibrations, into one .npz."""
    try:
        from profanity_check import profanity_check as wheel
    except ImportError as e:
        raise FileNotFoundError(f"toxicity: the {WHEEL} wheel is not installed: run `make setup`") from e
    vec, model = wheel.vectorizer, wheel.model
    params = vec.get_params()
    expected = {"analyzer": "word", "lowercase": True, "ngram_range": (1, 1), "norm": "l2", "use_idf": True,
                "sublinear_tf": False, "binary": False, "strip_accents": None, "preprocessor": None,
                "tokenizer": None, "token_pattern": _TOKEN.pattern}
    changed = {k: params[k] for k, v in expected.items() if params[k] != v}
    words = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    if (changed or model.method != "sigmoid" or list(model.classes_) != [0, 1]
            or [vec.vocabulary_[w] for w in words] != list(range(len(words)))):
        raise ValueError(f"{WHEEL}: a vectoriser or model this conversion does not reproduce: {changed}")
    folds = model.calibrated_classifiers_
    arrays = {
        "words": np.array(words),
        "idf": vec.idf_.astype(np.float64),
        "coef": np.stack([c.estimator.coef_[0] for c in folds]).astype(np.float64),
        "intercept": np.array([c.estimator.intercept_[0] for c in folds], np.float64),
        "calib_a": np.array([c.calibrators[0].a_ for c in folds], np.float64),
        "calib_b": np.array([c.calibrators[0].b_ for c in folds], np.float64),
    }
    return atomic_write_arrays(out, arrays)


class ProfanityModel:
    """P(profane) per text, as alt-profanity-check's `predict_prob` computes it."""

    def __init__(self, path: Path = MODEL) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"toxicity: {path} is missing: run `make toxicity-model`")
        with np.load(path) as z:
            a = {k: z[k] for k in z.files}
        self.index = {w: i for i, w in enumerate(a["words"].tolist())}
        self.idf = a["idf"]
        # each fold's weights times idf, so that a document's score is one gather of its words
        self.weighted = a["coef"].T * self.idf[:, None]  # (vocabulary, folds)
        self.intercept, self.calib_a, self.calib_b = a["intercept"], a["calib_a"], a["calib_b"]

    def score(self, texts: list[str]) -> np.ndarray:
        index = self.index
        ids = [[index[w] for w in _TOKEN.findall(t.lower()) if w in index] for t in texts]
        n = len(texts)
        if not n:
            return np.zeros(0, np.float64)
        owner = np.repeat(np.arange(n), [len(i) for i in ids])
        flat = np.fromiter((i for row in ids for i in row), np.int64, count=len(owner))
        # term counts per (text, word): tf-idf is count x idf, then the text's L2 norm
        pairs, counts = np.unique(owner * len(index) + flat, return_counts=True)
        text, word = pairs // len(index), pairs % len(index)
        tfidf = counts * self.idf[word]
        norm = np.sqrt(np.bincount(text, weights=tfidf ** 2, minlength=n))
        dots = np.stack([np.bincount(text, weights=counts * self.weighted[word, k], minlength=n)
                         for k in range(self.weighted.shape[1])], axis=1)
        decision = dots / np.where(norm > 0, norm, 1)[:, None] + self.intercept
        # scikit-learn's sigmoid calibration, P(1) = 1 / (1 + exp(a * decision + b)), averaged over folds
        return (1 / (1 + np.exp(self.calib_a * decision + self.calib_b))).mean(axis=1)
