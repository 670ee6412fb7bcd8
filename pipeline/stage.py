"""The stage contract.

A stage looks at an Arrow batch and answers with `Decisions`: the rows (with its own columns
added, or text rewritten) and, per row, a reject reason or null for "keep". It knows nothing of
Ray, files or statistics: `pipeline.runner` plans the work, writes kept and rejected parts, counts
and checks that every document is accounted for.

Three kinds:
- `Stage.process(batch)`: embarrassingly parallel, row-local decisions (filters, annotators).
- `SourceStage.read(unit)`: makes documents from external files (the `read` stage).
- `GlobalStage.analyze(ctx)`: decisions that need every document (dedup). It runs on the driver
  and orchestrates distributed phases through `ctx.map`, which calls the stage's own methods on
  the worker pool; phases exchange bucketed files (`pipeline.shuffle`), so no process holds all
  keys. It ends by writing per-part decisions, which the runner applies like any other stage.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError


@dataclass
class NoOptions:
    """A stage without options."""


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs; the executor sizes its actor pool from it."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_gb: float | None = None
    # One core's speed on the stage's input as stored (MB/s of input files or upstream Parquet),
    # roughly, as bench/bench_whole.py's corpus measures it: with it `executor: auto` runs the stage
    # in this process when one core would finish before Ray could start and share the work.
    mb_per_s: float | None = None
    # The work is mostly Arrow and numpy kernels, which release the GIL: run inline, a stage
    # runs its units on one thread per worker (1.6-1.8x on 2 cores), no Ray start-up to pay.
    threads: bool = False
    # What each thread after the first adds to one thread's speed, for `executor: auto`'s choice
    # (a stage with Python between its kernels gains less: the GIL).
    thread_gain: float = 0.7


@dataclass
class Decisions:
    """A stage's answer for one batch: every input row, in order, and why it is rejected."""

    table: pa.Table
    reject: pa.Array  # string per row; null = kept

    def __post_init__(self) -> None:
        if len(self.reject) != self.table.num_rows:
            raise ValueError(
                f"Decisions: {len(self.reject)} reasons for {self.table.num_rows} rows"
            )

    @classmethod
    def keep_all(cls, table: pa.Table) -> "Decisions":
        return cls(table, pa.nulls(table.num_rows, pa.string()))


def first_reason(rules: list[tuple[pa.Array | pa.ChunkedArray, str]], num_rows: int,
                 prior: pa.Array | None = None) -> pa.Array:
    """One reason per row: the first rule whose mask is true, else null (kept).

    Rules are checked in order, so a row failing several is recorded under the first; `prior`
    (an earlier reason column) wins over all of them.
    """
    out = pa.nulls(num_rows, pa.string())
    for mask, reason in reversed(rules):
        if mask.type == pa.null():  # pa.array([]) of an empty batch has no type to fill
            mask = mask.cast(pa.bool_())
        mask = pc.fill_null(mask, False)
        out = pc.if_else(mask, pa.scalar(reason, pa.string()), out)
    if prior is not None:
        out = pc.coalesce(prior, out)
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    return out


def languages(batch: pa.Table, default: str) -> list[str]:
    """Each row's language: langid's `language` column (null as "unknown"), or `default` for
    every row where no langid stage ran."""
    if "language" in batch.column_names:
        return pc.fill_null(batch.column("language"), "unknown").to_pylist()
    return [default] * batch.num_rows


class Stage:
    """Base class of a row-local stage; subclasses set `name`, `Config` and `process`."""

    name: ClassVar[str]
    Config: ClassVar[type] = NoOptions
    resources: ClassVar[Resources] = Resources()

    def __init__(self, config: Any, *, seed: int = 0) -> None:
        self.config = config
        self.seed = seed

    def setup(self) -> None:
        """Load models and other heavy state; called once per worker, never per batch."""

    def input_files(self) -> list[str]:
        """Files or directories the stage reads besides its input parts (eval sets, word lists):
        their names, sizes and mtimes join the stage's input hash, so changing one redoes it."""
        return []

    def process(self, batch: pa.Table) -> Decisions:
        raise NotImplementedError


