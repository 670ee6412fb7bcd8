"""normalize: make text canonical before anything compares or scores it.

Unicode NFC, one newline convention, no control characters but tab and newline, no trailing
spaces on lines, at most one blank line in a row, no leading/trailing blank space. All of it
is Arrow compute on the whole batch. Documents left empty are rejected as `empty`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.stage import Decisions, Stage, first_reason, register


@dataclass
class NormalizeConfig:
    # NFC composes characters without changing meaning; NFKC also folds compatibility forms
    # (ligatures, full-width letters), which changes text a reader would see: opt in.
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    # Collapse runs of blank lines to one: extraction leaves many, and they inflate repetition
    # statistics in later quality rules without adding content.
    collapse_blank_lines: bool = True


@register
class Normalize(Stage):
    name = "normalize"
    Config = NormalizeConfig

    def process(self, batch: pa.Table) -> Decisions:
        text = batch.column("text")
        before = pc.binary_length(text)
        if self.config.unicode_form != "none":
            text = pc.utf8_normalize(text, self.config.unicode_form)
        text = pc.replace_substring_regex(text, r"\r\n?", "\n")
        # C0/C1 controls except \t and \n, and the Unicode replacement of a BOM
        text = pc.replace_substring_regex(text, r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{feff}]", "")
        text = pc.replace_substring_regex(text, r"[ \t\x{a0}]+\n", "\n")
        if self.config.collapse_blank_lines:
            text = pc.replace_substring_regex(text, r"\n{3,}", "\n\n")
        text = pc.utf8_trim_whitespace(text)
        changed = pc.subtract(before, pc.binary_length(text))
        table = batch.set_column(batch.column_names.index("text"), "text", text)
        table = table.append_column("normalize_bytes_removed", pc.cast(changed, pa.int64()))
        reject = first_reason([(pc.equal(pc.utf8_length(text), 0), "empty")], batch.num_rows)
        return Decisions(table, reject)
