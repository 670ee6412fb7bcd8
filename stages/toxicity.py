"""toxicity: score each document with three offline signals and reject above `max_toxicity`.

- word lists: LDNOOBW (bundled in data/toxicity/ldnoobw, CC-BY-4.0), the document's language
  (`language` column, else English) plus English; the fraction of words that are listed,
  word-boundary aware (phrases too; substring matching for zh, ja, th, ko, which do not space
  words); `tox_words` = that fraction / `wordlist_saturation`, capped at 1.
- fastText supervised classifier trained by `make toxicity-model` on the Davidson tweets (MIT,
  bundled), mentions and URLs normalised as in training; `tox_fasttext` = P(toxic).
- alt-profanity-check, a linear model shipped in its wheel and trained on other comments;
  `tox_profanity` = P(profane).
Both models are English: on documents whose `language` is another one they score 0 and the
word lists decide.
`toxicity_score` combines them as chosen by `bench/toxicity_eval.py` (README "Safety"). Rejected:
`toxicity`, with every score column.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.config import ConfigError
from pipeline.stage import Decisions, Resources, Stage, first_reason, register

REPO = Path(__file__).resolve().parents[1]
WORDLISTS = REPO / "data/toxicity/ldnoobw"
MODEL = REPO / "models/toxicity/davidson.bin"
UNSPACED = {"zh", "ja", "th", "ko"}
_LIST_NAMES = {"fr": ["fr", "fr-CA-u-sd-caqc"], "nb": ["no"], "nn": ["no"], "tl": ["fil"]}
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """What the classifier saw in training: entities unescaped, mentions and URLs as one token,
    `RT` markers dropped, lower case, one line."""
    text = html.unescape(text)
    text = _URL.sub(" http ", _MENTION.sub(" @user ", text))
    text = re.sub(r"\bRT\b", " ", text)
    return _SPACE.sub(" ", text).strip().lower()


@lru_cache(maxsize=None)
def wordlist(lang: str) -> tuple[frozenset, tuple[str, ...]]:
    """(single words, multi-word phrases) of a language's lists; empty where there is none."""
    words, phrases = set(), []
    for name in _LIST_NAMES.get(lang, [lang]):
        path = WORDLISTS / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = line.strip().lower()
            if not entry:
                continue
            if lang in UNSPACED or " " not in entry:
                words.add(entry)
            else:
                phrases.append(entry)
    return frozenset(words), tuple(phrases)


@lru_cache(maxsize=None)
def vocabulary(lang: str) -> tuple[frozenset, tuple[str, ...]]:
    """The language's words and phrases with English's (English profanity is everywhere)."""
    en_words, en_phrases = wordlist("en")
    words, phrases = wordlist(lang)
    return en_words | words, tuple(sorted(set(en_phrases) | set(phrases)))


def flagged_fraction(text: str, lang: str | None) -> float:
    lang = (lang or "en").split("-")[0]
    low = text.lower()
    if lang in UNSPACED:  # no word boundaries to rely on: count listed strings
        hits = sum(low.count(w) for w in wordlist(lang)[0])
        return min(1.0, hits / max(1, len(low) / 2))
    tokens = _WORD.findall(low)
    vocab, all_phrases = vocabulary(lang)
    hits = sum(1 for t in tokens if t in vocab)
    if all_phrases:
        joined = f" {' '.join(tokens)} "
        hits += sum(joined.count(f" {p} ") * len(p.split()) for p in all_phrases)
    return min(1.0, hits / max(1, len(tokens)))


@dataclass
class ToxicityConfig:
    # Documents with toxicity_score above this are rejected (README "Safety" for the choice).
    max_toxicity: float = 0.9
    # How the signals combine: "max" of the three, or "mean".
    combine: str = "max"
    # Flagged-word fraction that counts as fully toxic (tox_words = fraction / this, capped at 1).
    wordlist_saturation: float = 0.05
    use_fasttext: bool = True
    use_profanity_check: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.max_toxicity <= 1:
            raise ConfigError(f"max_toxicity: in [0, 1], got {self.max_toxicity}")
        if self.combine not in ("max", "mean"):
            raise ConfigError(f"combine: 'max' or 'mean', got {self.combine!r}")
        if not 0 < self.wordlist_saturation <= 1:
            raise ConfigError(f"wordlist_saturation: in (0, 1], got {self.wordlist_saturation}")


class Scorers:
    """The three signals, loaded once per worker."""

    def __init__(self, cfg: ToxicityConfig) -> None:
        self.cfg = cfg
        self.ft = None
        if cfg.use_fasttext:
            if not MODEL.is_file():
                raise FileNotFoundError(f"toxicity: {MODEL} is missing: run `make toxicity-model`")
            import fasttext

            self.ft = fasttext.load_model(str(MODEL))
        self.profanity = None
        if cfg.use_profanity_check:
            from profanity_check import predict_prob

            self.profanity = predict_prob

    def score(self, texts: list[str], langs: list[str | None]) -> dict[str, np.ndarray]:
        n = len(texts)
        words = np.array([min(1.0, flagged_fraction(t, l) / self.cfg.wordlist_saturation)
                          for t, l in zip(texts, langs)], dtype=np.float32)
        out = {"tox_words": words}
        # both models learnt English: other languages are not scored by them (0), the lists speak
        english = np.flatnonzero([l is None or l.split("-")[0] == "en" for l in langs])
        en_texts = [texts[i] for i in english]
        if self.ft is not None:
            out["tox_fasttext"] = np.zeros(n, np.float32)
            if en_texts:
                labels, probs = self.ft.predict([normalize(t) for t in en_texts], k=2)
                out["tox_fasttext"][english] = np.array(
                    [dict(zip(l, p)).get("__label__toxic", 0.0) for l, p in zip(labels, probs)]).clip(0, 1)
        if self.profanity is not None:
            out["tox_profanity"] = np.zeros(n, np.float32)
            if en_texts:
                out["tox_profanity"][english] = self.profanity(en_texts)
        signals = np.stack(list(out.values()))
        out["toxicity_score"] = (signals.max(axis=0) if self.cfg.combine == "max" else signals.mean(axis=0)).astype(np.float32)
        return out


@register
class Toxicity(Stage):
    name = "toxicity"
    Config = ToxicityConfig
    resources = Resources(num_cpus=1)

    def setup(self) -> None:
        self.scorers = Scorers(self.config)

    def process(self, batch: pa.Table) -> Decisions:
        texts = [t or "" for t in batch.column("text").to_pylist()]
        langs = batch.column("language").to_pylist() if "language" in batch.column_names else [None] * len(texts)
        scores = self.scorers.score(texts, langs)
        table = batch
        for name, values in scores.items():
            table = table.append_column(name, pa.array(values, pa.float32()))
        rules = [(pa.array(scores["toxicity_score"] > self.config.max_toxicity), "toxicity")]
        return Decisions(table, first_reason(rules, batch.num_rows))
