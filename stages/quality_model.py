"""quality_model: a fastText classifier's judgement of how much a document reads like curated
reference text rather than raw web text, as DCLM's and FineWeb-Edu's classifiers do.

The model is trained by `make quality-model` (scripts/build_quality_model.py) on data the repo
carries: positives from the reference prose in data/reference/ (books, Wikipedia, documentation,
speeches), negatives from the sample's raw web text (Common Crawl WARC/WET pages) and the bundled
Davidson tweets. Column `quality_score` in [0, 1], higher = better: P(reference-like) on the
document's first `max_chars` characters, normalised as the training text was (`features`).
Documents in a language the model was not trained on pass unscored (null). Rejected:
`quality_model`, below `min_score`; 0 by default, so the stage only annotates (README "Quality
classifier" says why).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.stage import Decisions, Resources, Stage, first_reason, languages, register
from stages.perplexity import normalize_for_lm

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models/quality/quality_en.bin"
POSITIVE = "__label__hq"
# A line break is evidence (navigation and lists are short lines): it becomes a word of its own.
NEWLINE = " ¶ "


def features(texts: pa.Array | pa.ChunkedArray, max_chars: int) -> list[str]:
    """The classifier's view of each text: its head, normalised as for the LM, one line."""
    head = pc.utf8_slice_codeunits(pc.fill_null(texts, ""), 0, max_chars)
    flat = pc.replace_substring_regex(normalize_for_lm(head), r"\s*\n\s*", NEWLINE)
    return pc.utf8_trim_whitespace(flat).to_pylist()


def positive_probability(model, lines: list[str]) -> np.ndarray:
    """P(reference-like) for each normalised line; 0 for a line without words (there is nothing
    to learn from, and fastText would answer its class prior)."""
    labels, probs = model.predict(lines, k=2)
    p = np.array([dict(zip(l, p)).get(POSITIVE, 0.0) for l, p in zip(labels, probs)], dtype=np.float32)
    return np.where([bool(line) for line in lines], p.clip(0, 1), np.float32(0))


@dataclass
class QualityModelConfig:
    # The fastText model `make quality-model` writes.
    model: str = str(MODEL.relative_to(REPO))
    # Documents scoring below this are rejected (`quality_model`); 0 only annotates.
    min_score: float = 0.0
    # Languages the model scores (its training text is English); others pass with a null score.
    languages: list[str] = field(default_factory=lambda: ["en"])
    # The language of every document when there is no `language` column (no langid stage).
    default_language: str = "en"
    # Characters of each document the model reads: bounds the cost of enormous documents.
    max_chars: int = 20_000

    def __post_init__(self) -> None:
        if not 0 <= self.min_score <= 1:
            raise ConfigError(f"min_score: in [0, 1], got {self.min_score}")
        if self.max_chars < 100:
            raise ConfigError(f"max_chars: at least 100, got {self.max_chars}")


@register
class QualityModel(Stage):
    name = "quality_model"
    Config = QualityModelConfig
    resources = Resources(num_cpus=1)

    def input_files(self) -> list[str]:
        # a rebuilt model redoes the stage; a missing one is setup's error, which names the target
        return [self._path()] if Path(self._path()).is_file() else []

    def _path(self) -> str:
        path = Path(self.config.model)
        return str(path if path.is_absolute() else REPO / path)

    def setup(self) -> None:
        path = Path(self._path())
        if not path.is_file():
            raise FileNotFoundError(f"quality_model: {path} is missing: run `make quality-model`")
        import fasttext

        self.model = fasttext.load_model(str(path))

    def process(self, batch: pa.Table) -> Decisions:
        n = batch.num_rows
        langs = languages(batch, self.config.default_language)
        wanted = set(self.config.languages)
        scored = [i for i, lang in enumerate(langs) if lang in wanted]
        score = np.full(n, np.nan, dtype=np.float32)
        if scored:
            lines = features(batch.column("text").take(pa.array(scored)), self.config.max_chars)
            score[scored] = positive_probability(self.model, lines)
        table = batch.append_column("quality_score", pa.array(score, pa.float32(), from_pandas=True))
        rules = [(pa.array(score < self.config.min_score), "quality_model")]
        return Decisions(table, first_reason(rules, n))
