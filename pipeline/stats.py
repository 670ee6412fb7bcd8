"""Per-stage statistics: the accounting that proves every document went somewhere.

Workers count `in` from the batches they were given and `kept`/`rejected` from the rows they
wrote; the runner merges them and refuses to commit a stage where in != kept + sum(rejected).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.storage import Loc


class AccountingError(RuntimeError):
    """A stage lost or invented documents."""


@dataclass
class StageStats:
    stage: str
    docs_in: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_kept: int = 0
    bytes_rejected: int = 0
    units: int = 0
    workers: int = 0
    seconds: float = 0.0         # wall clock of the stage, driver side
    worker_seconds: float = 0.0  # summed time inside workers (CPU-ish cost)
    extra: dict = field(default_factory=dict)  # stage-specific figures (dedup: pairs, components)

    def count_in(self, table: pa.Table) -> None:
        self.docs_in += table.num_rows
        self.bytes_in += _text_bytes(table)

    def count_out(self, kept: pa.Table, rejected: pa.Table, reasons: pa.Array) -> None:
        self.kept += kept.num_rows
        self.bytes_kept += _text_bytes(kept)
        self.bytes_rejected += _text_bytes(rejected)
        if len(reasons):
            for item in pc.value_counts(reasons).to_pylist():
                self.rejected[item["values"]] = self.rejected.get(item["values"], 0) + item["counts"]

    def merge(self, other: "StageStats") -> None:
        for key in ("docs_in", "kept", "bytes_in", "bytes_kept", "bytes_rejected", "units"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.worker_seconds += other.worker_seconds
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def check(self) -> None:
        if self.docs_in != self.kept + self.rejected_total:
            raise AccountingError(
                f"stage {self.stage}: {self.docs_in} documents in, but {self.kept} kept + "
                f"{self.rejected_total} rejected ({self.rejected}) = "
                f"{self.kept + self.rejected_total}; refusing to commit"
            )

    def to_json(self) -> dict:
        d = asdict(self)
        d["in"] = d.pop("docs_in")
        d["rejected"] = dict(sorted(self.rejected.items()))
        d["rejected_total"] = self.rejected_total
        secs = max(self.seconds, 1e-9)
        d["docs_per_s"] = round(self.docs_in / secs, 1)
        d["mb_per_s"] = round(self.bytes_in / 1e6 / secs, 3)
        d["seconds"] = round(self.seconds, 3)
        d["worker_seconds"] = round(self.worker_seconds, 3)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "StageStats":
        return cls(
            stage=d["stage"], docs_in=d["in"], kept=d["kept"], rejected=dict(d["rejected"]),
            bytes_in=d["bytes_in"], bytes_kept=d["bytes_kept"], bytes_rejected=d["bytes_rejected"],
            units=d.get("units", 0), workers=d.get("workers", 0), seconds=d.get("seconds", 0.0),
            worker_seconds=d.get("worker_seconds", 0.0), extra=d.get("extra", {}),
        )

    def write(self, path: "Loc | Path") -> None:
        Loc(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0)


def read_stats(stage_dir: "Loc | Path") -> StageStats | None:
    try:
        raw = (Loc(stage_dir) / "stats.json").read_bytes()
    except FileNotFoundError:
        return None
    return StageStats.from_json(json.loads(raw))


def format_table(stats: list[tuple[str, StageStats]]) -> str:
    """The per-stage funnel as a fixed-width table for the terminal."""
    header = ("stage", "in", "kept", "rejected", "MB in", "MB kept", "seconds", "docs/s")
    rows = [header]
    reason_lines = []
    for name, s in stats:
        rows.append((name, f"{s.docs_in:,}", f"{s.kept:,}", f"{s.rejected_total:,}",
                     f"{s.bytes_in / 1e6:,.2f}", f"{s.bytes_kept / 1e6:,.2f}",
                     f"{s.seconds:,.1f}", f"{s.docs_in / max(s.seconds, 1e-9):,.0f}"))
        for reason, n in sorted(s.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
            reason_lines.append((name, reason, n, s.docs_in))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    if reason_lines:
        out.append("")
        out.append("rejected by reason:")
        for name, reason, n, total in reason_lines:
            out.append(f"  {name:<{widths[0]}}  {reason:<22} {n:>10,}  ({100 * n / max(total, 1):.1f} %)")
    details = [(name, s.extra) for name, s in stats if s.extra]
    if details:
        out.append("")
        out.append("stage details:")
        for name, extra in details:
            out.append(f"  {name:<{widths[0]}}  " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                          for k, v in extra.items()))
    return "\n".join(out)
