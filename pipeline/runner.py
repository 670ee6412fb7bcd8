"""Runs a pipeline: stage after stage, each committed atomically, skipped when up to date.

For stage NN the runner
1. computes its config hash and input hash (the upstream `_SUCCESS`, or the input file listing),
   and skips it if `OUT/NN-<stage>/_SUCCESS` records the same ones;
2. otherwise removes any partial output, plans units (input parts, or groups of input files),
   runs them on the executor into `OUT/.NN-<stage>.tmp/`;
3. merges the units' statistics and checks in == kept + sum(rejected);
4. writes stats.json, renames the directory into place, and writes `_SUCCESS` last.
A run killed at any point leaves either a committed stage or one without `_SUCCESS`, which the
next run cleans and redoes; unit outputs are named by their input, so the result is the same.

In an object store (`output: s3://bucket/prefix`) nothing can be renamed: a stage is written
in place in `OUT/NN-<stage>/`, committed by `_SUCCESS` alone (which lists its files; readers use
no other), and objects it does not list are deleted just before it is written.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.config import ConfigError, PipelineConfig, StageEntry, to_dict
from pipeline.manifest import (SUCCESS, canonical, config_hash, library_versions, read_success,
                               sha256_bytes, success_hash, write_success)
from pipeline.readers import expand_inputs
from pipeline.stage import GlobalContext, GlobalStage, SourceStage, stage_class
from pipeline.stats import AccountingError, StageStats, read_stats
from pipeline.parts import InPlacePart, atomic_write_bytes, num_rows, part_bytes, part_source
from pipeline.storage import Loc
from pipeline.work import UnitResult, UnitTask

log = logging.getLogger("curate")
PRUNED = "_PRUNED"  # in a stage directory: its kept parts were deleted (keep_stage_outputs: last)
# in a stage's temporary directory: which attempt it belongs to, and one record per finished unit
ATTEMPT, UNITS, ANALYZED = "_ATTEMPT", "_units", "_ANALYZED"


def _read_json(path: Loc) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


@dataclass
class StageRun:
    index: int
    entry: StageEntry
    directory: Path | Loc  # a Path for a local output, a Loc for a URI
    stats: StageStats
    skipped: bool


def _stage_run(index: int, entry: StageEntry, directory: Loc, stats: StageStats, skipped: bool) -> StageRun:
    return StageRun(index, entry, Path(directory.path) if directory.local else directory, stats, skipped)


def stage_dirname(index: int, name: str) -> str:
    return f"{index:02d}-{name}"


def _check_plan(cfg: PipelineConfig) -> None:
    if not cfg.stages:
        raise ConfigError("the config lists no stages")
    for i, entry in enumerate(cfg.stages):
        is_source = issubclass(stage_class(entry.name), SourceStage)
        if i == 0 and not is_source:
            raise ConfigError(f"stages[0] is {entry.name!r}: the first stage must read input (e.g. 'read')")
        if i > 0 and is_source:
            raise ConfigError(f"stages[{i}] is {entry.name!r}: only the first stage may read input files")


def _index_of(cfg: PipelineConfig, name: str, flag: str) -> int:
    for i, entry in enumerate(cfg.stages):
        if entry.name == name:
            return i
    raise ConfigError(f"{flag} {name}: no such stage in this config "
                      f"(stages: {', '.join(e.name for e in cfg.stages)})")


# Under this much input (bytes on disk) a stage runs in the driver when `executor: auto`: Ray's
# start-up (~4 s here) and a stage's actors (~1 s) cost more than a second core saves.
AUTO_INLINE_BYTES = 4 << 20
# What Ray costs before a stage's work starts: starting it and the stage's actors, or (already
# started by an earlier stage) the actors alone. A stage that declares its speed (Resources.mb_per_s)
# runs inline when this process finishes before W workers on Ray would: start + time / W.
RAY_START_S, RAY_ACTORS_S = 5.0, 1.0


class _LazyExecutor:
    """Starts Ray only when a stage actually has to run on it (a fully up-to-date run, or one
    whose stages are all small under `executor: auto`, never does)."""

    def __init__(self, cfg: PipelineConfig, given: Any) -> None:
        self.cfg, self.executor, self.owned = cfg, given, given is None
        self.inline: Any = None

    def get(self, input_bytes: int, resources: Any = None) -> Any:
        from pipeline.executors import InlineExecutor, make_executor

        if self.owned and self.cfg.executor != "ray" and (
                self.cfg.executor == "inline" or (not os.environ.get("RAY_ADDRESS") and self._cheap(input_bytes, resources))):
            # asked for by name (debugging): one thread unless --workers says more
            threads = self.cfg.workers or (1 if self.cfg.executor == "inline" else os.cpu_count())
            self.inline = self.inline or InlineExecutor(threads)
            return self.inline
        if self.executor is None:
            self.executor = make_executor("ray", num_cpus=self.cfg.workers)
        return self.executor

    def _cheap(self, input_bytes: int, resources: Any) -> bool:
        """Whether this process alone finishes the stage before Ray could (`executor: auto`)."""
        if input_bytes < AUTO_INLINE_BYTES:
            return True
        speed = getattr(resources, "mb_per_s", None)
        if not speed:
            return False
        workers = self.cfg.workers or os.cpu_count() or 1
        one_core = input_bytes / 1e6 / speed
        here = one_core / (1 + resources.thread_gain * (workers - 1)) if resources.threads else one_core
        start = RAY_ACTORS_S if self.executor is not None else RAY_START_S
        return workers <= 1 or here < start + one_core / workers

    def shutdown(self) -> None:
        if self.executor is None:
            return
        if self.owned:
            self.executor.shutdown()
        else:  # a caller's executor outlives the run; the workers kept between its stages do not
            self.executor.release_workers()


def run_pipeline(cfg: PipelineConfig, *, only: str | None = None, from_stage: str | None = None,
                 executor: Any = None) -> list[StageRun]:
    """Runs the selected stages in order; `only` runs one, `from_stage` redoes it and those after."""
    _check_plan(cfg)
    out = Loc(cfg.output)
    out.mkdir()
    start = _index_of(cfg, from_stage, "--from") if from_stage else 0
    selected = [_index_of(cfg, only, "--only")] if only else list(range(start, len(cfg.stages)))
    lazy = _LazyExecutor(cfg, executor)
    runs = []
    try:
        for i in selected:
            runs.append(_run_stage(cfg, out, i, cfg.stages[i], force=bool(from_stage), executor=lazy))
            if cfg.keep_stage_outputs == "last":
                _prune(cfg, out)
    finally:
        lazy.shutdown()
    return runs


def _prune(cfg: PipelineConfig, out: Loc) -> None:
    """Deletes the kept parts of every committed stage whose next stage, their only reader, has
    committed too, so at most two stages' kept parts are on disk at once; `_PRUNED` (written
    first, so a kill halfway leaves the stage known to need redoing) lists them."""
    dirs = [out / stage_dirname(i, e.name) for i, e in enumerate(cfg.stages)]
    for d, after in zip(dirs[:-1], dirs[1:]):
        if (d / PRUNED).exists() or not ((d / SUCCESS).is_file() and (after / SUCCESS).is_file()):
            continue
        files = d.glob("kept/*.parquet")
        (d / PRUNED).write_text(json.dumps({"deleted": [f.relative_to(d) for f in files],
                                            "bytes": sum(f.size() for f in files)}, indent=2) + "\n")
        for f in files:
            f.unlink()
        log.info("[%s] kept parts deleted (keep_stage_outputs: last): %d files", d.name, len(files))


def _input_hash(cfg: PipelineConfig, out: Loc, index: int) -> str:
    if index == 0:
        if not cfg.input:
            raise ConfigError("no input: give `input:` in the config or --input PATH")
        refs = expand_inputs([(i.path, i.source) for i in cfg.input])
        listing = [(r.rel, r.size, r.mtime_ns, r.source) for r in refs]
        return sha256_bytes(canonical(listing))
    prev = out / stage_dirname(index - 1, cfg.stages[index - 1].name)
    h = success_hash(prev)
    if h is None:
        raise ConfigError(
            f"stage {cfg.stages[index].name!r} needs the output of {cfg.stages[index - 1].name!r}, "
            f"which is not committed in {prev}: run `curate run CONFIG --only "
            f"{cfg.stages[index - 1].name}` (or its make target) first"
        )
    return h


def _stage_input_hash(cfg: PipelineConfig, out: Loc, index: int, entry: StageEntry) -> str:
    i_hash = _input_hash(cfg, out, index)
    extra = stage_class(entry.name)(entry.config, seed=cfg.seed).input_files()
    if extra:  # eval sets and the like: a changed file redoes the stage
        refs = expand_inputs([(p, None) for p in extra])
        i_hash = sha256_bytes(canonical([i_hash, [(r.rel, r.size, r.mtime_ns) for r in refs]]))
    return i_hash


def _run_stage(cfg: PipelineConfig, out: Loc, index: int, entry: StageEntry, *, force: bool,
               executor: "_LazyExecutor") -> StageRun:
    directory = out / stage_dirname(index, entry.name)
    c_hash = config_hash(entry.name, entry.config, cfg.seed, cfg.batch_size, cfg.rejected_text)
    i_hash = _stage_input_hash(cfg, out, index, entry)
    done = read_success(directory)
    if not force and done and done.get("config_hash") == c_hash and done.get("input_hash") == i_hash:
        stats = read_stats(directory)
        log.info("[%s] up to date (%s kept of %s), skipped", directory.name, f"{stats.kept:,}", f"{stats.docs_in:,}")
        return _stage_run(index, entry, directory, stats, skipped=True)

    if index > 0:
        prev = out / stage_dirname(index - 1, cfg.stages[index - 1].name)
        if (prev / PRUNED).exists():  # its kept parts were deleted: made again, byte for byte
            log.info("[%s] needs %s, whose kept parts were deleted: redoing it", directory.name, prev.name)
            _run_stage(cfg, out, index - 1, cfg.stages[index - 1], force=True, executor=executor)
            i_hash = _stage_input_hash(cfg, out, index, entry)
    if out.local:
        tmp = out / f".{directory.name}.tmp"
        directory.rmtree()
    else:  # no rename: written in place, uncommitted first so a kill from here on is seen
        tmp = directory
        (directory / SUCCESS).unlink()
    attempt = {"config_hash": c_hash, "input_hash": i_hash}
    if force or _read_json(tmp / ATTEMPT) != attempt:  # a different attempt's leftovers: start over
        tmp.rmtree()
        for sub in (UNITS, "kept", "rejected"):
            (tmp / sub).mkdir()
        atomic_write_bytes(tmp / ATTEMPT, canonical(attempt))
    for partial in tmp.glob("*/.*.tmp") if tmp.local else []:  # a killed unit's half-written part
        partial.unlink()  # (an object store never shows one): the unit is redone

    cls = stage_class(entry.name)
    stage = cls(entry.config, seed=cfg.seed)
    tasks = _plan_tasks(cfg, out, index, stage, tmp)
    executor = executor.get(_input_bytes(tasks), cls.resources)
    workers = executor.workers_for(cls.resources, cfg.workers, len(tasks))

    stats = StageStats(entry.name, workers=workers)
    files: dict[str, list] = {"kept": [], "rejected": []}

    def add(result: UnitResult) -> None:
        stats.merge(result.stats)
        files["kept"].extend(result.kept_files)
        files["rejected"].extend(result.rejected_files)

    # units an interrupted attempt finished (parts renamed into place, then the unit's record)
    finished = {t.key: UnitResult.from_json(d) for t in tasks if (d := _read_json(tmp / UNITS / f"{t.key}.json"))}
    for result in finished.values():
        add(result)
    t0 = time.perf_counter()
    log.info("[%s] %d units on %d %s worker(s)%s", directory.name, len(tasks) - len(finished), workers, executor.name,
             f"; resuming: {len(finished)} of {len(tasks)} units already done" if finished else "")
    ctx = None
    with executor.pool(entry.name, entry.config, cfg.seed, workers, cls.resources) as pool:
        if isinstance(stage, GlobalStage) and tasks:
            ctx = _analyze(stage, tasks, tmp, workers, pool, directory.name, cfg.seed)  # tasks gain the decisions
        todo = [t for t in tasks if t.key not in finished]
        with tqdm(total=len(tasks), initial=len(finished), desc=directory.name, unit="part", disable=None,
                  leave=False) as bar:
            for _, result in pool.imap_unordered("run_unit", [(t,) for t in todo]):
                add(result)
                atomic_write_bytes(tmp / UNITS / f"{result.key}.json", canonical(result.to_json()))
                bar.update(1)
                bar.set_postfix(docs=f"{stats.docs_in:,}", kept=f"{stats.kept:,}")
    if ctx is not None:
        stats.extra = dict(ctx.extra_stats)
        files.update({k: v for k, v in _group_outputs(ctx.outputs).items()})
    for scratch in ("_work", UNITS):
        (tmp / scratch).rmtree()
    (tmp / ATTEMPT).unlink()
    stats.seconds = time.perf_counter() - t0
    stats.check()
    for kind in ("kept", "rejected"):
        # in the order of their names, in place or not: the next stage numbers parts in this order
        files[kind].sort(key=lambda f: f["in_place"]["name"] + ".parquet" if f.get("in_place") else f["path"])
        listed = sum(f["rows"] for f in files[kind])
        expected = stats.kept if kind == "kept" else stats.rejected_total
        if listed != expected:
            raise AccountingError(f"stage {entry.name}: {kind} files hold {listed} rows, counted {expected}")

    stats.write(tmp / "stats.json")
    listed = {k: [{**f, "path": f"{k}/{f['path']}" if k in ("kept", "rejected") and not f.get("in_place") else f["path"]}
                  for f in v]
              for k, v in files.items()}
    if tmp is directory:
        _delete_unlisted(directory, {f["path"] for v in listed.values() for f in v})
    else:
        tmp.replace(directory)
    write_success(directory, {
        "stage": entry.name, "index": index, "config": to_dict(entry.config), "seed": cfg.seed,
        "config_hash": c_hash, "input_hash": i_hash,
        "kept": stats.kept, "rejected": stats.rejected_total, "files": listed,
        "versions": library_versions(),
    })
    rate = stats.docs_in / max(stats.seconds, 1e-9)
    log.info("[%s] %s in, %s kept, %s rejected %s in %.1f s (%s docs/s)", directory.name,
             f"{stats.docs_in:,}", f"{stats.kept:,}", f"{stats.rejected_total:,}",
             dict(sorted(stats.rejected.items())), stats.seconds, f"{rate:,.0f}")
    return _stage_run(index, entry, directory, stats, skipped=False)


# written in a stage directory besides the files its manifest lists
_UNLISTED = {"stats.json", "manifest.json", SUCCESS}


def _delete_unlisted(directory: Loc, listed: set[str]) -> None:
    """Deletes what an in-place (object store) stage directory holds beyond its manifest: parts of
    an attempt killed before it knew better, whatever a re-run does not write again."""
    for f in directory.files(recursive=True):
        rel = f.relative_to(directory)
        if rel not in listed and rel not in _UNLISTED:
            log.info("[%s] deleting %s: not part of the committed stage", directory.name, rel)
            f.unlink()


def _input_bytes(tasks: list[UnitTask]) -> int:
    """Bytes a stage reads: its input files (read) or its upstream parts."""
    return sum(sum(f.size for f in t.source.files) if hasattr(t.source, "files") else part_bytes(t.source)
               for t in tasks)


def _group_outputs(outputs: list[dict]) -> dict[str, list[dict]]:
    """A global stage's extra files, grouped by their top directory (`shards/…` -> "shards")."""
    groups: dict[str, list[dict]] = {}
    for f in sorted(outputs, key=lambda f: f["path"]):
        groups.setdefault(f["path"].split("/", 1)[0] if "/" in f["path"] else "other", []).append(f)
    return groups


