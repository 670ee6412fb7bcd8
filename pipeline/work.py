"""One unit of work: a stage over one input part (or one group of input files), writing its
kept and rejected parts and counting every row. Executors run these; they run the same way
in a Ray actor and inline."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pipeline.parts import REJECTED_COMPRESSION_LEVEL, PartWriter, iter_batches, num_rows
from pipeline.schema import REJECT_REASON, conform, set_column
from pipeline.shuffle import read_bucket
from pipeline.stage import Decisions, GlobalStage, SourceStage, Stage
from pipeline.stats import StageStats
from pipeline.storage import Loc


class StageError(RuntimeError):
    """A stage failed on a unit; the message names the stage and the input part."""


@dataclass(frozen=True)
class UnitTask:
    key: str             # output file-name stem; deterministic, so outputs never depend on workers
    source: Any          # a SourceStage's unit, or the path of an input part
    out_dir: str         # the stage's (temporary) directory
    batch_size: int
    part_rows: int | None = None
    part_index: int | None = None    # global stages: the part number in gids
    decisions: str | None = None     # global stages: where `analyze` left the decisions
    rejected_text: str = "keep"      # "drop": rejected rows lose their text but for a few samples


@dataclass
class UnitResult:
    key: str
    stats: StageStats
    kept_files: list[dict] = field(default_factory=list)
    rejected_files: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"key": self.key, "stats": self.stats.to_json(), "kept_files": self.kept_files,
                "rejected_files": self.rejected_files}

    @classmethod
    def from_json(cls, d: dict) -> "UnitResult":
        return cls(d["key"], StageStats.from_json(d["stats"]), d["kept_files"], d["rejected_files"])


def run_unit(stage: Stage, task: UnitTask) -> UnitResult:
    t0 = time.perf_counter()
    stats = StageStats(stage.name, units=1)
    out = Loc(task.out_dir)
    if isinstance(stage, SourceStage):
        try:
            parts = stage.in_place(task.source, task.part_rows)
        except Exception as e:
            raise StageError(f"stage {stage.name!r} failed on {_describe(task)}: {type(e).__name__}: {e}") from e
        if parts is not None:  # every row kept as it is: listed, not copied
            for part, text_bytes in parts:
                stats.docs_in += part.rows
                stats.kept += part.rows
                stats.bytes_in += text_bytes
                stats.bytes_kept += text_bytes
            stats.worker_seconds = time.perf_counter() - t0
            return UnitResult(task.key, stats, [p.to_json() for p, _ in parts], [])
    if isinstance(stage, SourceStage):
        def name(k: int) -> str:
            return f"{task.key}-{k:03d}"
    else:
        def name(k: int) -> str:
            return task.key if k == 0 else f"{task.key}-{k}"
    kept_w = PartWriter(out / "kept", name, task.batch_size, task.part_rows)
    rej_w = PartWriter(out / "rejected", name, task.batch_size, task.part_rows, REJECTED_COMPRESSION_LEVEL)
    samples: dict[str, int] = {}
    try:
        for decisions in _decisions(stage, task, stats):
            kept, rejected, rejected_reasons = _split(decisions)
            kept_w.write(kept)
            rej_w.write(_drop_text(rejected, samples) if task.rejected_text == "drop" else rejected)
            stats.count_out(kept, rejected, rejected_reasons)
    except StageError:
        raise
    except Exception as e:
        raise StageError(f"stage {stage.name!r} failed on {_describe(task)}: {type(e).__name__}: {e}") from e
    finally:
        kept_files, rejected_files = kept_w.close(), rej_w.close()
    stats.worker_seconds = time.perf_counter() - t0
    return UnitResult(task.key, stats, kept_files, rejected_files)


REJECTED_SAMPLES = 3  # rejected rows per reason and unit that keep their text under rejected_text: drop


def _drop_text(rejected: pa.Table, seen: dict[str, int]) -> pa.Table:
    """`rejected` with text nulled, but for the unit's first REJECTED_SAMPLES rows of each reason."""
    if rejected.num_rows == 0:
        return rejected
    keep = np.zeros(rejected.num_rows, bool)
    for i, reason in enumerate(rejected.column(REJECT_REASON).to_pylist()):
        if seen.get(reason, 0) < REJECTED_SAMPLES:
            seen[reason] = seen.get(reason, 0) + 1
            keep[i] = True
    text = pc.if_else(pa.array(keep), rejected.column("text"), pa.nulls(rejected.num_rows, pa.string()))
    return rejected.set_column(rejected.column_names.index("text"), "text", text)


