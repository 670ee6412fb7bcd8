"""read: turn input files (JSONL, Parquet, plain text, WARC/WET, HTML: the reader registry) into
documents, rejecting what cannot be a document: undecodable, truncated, malformed, empty, too long.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError, InputSpec
from pipeline.readers import FileRef, ReadOptions, expand_inputs, read_file
from pipeline.schema import REJECT_REASON
from pipeline.stage import Decisions, Resources, SourceStage, first_reason, register


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
    resources = Resources(mb_per_s=40)  # one core, bench/bench_whole.py's corpus
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
        text = table.column("text")
        rules = [
            # an anchored regex stops at the first non-space character; trimming copies every text
            (pc.match_substring_regex(text, r"^\s*$"), "empty"),
            (pc.greater(pc.binary_length(text), self.config.max_bytes), "too_long"),
            (pc.match_substring(text, "\x00"), "nul_bytes"),
        ]
        return Decisions(table, first_reason(rules, table.num_rows, prior=prior))
