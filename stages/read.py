"""read: turn input files (JSONL, Parquet, plain text, WARC/WET, HTML: the reader registry) into
documents, rejecting what cannot be a document: undecodable, truncated, malformed, empty, too long.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError, InputSpec
from pipeline.parts import InPlacePart, parquet_file
from pipeline.readers import FIELD_CANDIDATES, FileRef, ReadOptions, expand_inputs, read_file, reader_for
from pipeline.schema import BASE_SCHEMA, REJECT_REASON
from pipeline.stage import Decisions, Resources, SourceStage, first_reason, register
from pipeline.unicode import string_bytes


@dataclass
class ReadConfig:
    # The record field (JSONL) or column (Parquet) holding the document text.
    text_field: str = "text"
    # Documents over this many UTF-8 bytes are rejected as `too_long` (kept whole in rejected/).
    # 1 MB is far above any useful web page and keeps batches for later stages bounded.
    max_bytes: int = 1_000_000
    # Input files are grouped into work units of about this many (on-disk) bytes, in path order.
    unit_bytes: int = 4 << 20
    # A unit's output rolls over to a new part file every this many rows: later stages
    # parallelise over parts, so parts bound their granularity.
    part_rows: int = 20_000
    # Main text of HTML (WARC responses, .html files): trafilatura (F1 0.919, ~67 pages/s/core),
    # trafilatura_full (0.924, ~44) or resiliparse (0.847, ~640); bench/EXTRACTION.md.
    html_extractor: Literal["trafilatura", "trafilatura_full", "resiliparse"] = "trafilatura"
    # A Parquet file that needs no conversion (its base columns are of their types, no row to
    # reject) is listed as the stage's kept part and read where it is by the next stage instead
    # of being copied: the accounting is the same, the copy's time (2 s per 100 MB) is saved.
    in_place: bool = True

    def __post_init__(self) -> None:
        for key in ("max_bytes", "unit_bytes", "part_rows"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class ReadUnit:
    index: int
    files: tuple[FileRef, ...]

    @property
    def key(self) -> str:
        return f"part-{self.index:05d}"


@register
class Read(SourceStage):
    name = "read"
    resources = Resources(mb_per_s=40, threads=True)  # one core, bench/bench_whole.py's corpus
    Config = ReadConfig

    def plan(self, inputs: list[InputSpec]) -> list[ReadUnit]:
        refs = expand_inputs([(i.path, i.source) for i in inputs])
        units, current, size = [], [], 0
        for ref in refs:
            if current and size + ref.size > self.config.unit_bytes:
                units.append(ReadUnit(len(units), tuple(current)))
                current, size = [], 0
            current.append(ref)
            size += ref.size
        if current:
            units.append(ReadUnit(len(units), tuple(current)))
        return units

    def read(self, unit: ReadUnit, batch_size: int) -> Iterator[Decisions]:
        opts = ReadOptions(text_field=self.config.text_field, batch_rows=batch_size,
                           html_extractor=self.config.html_extractor,
                           max_file_bytes=max(self.config.max_bytes * 4, 1 << 20))
        for ref in unit.files:
            for table in read_file(ref, opts):
                yield self.check(table)

    def check(self, table: pa.Table) -> Decisions:
        prior = table.column(REJECT_REASON).combine_chunks()
        table = table.drop_columns([REJECT_REASON])
        return Decisions(table, first_reason(self._rules(table.column("text")), table.num_rows, prior=prior))

    def _rules(self, text: pa.ChunkedArray | pa.Array) -> list[tuple[pa.Array, str]]:
        return [
            # an anchored regex stops at the first non-space character; trimming copies every text
            (pc.match_substring_regex(text, r"^\s*$"), "empty"),
            (pc.greater(pc.binary_length(text), self.config.max_bytes), "too_long"),
            (pc.match_substring(text, "\x00") if _holds_nul(text) else pa.array(np.zeros(len(text), bool)),
             "nul_bytes"),
        ]

    def in_place(self, unit: ReadUnit, part_rows: int | None) -> list[tuple[InPlacePart, int]] | None:
        """The unit's files as parts the next stage reads where they are, each with its text
        bytes; None where a file needs converting or holds a row to reject (the unit is copied)."""
        if not self.config.in_place or self.config.text_field != "text":
            return None
        parts: list[tuple[InPlacePart, int]] = []
        for ref in unit.files:
            found = self._in_place_file(ref, part_rows or self.config.part_rows, unit.key, len(parts))
            if found is None:
                return None
            parts.extend(found)
        return parts

    def _in_place_file(self, ref: FileRef, part_rows: int, unit_key: str, first_part: int
                       ) -> list[tuple[InPlacePart, int]] | None:
        from pipeline.readers.parquet import read_parquet

        if reader_for(ref.path) is not read_parquet:
            return None
        try:
            pf = parquet_file(ref.path)
            schema = pf.schema_arrow
            names = set(schema.names)
            if "text" not in names or REJECT_REASON in names:
                return None
            for f in BASE_SCHEMA:
                if f.name in names and schema.field(f.name).type != f.type:
                    return None  # cast by a copy
                if f.name not in names and any(alt in names for alt in FIELD_CANDIDATES.get(f.name, ())):
                    return None  # renamed by a copy (doc_id -> id, ...)
            source_as_is = ref.source is None and "source" in names
            nonnull = ["text", *(["id"] if "id" in names else []), *(["source"] if source_as_is else [])]
            sizes = []
            for g in range(pf.metadata.num_row_groups):
                t = pf.read_row_group(g, columns=nonnull)
                if any(t.column(c).null_count for c in nonnull):
                    return None  # a copy fills ids and sources, and rejects missing text
                if any(pc.any(rule).as_py() for rule, _ in self._rules(t.column("text"))):
                    return None  # a row to reject: the copy records it
                sizes.append((t.num_rows, int(pc.sum(pc.binary_length(t.column("text"))).as_py() or 0)))
        except (OSError, pa.ArrowException):
            return None  # the copy names the error in a rejected row
        total = sum(r for r, _ in sizes)
        source = ref.source if ref.source or source_as_is else ref.rel
        parts = []
        for start, stop, first in _row_group_ranges([r for r, _ in sizes], part_rows):
            rows = sum(r for r, _ in sizes[start:stop])
            part = InPlacePart(f"{unit_key}-{first_part + len(parts):03d}", ref.path, (start, stop), first, rows,
                               ref.size * rows // max(total, 1), source, None if "id" in names else ref.rel,
                               ref.mtime_ns)
            parts.append((part, sum(b for _, b in sizes[start:stop])))
        return parts


def _holds_nul(text: pa.ChunkedArray | pa.Array) -> bool:
    """Whether any string of `text` holds a NUL byte: one scan of the character data, 500 times
    faster than asking each string (a substring search, ~0.5 GB/s)."""
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        data = string_bytes(chunk)[1]
        if len(data) and data.min() == 0:
            return True
    return False


def _row_group_ranges(rows: list[int], part_rows: int) -> list[tuple[int, int, int]]:
    """[start, stop) runs of whole row groups of at most `part_rows` rows (one group at least),
    with the file row each starts at."""
    ranges, start, first, count = [], 0, 0, 0
    for g, n in enumerate(rows):
        if g > start and count + n > part_rows:
            ranges.append((start, g, first))
            start, first, count = g, first + count, 0
        count += n
    if start < len(rows):
        ranges.append((start, len(rows), first))
    return ranges
