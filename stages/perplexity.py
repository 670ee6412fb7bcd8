"""perplexity: KenLM 5-gram perplexity of each document, CCNet style, and a filter on it.

Models are built by `make lm` (KenLM's own `lmplz` and `build_binary` on the bundled reference
prose in data/reference/) into `models/lm/<language>.bin`, with `<language>.json` holding the
bucket cut-offs from held-out reference documents (README "Perplexity"). Text is normalised the
same way for training and scoring (`normalize_for_lm`). A document's perplexity is over the words
the model knows, line-weighted as in CCNet: 10 ** (-sum of their log10-probabilities / their
number, end-of-line included). Words outside the model's vocabulary are left out of it (a 14 M-
character reference does not know most names, and charging each the unknown word's probability
made every encyclopaedia article "tail"); their share is its own column, `oov_share`, and a
document with more of them than any kind of clean text has (`oov_tail`), five at least, is tail
whatever its perplexity. Columns `perplexity`, `oov_share` and `ppl_bucket` (head / middle / tail); documents
in a language without a model pass unscored (null) and are counted in the stage's stats.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.config import ConfigError
from pipeline.stage import Decisions, Stage, first_reason, languages, register

BUCKETS = ("head", "middle", "tail")
# how documents are scored; the cut-offs in models/lm/<language>.json must be made the same way
SCORING = "perplexity over known words; oov_share"
MIN_UNKNOWN = 5  # unknown words a document needs before its share of them can make it tail
_PUNCT_MAP = [("[“”„‟«»]", '"'), ("[‘’‚‛‹›`´]", "'"), ("[‐‑‒–—―]", "-"), ("…", "...")]


def normalize_for_lm(texts: pa.Array) -> pa.Array:
    """Lower case, NFKC, digits to 0, unified quotes and dashes, punctuation as separate tokens."""
    t = pc.utf8_lower(unicode.normalize(texts, "NFKC"))
    t = pc.replace_substring_regex(t, r"\d", "0")
    for pattern, repl in _PUNCT_MAP:
        t = pc.replace_substring_regex(t, pattern, repl)
    t = pc.replace_substring_regex(t, r"([\p{P}\p{S}])", " \\1 ")
    return pc.replace_substring_regex(t, r"[ \t]+", " ")


def lm_lines(text: str) -> list[str]:
    """The scored units of a normalised text: its non-empty lines, stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


@dataclass
class PerplexityConfig:
    # Where `make lm` puts <language>.bin and <language>.json.
    models_dir: str = "models/lm"
    # The language of every document when there is no `language` column (no langid stage).
    default_language: str = "en"
    # Per language: documents above this perplexity are rejected (`perplexity`).
    max_perplexity: dict[str, float] = field(default_factory=dict)
    # Buckets kept (CCNet's head/middle/tail by the reference cut-offs); others: `perplexity_bucket`.
    keep_buckets: list[str] = field(default_factory=lambda: list(BUCKETS))
    # Per-language overrides of keep_buckets, e.g. {en: [head, middle]}.
    keep_buckets_by_language: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        chosen = [*self.keep_buckets, *(b for v in self.keep_buckets_by_language.values() for b in v)]
        bad = [b for b in chosen if b not in BUCKETS]
        if bad:
            raise ConfigError(f"keep_buckets: unknown bucket {bad[0]!r} (buckets: {', '.join(BUCKETS)})")


def doc_perplexity(model, normalized: str) -> tuple[float, float, int]:
    """(perplexity over known words, share of unknown words, their number); nan for a text
    without words."""
    log10, known, unknown = 0.0, 0, 0
    for line in lm_lines(normalized):
        for prob, _, oov in model.full_scores(line, bos=True, eos=True):
            if oov:
                unknown += 1
            else:
                log10 += prob
                known += 1
    if not known:
        return float("nan"), float("nan"), unknown
    return float(10 ** (-log10 / known)), unknown / (known + unknown), unknown


def bucket_of(ppl: float, oov: float, unknown: int, cutoffs: dict) -> str | None:
    if np.isnan(ppl):
        return None
    # a share is noise on a sentence: three names in it are not junk
    if ppl > cutoffs["tail"] or (oov > cutoffs["oov_tail"] and unknown >= MIN_UNKNOWN):
        return "tail"
    return "head" if ppl <= cutoffs["head"] else "middle"


@register
class Perplexity(Stage):
    name = "perplexity"
    Config = PerplexityConfig

    def setup(self) -> None:
        import kenlm

        folder = Path(self.config.models_dir)
        self.models, self.cutoffs = {}, {}
        for path in sorted(folder.glob("*.bin")) if folder.is_dir() else []:
            meta = json.loads(path.with_suffix(".json").read_text())
            if meta.get("scoring") != SCORING:
                raise FileNotFoundError(f"perplexity: {path.with_suffix('.json')} has cut-offs for another way of "
                                        "scoring: run `make lm` to recompute them")
            self.models[path.stem] = kenlm.Model(str(path))
            self.cutoffs[path.stem] = meta["cutoffs"]
        if not self.models:
            raise FileNotFoundError(f"perplexity: no KenLM model in {folder}/: run `make lm` to build it")

    def process(self, batch: pa.Table) -> Decisions:
        n = batch.num_rows
        langs = languages(batch, self.config.default_language)
        ppl = np.full(n, np.nan, dtype=np.float64)
        oov = np.full(n, np.nan, dtype=np.float64)
        bucket: list[str | None] = [None] * n
        scored = [i for i, l in enumerate(langs) if l in self.models]
        if scored:
            normalized = normalize_for_lm(batch.column("text").take(pa.array(scored))).to_pylist()
            for i, text in zip(scored, normalized):
                lang = langs[i]
                ppl[i], oov[i], unknown = doc_perplexity(self.models[lang], text)
                bucket[i] = bucket_of(ppl[i], oov[i], unknown, self.cutoffs[lang])
        limits = np.array([self.config.max_perplexity.get(l, np.inf) for l in langs])
        table = batch.append_column("perplexity", pa.array(ppl, pa.float32(), from_pandas=True))
        table = table.append_column("oov_share", pa.array(oov, pa.float32(), from_pandas=True))
        table = table.append_column("ppl_bucket", pa.array(bucket, pa.string()))
        cfg = self.config
        keep = [set(cfg.keep_buckets_by_language.get(l, cfg.keep_buckets)) for l in langs]
        rules = [(pa.array(ppl > limits), "perplexity"),
                 (pa.array([b is not None and b not in k for b, k in zip(bucket, keep)]), "perplexity_bucket")]
        return Decisions(table, first_reason(rules, n))
