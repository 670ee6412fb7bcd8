"""decontaminate: training documents that contain evaluation text are rejected (or the overlap is
cut out), so a benchmark score is not a memory test.

1. index (once, on one worker): every evaluation text of `eval_sets` (any format `read` takes)
   as normalised word n-grams (13 by default, as GPT-3 and NeMo Curator; the normalisation of
   `minhash_dedup`: NFKC, lower case, punctuation dropped), 64-bit hashes; n-grams found in more
   than `max_eval_docs` evaluation documents (licences, templates, boilerplate) are too common to
   be evidence and are dropped. The sorted hashes are written once to the stage's exchange
   directory, which every worker reads, like the shuffle's files.
2. finish (per batch, row-local): each document's n-grams looked up in the index (binary search,
   numpy); `contamination_ngrams` (distinct n-grams found) and `contamination_eval` (the eval file
   most of them come from). At `min_matches` or more: `mode: reject` rejects the document as
   `contamination`; `mode: cut` removes every overlapping span with `cut_context` characters each
   side, as GPT-3 did, and rejects only documents cut into more than `max_cuts` pieces or left
   shorter than `min_chars`.
Evaluation texts shorter than `ngram` words cannot be matched and are counted in the stage's
statistics (`eval_docs_too_short`).
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from pipeline.config import ConfigError
from pipeline.readers import ReadOptions, expand_inputs, read_file
from pipeline.schema import REJECT_REASON
from pipeline.shuffle import group_bounds
from pipeline.stage import Decisions, GlobalContext, GlobalStage, first_reason, register
from pipeline.storage import Loc, is_uri, load_array, save_array
from stages.ngrams import ngram_hashes, words

INDEX = "eval_index"
NGRAMS, EVAL, CUT = "contamination_ngrams", "contamination_eval", "contamination_cut_chars"
# a word as `stages.ngrams.words` sees one: letters/digits between punctuation, symbols and
# spaces; characters of scripts written without spaces one by one
_NOSPACE = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}"
_WORD = regex.compile(rf"[{_NOSPACE}]|[^\s\p{{P}}\p{{S}}{_NOSPACE}]+")


@dataclass
class DecontaminateConfig:
    # Evaluation texts: files or directories in any format `read` takes (prompts, references,
    # whole documents; JSONL records need `text`).
    eval_sets: list[str] = field(default_factory=list)
    # Words per n-gram: 13, as GPT-3 and NeMo Curator's task decontamination.
    ngram: int = 13
    # An n-gram in more evaluation documents than this is too common to be evidence.
    max_eval_docs: int = 10
    # Distinct matching n-grams that make a document contaminated. One 13-gram is what GPT-3
    # used; README "Decontamination" has recall on planted copies and false positives on clean text.
    min_matches: int = 1
    mode: Literal["reject", "cut"] = "reject"
    # cut mode, as GPT-3: characters removed on each side of an overlap, the most pieces a
    # document may be cut into, and the shortest text left that is still kept
    cut_context: int = 200
    max_cuts: int = 10
    min_chars: int = 200

    def __post_init__(self) -> None:
        if self.ngram < 3:
            raise ConfigError(f"ngram: must be >= 3, got {self.ngram}")
        if self.min_matches < 1 or self.max_eval_docs < 1:
            raise ConfigError("min_matches and max_eval_docs must be >= 1")


def _texts(path: str) -> list[tuple[str, str]]:
    """(file, text) of every document the readers make of an eval set."""
    out = []
    for ref in expand_inputs([(path, None)]):
        for table in read_file(ref, ReadOptions()):
            ok = pc.is_null(table.column(REJECT_REASON)) if REJECT_REASON in table.column_names else None
            texts = (table.filter(ok) if ok is not None else table).column("text").to_pylist()
            out += [(ref.rel, t) for t in texts if t]
    return out


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every word of `text` in the order `words()` counts them."""
    return [m.span() for m in _WORD.finditer(text)]


