"""normalize: make text canonical before anything compares or scores it.

Unicode NFC, one newline convention, no control characters but tab and newline, no trailing
spaces on lines, at most one blank line in a row, no leading/trailing blank space: Arrow compute
on the whole batch. Then hard-wrapped paragraphs are re-flowed to one line each (stages/reflow.py),
in Python but only for documents an Arrow regex finds runs of wrapped-looking lines in.
Documents left empty are rejected as `empty`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.stage import Decisions, Resources, Stage, first_reason, register
from stages.reflow import MAX_WIDTH, MIN_WIDTH, reflow

# three lines in a row of a wrapped text's length: the documents worth reflow's Python
_WRAPPED_RUN = rf"(?:[^\n]{{{MIN_WIDTH},{MAX_WIDTH + 5}}}\n){{3}}"


@dataclass
class NormalizeConfig:
    # NFC composes characters without changing meaning; NFKC also folds compatibility forms
    # (ligatures, full-width letters), which changes text a reader would see: opt in.
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    # Collapse runs of blank lines to one: extraction leaves many, and they inflate repetition
    # statistics in later quality rules without adding content.
    collapse_blank_lines: bool = True
    # Join the lines of paragraphs evidently hard-wrapped at a fixed width (books, man pages), so
    # line-level quality rules see real lines; code, lists, tables and poetry are left alone.
    reflow: bool = True


@register
class Normalize(Stage):
    name = "normalize"
    resources = Resources(mb_per_s=5)  # one core, bench/bench_whole.py's corpus
    Config = NormalizeConfig

    def process(self, batch: pa.Table) -> Decisions:
        text = batch.column("text")
        before = pc.binary_length(text)
        if self.config.unicode_form != "none":
            text = unicode.normalize(text, self.config.unicode_form)
        text = pc.replace_substring_regex(text, r"\r\n?", "\n")
        # C0/C1 controls except \t and \n, and the Unicode replacement of a BOM
        text = pc.replace_substring_regex(text, r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{feff}]", "")
        text = pc.replace_substring_regex(text, r"[ \t\x{a0}]+\n", "\n")
        if self.config.collapse_blank_lines:
            text = pc.replace_substring_regex(text, r"\n{3,}", "\n\n")
        text = pc.utf8_trim_whitespace(text)
        changed = pc.subtract(before, pc.binary_length(text))
        joined = np.zeros(batch.num_rows, np.int64)
        if self.config.reflow:
            text = _reflow(text, joined)
        table = batch.set_column(batch.column_names.index("text"), "text", text)
        table = table.append_column("normalize_bytes_removed", pc.cast(changed, pa.int64()))
        if self.config.reflow:
            table = table.append_column("normalize_lines_joined", pa.array(joined))
        reject = first_reason([(pc.equal(pc.utf8_length(text), 0), "empty")], batch.num_rows)
        return Decisions(table, reject)


def _reflow(text: pa.ChunkedArray | pa.Array, joined: np.ndarray) -> pa.Array:
    """`text` with wrapped paragraphs re-flowed; lines joined per document into `joined`."""
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    candidates = np.flatnonzero(pc.fill_null(pc.match_substring_regex(text, _WRAPPED_RUN), False)
                                .to_numpy(zero_copy_only=False))
    changed, values = [], []
    for i, t in zip(candidates, text.take(pa.array(candidates, pa.int64())).to_pylist()):
        new, n = reflow(t)
        if n:
            changed.append(i)
            values.append(new)
            joined[i] = n
    if not changed:
        return text
    mask = np.zeros(len(text), bool)
    mask[changed] = True
    return pc.replace_with_mask(text, pa.array(mask), pa.array(values, text.type))