class SourceStage(Stage):
    """A stage with no upstream parts: it turns external inputs into documents."""

    def plan(self, inputs: list[Any]) -> list[Any]:
        """Split the inputs into work units (deterministic: they name the output parts)."""
        raise NotImplementedError

    def read(self, unit: Any, batch_size: int) -> Iterator[Decisions]:
        raise NotImplementedError

    def in_place(self, unit: Any, part_rows: int | None) -> list[tuple[Any, int]] | None:
        """The unit as parts the next stage reads where they are (`pipeline.parts.InPlacePart`),
        each with its text bytes, every row kept; None: `read` it (the default)."""
        return None


@dataclass
class GlobalContext:
    """What a global stage's `analyze` gets: the upstream parts, a scratch directory, a pool."""

    parts: list[str]       # upstream kept parts; the index is the part number in gids
    part_rows: list[int]
    work: str              # scratch directory, removed when the stage commits
    buckets: int           # shuffle width
    pool: Any              # .map(method, [args, ...]) -> results in order, run on the workers
    output: str = ""       # the stage's own (temporary) directory, for outputs beyond kept/rejected
    seed: int = 0
    extra_stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    # files written under `output` ({"path": relative, "rows", "bytes", "sha256"}): listed in _SUCCESS
    outputs: list[dict] = dataclasses.field(default_factory=list)

    def map(self, method: str, calls: list[tuple]) -> list[Any]:
        import time

        t0 = time.perf_counter()
        out = self.pool.map(method, calls)
        seconds = self.extra_stats.setdefault("phase_seconds", {})
        seconds[method] = round(seconds.get(method, 0.0) + time.perf_counter() - t0, 3)
        return out


class GlobalStage(Stage):
    """A stage whose decisions depend on all documents (deduplication)."""

    # Columns decisions may set, with their type and the value rows without a decision get.
    decision_columns: ClassVar[dict[str, tuple[pa.DataType, Any]]] = {}

    def analyze(self, ctx: GlobalContext) -> None:
        """Decide on every document; leave the decisions in `ctx.work` with
        `write_buckets(table, part_numbers, ctx.work, "decisions", source)`: columns `_row`
        (int64, row within the part), `reject_reason` (null = kept) and `decision_columns`.
        Rows without a decision are kept with the columns' defaults."""
        raise NotImplementedError

    def finish(self, decisions: Decisions, work: str) -> Decisions:
        """A row-local pass over each batch once `analyze`'s decisions are applied to it: where a
        stage changes text with what `analyze` learnt and left in `work` (the lines to drop, an
        index to look up). Default: the decisions as they are."""
        return decisions

    def process(self, batch: pa.Table) -> Decisions:  # pragma: no cover - the runner applies decisions
        raise TypeError(f"{self.name} is a global stage: the runner applies its decisions")


_REGISTRY: dict[str, type[Stage]] = {}
_BUILTINS_LOADED = False


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: makes a stage known to configs and the CLI by its `name`."""
    if not dataclasses.is_dataclass(cls.Config):
        raise TypeError(f"{cls.__name__}.Config must be a dataclass")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two stages are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _import_stage_modules() -> None:
    import stages

    for info in pkgutil.iter_modules(stages.__path__):
        importlib.import_module(f"stages.{info.name}")


def registry() -> dict[str, type[Stage]]:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _import_stage_modules()
        _BUILTINS_LOADED = True
    return dict(_REGISTRY)


def stage_class(name: str, where: str = "") -> type[Stage]:
    if name not in _REGISTRY and not _BUILTINS_LOADED and name.isidentifier():
        # a built-in stage lives in stages/<name>.py: importing that one module, not all of them
        # (langid's and toxicity's models' libraries among them), keeps a command's start short
        if importlib.util.find_spec(f"stages.{name}") is not None:
            importlib.import_module(f"stages.{name}")
    known = _REGISTRY if name in _REGISTRY else registry()
    if name not in known:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown stage {name!r} (known stages: {', '.join(sorted(known))})")
    return known[name]