def _analyze(stage: "GlobalStage", tasks: list[UnitTask], tmp: Loc, workers: int, pool: Any,
             label: str, seed: int) -> GlobalContext:
    """Runs a global stage's distributed analysis; its decisions land in tmp/_work. An analysis an
    interrupted attempt finished (`_work/_ANALYZED`) is not run again."""
    work = tmp / "_work"
    parts = [t.source for t in tasks]
    ctx = GlobalContext(parts=parts, part_rows=[num_rows(p) for p in parts],
                        work=str(work), buckets=max(4, 2 * workers), pool=pool, output=str(tmp), seed=seed)
    done = _read_json(work / ANALYZED)
    if done is not None and done.get("buckets") == ctx.buckets:
        ctx.extra_stats, ctx.outputs = done["extra_stats"], done["outputs"]
        log.info("[%s] analysis done by an earlier attempt, reused", label)
    else:
        work.rmtree()
        work.mkdir()
        t0 = time.perf_counter()
        stage.analyze(ctx)
        log.info("[%s] analysis done in %.1f s %s", label, time.perf_counter() - t0, ctx.extra_stats or "")
        atomic_write_bytes(work / ANALYZED, canonical({"buckets": ctx.buckets, "extra_stats": ctx.extra_stats,
                                                       "outputs": ctx.outputs}))
    for i, t in enumerate(tasks):
        tasks[i] = dataclasses.replace(t, part_index=i, decisions=str(work))
    return ctx


