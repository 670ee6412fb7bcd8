"""line_dedup: lines repeated across many documents (navigation, cookie banners, footers, licence
headers) are removed, as CCNet does before language identification; a document that lost lines
and is left too short is rejected as `line_dedup_empty`.

1. pairs (per part): each document's distinct normalised lines (lower case, digits to 0,
   whitespace collapsed; blank lines are not counted) hashed with xxh3-64, paired with a hash of
   the whole document, to the shuffle bucketed by line.
2. frequent (per bucket): a line's documents are its distinct document hashes, so exact copies
   of one document count once (they are exact_dedup's business, and would otherwise lose all
   their lines); lines in more than `max_occurrences` documents go to `frequent/`.
3. finish (per batch, row-local): every line looked up in the frequent set (loaded once per
   worker: boilerplate is a small fraction of all lines); those lines are dropped, runs of blank
   lines collapsed, `line_dedup_lines_removed` set.
No process holds more than one part or one bucket of line hashes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.config import ConfigError
from pipeline.hashing import hash64
from pipeline.parts import record_batches
from pipeline.shuffle import bucket_of, column_u64, group_bounds, read_bucket, write_buckets
from pipeline.stage import Decisions, GlobalContext, GlobalStage, Resources, first_reason, register
from pipeline.storage import Loc, load_array, save_array

PAIRS = pa.schema([("line", pa.uint64()), ("doc", pa.uint64())])
REMOVED = "line_dedup_lines_removed"


@dataclass
class LineDedupConfig:
    # A line in more documents than this is boilerplate. Measured on the sample (README "Line
    # deduplication"): above 10, the 246 lines removed are licence, copyright and translator
    # notices, navigation and signatures; at 5, untranslated paragraphs that locale versions of
    # the Debian handbook share go too. At web scale CCNet drops every line seen twice in a shard.
    max_occurrences: int = 10
    # A document that lost lines and is left with fewer characters than this is rejected; 1: only
    # documents left empty (length rules belong to `quality`, which runs later).
    min_chars: int = 1

    def __post_init__(self) -> None:
        if self.max_occurrences < 1:
            raise ConfigError(f"max_occurrences: must be >= 1, got {self.max_occurrences}")


def split_lines(text: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """(every line, line offsets per document, xxh3-64 of each normalised line, blank mask)."""
    lists = pc.split_pattern(text, "\n")
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    lines = lists.flatten()
    norm = pc.utf8_lower(lines)
    norm = pc.replace_substring_regex(norm, r"\d", "0")
    norm = unicode.collapse_whitespace(norm)
    blank = pc.equal(pc.binary_length(norm), 0).to_numpy(zero_copy_only=False)
    # repeated lines are the point here: hash each distinct line once
    encoded = pc.dictionary_encode(norm)
    hashes = hash64(encoded.dictionary)[encoded.indices.to_numpy(zero_copy_only=False)] if len(norm) else \
        np.zeros(0, np.uint64)
    return lines, offsets - offsets[0], hashes, blank


@register
class LineDedup(GlobalStage):
    name = "line_dedup"
    resources = Resources(mb_per_s=6, threads=True)  # one core, bench/bench_whole.py's corpus
    Config = LineDedupConfig

    def __init__(self, config: LineDedupConfig, *, seed: int = 0) -> None:
        super().__init__(config, seed=seed)
        self._frequent: tuple[str, np.ndarray] | None = None

    def analyze(self, ctx: GlobalContext) -> None:
        pairs = ctx.map("emit_pairs", [(i, p, ctx.work, ctx.buckets) for i, p in enumerate(ctx.parts)])
        found = ctx.map("frequent_lines", [(b, ctx.work) for b in range(ctx.buckets)])
        ctx.extra_stats.update({"line_document_pairs": int(sum(pairs)),
                                "distinct_lines": int(sum(f[0] for f in found)),
                                "frequent_lines": int(sum(f[1] for f in found))})

    def emit_pairs(self, part: int, path: str, work: str, buckets: int) -> int:
        pieces = []
        for batch in record_batches(path, 8192, ["text"]):
            text = batch.column(0)
            _, offsets, hashes, blank = split_lines(text)
            doc = np.repeat(hash64(text), np.diff(offsets))
            keep = ~blank
            pieces.append(np.unique(np.stack([hashes[keep], doc[keep]], axis=1), axis=0))
        both = np.unique(np.concatenate(pieces), axis=0) if pieces else np.zeros((0, 2), np.uint64)
        table = pa.table({"line": both[:, 0], "doc": both[:, 1]}, schema=PAIRS)
        write_buckets(table, bucket_of(both[:, 0], buckets), work, "pairs", part)
        return table.num_rows

    def frequent_lines(self, bucket: int, work: str) -> tuple[int, int]:
        t = read_bucket(work, "pairs", bucket, PAIRS)
        pairs = np.unique(np.stack([column_u64(t, "line"), column_u64(t, "doc")], axis=1), axis=0)
        starts, ends = group_bounds(pairs[:, 0])
        frequent = pairs[starts[ends - starts > self.config.max_occurrences], 0]  # sorted: pairs are
        (Loc(work) / "frequent").mkdir()
        save_array(Loc(work) / "frequent" / f"b{bucket:05d}.npy", frequent)
        return len(starts), len(frequent)

    def _frequent_set(self, work: str) -> np.ndarray:
        if self._frequent is None or self._frequent[0] != work:
            files = (Loc(work) / "frequent").glob("b*.npy")
            self._frequent = (work, np.sort(np.concatenate([load_array(f) for f in files] or [np.zeros(0, np.uint64)])))
        return self._frequent[1]

    def finish(self, decisions: Decisions, work: str) -> Decisions:
        table = decisions.table
        frequent = self._frequent_set(work)
        original = table.column("text").combine_chunks()
        lines, offsets, hashes, blank = split_lines(original)
        pos = np.searchsorted(frequent, hashes)
        drop = (pos < len(frequent)) & (frequent[np.minimum(pos, len(frequent) - 1)] == hashes) & ~blank \
            if len(frequent) else np.zeros(len(hashes), bool)
        doc_of_line = np.repeat(np.arange(table.num_rows), np.diff(offsets))
        removed = np.bincount(doc_of_line[drop], minlength=table.num_rows).astype(np.int64)
        kept_offsets = np.concatenate([[0], np.cumsum(np.bincount(doc_of_line[~drop], minlength=table.num_rows))])
        rebuilt = pa.ListArray.from_arrays(pa.array(kept_offsets, pa.int32()), lines.filter(pa.array(~drop)))
        cleaned = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.binary_join(rebuilt, "\n"), r"\n{3,}", "\n\n"))
        changed = pa.array(removed > 0)
        text = pc.if_else(changed, cleaned, original)
        table = table.set_column(table.column_names.index("text"), "text", text)
        table = table.append_column(REMOVED, pa.array(removed, pa.int64()))
        too_short = pc.and_(changed, pc.less(pc.utf8_length(text), self.config.min_chars))
        return Decisions(table, first_reason([(too_short, "line_dedup_empty")], table.num_rows, decisions.reject))