@register
class Decontaminate(GlobalStage):
    name = "decontaminate"
    Config = DecontaminateConfig

    def __init__(self, config: DecontaminateConfig, *, seed: int = 0) -> None:
        super().__init__(config, seed=seed)
        self._index: tuple[str, np.ndarray, np.ndarray, list[str]] | None = None

    def input_files(self) -> list[str]:
        return list(self.config.eval_sets)

    def analyze(self, ctx: GlobalContext) -> None:
        if not self.config.eval_sets:
            raise ConfigError("decontaminate: eval_sets is empty (give the evaluation texts to remove)")
        # resolved here, on the driver: a worker's directory need not be the one paths are relative to
        [built] = ctx.map("build_index", [(ctx.work, [p if is_uri(p) else str(Path(p).resolve()) for p in self.config.eval_sets])])
        ctx.extra_stats.update(built)

    def build_index(self, work: str, eval_sets: list[str]) -> dict:
        docs = [d for path in eval_sets for d in _texts(path)]
        files = sorted({f for f, _ in docs})
        n = self.config.ngram
        word_hash, offsets = words(pa.array([t for _, t in docs], pa.string()))
        hashes, noff = ngram_hashes(word_hash, offsets, n, short_docs=False)
        doc = np.repeat(np.arange(len(docs)), np.diff(noff))
        pairs = np.unique(np.stack([hashes, doc.astype(np.uint64)], axis=1), axis=0)  # distinct per document
        uniq, first, count = np.unique(pairs[:, 0], return_index=True, return_counts=True)
        common = count > self.config.max_eval_docs
        file_of_doc = np.array([files.index(f) for f, _ in docs], np.int32)
        keep = ~common
        index_hashes, index_files = uniq[keep], file_of_doc[pairs[first[keep], 1].astype(np.int64)]
        target = Loc(work) / INDEX
        target.mkdir()
        save_array(target / "hashes.npy", index_hashes)
        save_array(target / "files.npy", index_files)
        (target / "files.json").write_text(json.dumps(files))
        return {"eval_docs": len(docs), "eval_docs_too_short": int(np.sum(np.diff(offsets) < n)),
                "eval_ngrams": int(len(index_hashes)), "eval_ngrams_too_common": int(common.sum())}

    def _load(self, work: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if self._index is None or self._index[0] != work:
            d = Loc(work) / INDEX
            self._index = (work, load_array(d / "hashes.npy"), load_array(d / "files.npy"),
                           json.loads((d / "files.json").read_text()))
        return self._index[1:]

    def finish(self, decisions: Decisions, work: str) -> Decisions:
        c = self.config
        index, index_files, files = self._load(work)
        table = decisions.table
        texts = table.column("text").combine_chunks()
        word_hash, offsets = words(texts)
        hashes, noff = ngram_hashes(word_hash, offsets, c.ngram, short_docs=False)
        pos = np.minimum(np.searchsorted(index, hashes), max(len(index) - 1, 0))
        hit = index[pos] == hashes if len(index) else np.zeros(len(hashes), bool)
        doc = np.repeat(np.arange(table.num_rows), np.diff(noff))
        matched = np.zeros(table.num_rows, np.int64)
        source = [None] * table.num_rows
        cut = np.zeros(table.num_rows, np.int64)
        new_text = texts.to_pylist() if c.mode == "cut" else None
        reject = np.zeros(table.num_rows, bool)
        hit_at = np.flatnonzero(hit)  # in document order: n-grams are laid out document by document
        for a, b in zip(*group_bounds(doc[hit_at])):
            mine, d = hit_at[a:b], int(doc[hit_at[a]])
            distinct, first = np.unique(hashes[mine], return_index=True)
            matched[d] = len(distinct)
            source[d] = files[int(np.bincount(index_files[pos[mine[first]]]).argmax())]
            if matched[d] < c.min_matches:
                continue
            if c.mode == "reject":
                reject[d] = True
                continue
            starts = mine - noff[d]  # word positions of the matching n-grams within the document
            kept, removed, pieces = self._cut(new_text[d], starts, int(offsets[d + 1] - offsets[d]))
            if kept is None or pieces > c.max_cuts or len(kept) < c.min_chars:
                reject[d] = True
            else:
                new_text[d], cut[d] = kept, removed
        if new_text is not None:
            table = table.set_column(table.column_names.index("text"), "text", pa.array(new_text, pa.string()))
        table = (table.append_column(NGRAMS, pa.array(matched, pa.int64()))
                 .append_column(EVAL, pa.array(source, pa.string()))
                 .append_column(CUT, pa.array(cut, pa.int64())))
        return Decisions(table, first_reason([(pa.array(reject), "contamination")], table.num_rows, decisions.reject))

    def _cut(self, text: str, ngram_starts: np.ndarray, n_words: int) -> tuple[str | None, int, int]:
        """(text without the overlapping spans and their context, characters removed, pieces);
        None when the text's words cannot be aligned with the n-grams (then it is rejected)."""
        spans = word_spans(unicodedata.normalize("NFKC", text))
        if len(spans) != n_words or len(unicodedata.normalize("NFKC", text)) != len(text):
            return None, 0, 0
        ctx, n = self.config.cut_context, self.config.ngram
        cuts: list[list[int]] = []
        for s in sorted(int(x) for x in ngram_starts):
            lo, hi = max(0, spans[s][0] - ctx), min(len(text), spans[s + n - 1][1] + ctx)
            if cuts and lo <= cuts[-1][1]:
                cuts[-1][1] = max(cuts[-1][1], hi)
            else:
                cuts.append([lo, hi])
        pieces, last = [], 0
        for lo, hi in cuts:
            pieces.append(text[last:lo])
            last = hi
        pieces.append(text[last:])
        pieces = [p.strip() for p in pieces if p.strip()]
        kept = "\n".join(pieces)
        return kept, len(text) - len(kept), len(pieces)
