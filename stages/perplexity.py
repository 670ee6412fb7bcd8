"""perplexity: KenLM 5-gram perplexity of each document, CCNet style, and a filter on it.

Models are built by `make lm` (KenLM's own `lmplz` and `build_binary` on the bundled reference
prose in data/reference/) into `models/lm/<language>.bin`, with `<language>.json` holding the
bucket cut-offs (head up to the 30th percentile of held-out reference documents, tail above the 95th). Text is normalised the same way for
training and scoring (`normalize_for_lm`). A document's perplexity is line-weighted as in CCNet:
10 ** (-sum of line log10-probabilities / number of tokens incl. end-of-line). Columns
`perplexity` and `ppl_bucket` (head / middle / tail); documents in a language without a model
pass unscored (both null) and are counted in the stage's stats.
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


def doc_perplexity(model, normalized: str) -> float:
    log10, tokens = 0.0, 0
    for line in lm_lines(normalized):
        log10 += model.score(line, bos=True, eos=True)
        tokens += len(line.split()) + 1
    return float(10 ** (-log10 / tokens)) if tokens else float("nan")


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
            self.models[path.stem] = kenlm.Model(str(path))
            c = meta["cutoffs"]
            self.cutoffs[path.stem] = (c["head"], c["tail"]) if "head" in c else (c["p30"], c["p60"])
        if not self.models:
            raise FileNotFoundError(f"perplexity: no KenLM model in {folder}/: run `make lm` to build it")

    def process(self, batch: pa.Table) -> Decisions:
        n = batch.num_rows
        langs = languages(batch, self.config.default_language)
        ppl = np.full(n, np.nan, dtype=np.float64)
        bucket: list[str | None] = [None] * n
        scored = [i for i, l in enumerate(langs) if l in self.models]
        if scored:
            normalized = normalize_for_lm(batch.column("text").take(pa.array(scored))).to_pylist()
            for i, text in zip(scored, normalized):
                lang = langs[i]
                ppl[i] = doc_perplexity(self.models[lang], text)
                head, tail = self.cutoffs[lang]
                bucket[i] = None if np.isnan(ppl[i]) else "head" if ppl[i] <= head else "middle" if ppl[i] <= tail else "tail"
        limits = np.array([self.config.max_perplexity.get(l, np.inf) for l in langs])
        table = batch.append_column("perplexity", pa.array(ppl, pa.float32(), from_pandas=True))
        table = table.append_column("ppl_bucket", pa.array(bucket, pa.string()))
        cfg = self.config
        keep = [set(cfg.keep_buckets_by_language.get(l, cfg.keep_buckets)) for l in langs]
        rules = [(pa.array(ppl > limits), "perplexity"),
                 (pa.array([b is not None and b not in k for b, k in zip(bucket, keep)]), "perplexity_bucket")]
        return Decisions(table, first_reason(rules, n))