def _plan_tasks(cfg: PipelineConfig, out: Loc, index: int, stage: Any, tmp: Loc) -> list[UnitTask]:
    if isinstance(stage, SourceStage):
        if not cfg.input:
            raise ConfigError("no input: give `input:` in the config or --input PATH")
        units = stage.plan(cfg.input)
        part_rows = getattr(stage.config, "part_rows", None)
        return [UnitTask(u.key, u, str(tmp), cfg.batch_size, part_rows, rejected_text=cfg.rejected_text) for u in units]
    prev = out / stage_dirname(index - 1, cfg.stages[index - 1].name)
    manifest = read_success(prev)
    tasks = []
    for f in manifest["files"]["kept"]:
        source = part_source(prev, f)
        key = source.name if isinstance(source, InPlacePart) else Path(f["path"]).stem
        tasks.append(UnitTask(key, source, str(tmp), cfg.batch_size, rejected_text=cfg.rejected_text))
    return tasks


def committed_stages(out: str | Path | Loc) -> list[tuple[str, StageStats]]:
    """(directory name, stats) of every committed stage under `out`, in order."""
    found = []
    for d in (p for p in Loc(out).dirs() if not p.name.startswith(".")):
        if (d / SUCCESS).is_file():
            s = read_stats(d)
            if s is not None:
                found.append((d.name, s))
    return found