def _split(d: Decisions) -> tuple[pa.Table, pa.Table, pa.Array]:
    """(kept rows, rejected rows with `reject_reason`, their reasons), in input order."""
    reasons = d.reject
    if reasons.null_count == len(reasons):  # the common case: no copies
        empty = d.table.slice(0, 0)
        return d.table, empty.append_column(REJECT_REASON, pa.array([], pa.string())), reasons.slice(0, 0)
    keep = pc.is_null(reasons)
    drop = pc.invert(keep)
    rejected_reasons = reasons.filter(drop)
    rejected = d.table.filter(drop).append_column(REJECT_REASON, rejected_reasons)
    return d.table.filter(keep), rejected, rejected_reasons


def _decisions(stage: Stage, task: UnitTask, stats: StageStats) -> Iterator[Decisions]:
    if isinstance(stage, SourceStage):
        for d in stage.read(task.source, task.batch_size):
            stats.count_in(d.table)
            yield Decisions(conform(d.table), d.reject)
        return
    apply = _decision_applier(stage, task) if isinstance(stage, GlobalStage) else None
    offset = 0
    for batch in iter_batches(task.source, task.batch_size):
        stats.count_in(batch)
        d = stage.finish(apply(batch, offset), task.decisions) if apply else stage.process(batch)
        if d.table.num_rows != batch.num_rows:
            raise StageError(
                f"stage {stage.name!r} returned {d.table.num_rows} rows for a batch of "
                f"{batch.num_rows} ({_describe(task)}, rows {offset}..{offset + batch.num_rows}): "
                "a stage must reject rows, never drop them"
            )
        offset += batch.num_rows
        yield Decisions(conform(d.table), d.reject)


def _decision_applier(stage: GlobalStage, task: UnitTask):
    """Spreads a global stage's decisions for this part (sparse, by row) over its batches."""
    columns = stage.decision_columns
    schema = pa.schema([("_row", pa.int64()), (REJECT_REASON, pa.string()),
                        *[(name, typ) for name, (typ, _) in columns.items()]])
    table = read_bucket(task.decisions, "decisions", task.part_index, schema)
    rows = table.column("_row").to_numpy()
    if len(np.unique(rows)) != len(rows):
        raise StageError(f"stage {stage.name!r}: more than one decision for a row of {_describe(task)}")
    n = num_rows(task.source)
    full: dict[str, np.ndarray] = {}
    for name, default in [(REJECT_REASON, None), *[(c, d) for c, (_, d) in columns.items()]]:
        arr = np.full(n, default, dtype=object)
        arr[rows] = table.column(name).to_numpy(zero_copy_only=False)
        full[name] = arr

    def apply(batch: pa.Table, offset: int) -> Decisions:
        end = offset + batch.num_rows
        out = batch
        for name, (typ, _) in columns.items():
            out = set_column(out, name, pa.array(full[name][offset:end], typ))
        return Decisions(out, pa.array(full[REJECT_REASON][offset:end], pa.string()))

    return apply


def _describe(task: UnitTask) -> str:
    src = task.source
    files = getattr(src, "files", None)
    if files is not None:
        names = [f.rel for f in files]
        return f"input files {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
    return f"part {src}"
