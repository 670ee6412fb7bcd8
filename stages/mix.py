"""mix: balance sources, languages and periods to a token budget, and write training shards.

1. count (per part): documents and tokens per group (source or URL domain, language, year).
2. plan (driver): each axis's weights are target shares; a cell (one value per weighted axis)
   gets budget x product of its weights, spread over its groups in their natural proportions.
   Rate = target / available: below 1 documents are sampled, above 1 repeated, up to
   `max_repeats` copies (a shortfall is a warning in the report, never a silent deviation).
3. select (per part): a document's copies follow from a hash of (seed, id): deterministic,
   and independent of the input order and worker count. A selected document goes to the
   validation split (one copy) with probability `val_fraction`, else to training.
4. scatter + write (per shard): every copy goes to a shard by a hash of (seed, id, copy), and
   each shard is ordered by that hash: documents are shuffled across and within shards.
Kept rows carry `repeats` and `split`; rejected rows are `downsampled`. The shards, zstd Parquet
with a `text` column, are `shards/train-NNNNN.parquet` and `shards/val-NNNNN.parquet`; the
plan, achieved proportions and per-shard figures are in `manifest.json`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.hashing import hash64
from pipeline.parts import read_schema, read_table, write_table
from pipeline.schema import REJECT_REASON
from pipeline.shuffle import make_gids, mix64, read_bucket, write_buckets
from pipeline.stage import GlobalContext, GlobalStage, register
from pipeline.storage import Loc

AXES = ("source", "language", "period")
BINS = 4096  # resolution of the per-group token histogram over the documents' hash values
BYTES_PER_TOKEN = 4.0  # estimate until a trained tokenizer counts them (labelled as estimated)


@dataclass
class MixConfig:
    # Training tokens wanted; null = as many as the weights allow without repeating any group.
    token_budget: int | None = None
    # Target shares per axis value; an axis left empty keeps its natural proportions, and a
    # value not listed on a weighted axis gets no share.
    by_source: dict[str, float] = field(default_factory=dict)
    by_language: dict[str, float] = field(default_factory=dict)
    by_period: dict[str, float] = field(default_factory=dict)
    # What "source" means: the `source` column, or the URL's host (documents without URL: "none").
    source_key: Literal["source", "domain"] = "source"
    # Up-sampling cap: no document appears more than this many times in training.
    max_repeats: int = 4
    val_fraction: float = 0.01
    # Shard size in rows (documents or copies); row groups are `batch_size` rows.
    shard_rows: int = 20_000

    def __post_init__(self) -> None:
        for axis in AXES:
            w = getattr(self, f"by_{axis}")
            if any(v < 0 for v in w.values()) or (w and sum(w.values()) <= 0):
                raise ConfigError(f"by_{axis}: weights must be >= 0 and not all 0, got {w}")
        if self.max_repeats < 1:
            raise ConfigError(f"max_repeats: must be >= 1, got {self.max_repeats}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction: must be in [0, 1), got {self.val_fraction}")
        if self.shard_rows < 1:
            raise ConfigError(f"shard_rows: must be >= 1, got {self.shard_rows}")
        if self.token_budget is not None and self.token_budget < 1:
            raise ConfigError(f"token_budget: must be >= 1 or null, got {self.token_budget}")


def _unit(seed: int, ids: pa.Array, salt: int) -> np.ndarray:
    """A uniform number in [0, 1) per id, fixed by (seed, salt, id)."""
    h = mix64(hash64(ids) ^ np.uint64((seed * 0x9E3779B1 + salt) & 0xFFFFFFFFFFFFFFFF))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _cutoff(rate: float, tokens: int, hist: np.ndarray) -> tuple[int, int]:
    """(whole copies, hash-bin cut-off) so that the group's sampled tokens come closest to
    rate x tokens: every document gets `whole` copies, plus one if its hash bin < cut-off."""
    whole = int(math.floor(rate))
    rest = (rate - whole) * tokens
    cum = np.concatenate([[0], np.cumsum(hist)])
    return whole, int(np.argmin(np.abs(cum - rest)))


@register
class Mix(GlobalStage):
    name = "mix"
    Config = MixConfig
    decision_columns = {"repeats": (pa.int64(), 0), "split": (pa.string(), None)}

    # ------------------------------------------------------------------ groups
    def groups(self, table: pa.Table) -> dict[str, np.ndarray]:
        n = table.num_rows
        if self.config.source_key == "domain":
            urls = table.column("url").to_pylist()
            source = np.array([(urlsplit(u).hostname or "none") if u else "none" for u in urls], dtype=object)
        else:
            source = np.array(pc.fill_null(table.column("source"), "none").to_pylist(), dtype=object)
        if "language" in table.column_names:
            language = np.array(pc.fill_null(table.column("language"), "unknown").to_pylist(), dtype=object)
        else:
            language = np.full(n, "unknown", dtype=object)
        years = pc.utf8_slice_codeunits(pc.fill_null(table.column("timestamp"), ""), 0, 4).to_pylist()
        period = np.array([y if len(y) == 4 and y.isdigit() else "unknown" for y in years], dtype=object)
        return {"source": source, "language": language, "period": period}

    @staticmethod
    def tokens(table: pa.Table) -> np.ndarray:
        nbytes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
        return np.ceil(nbytes / BYTES_PER_TOKEN).astype(np.int64)

    # ------------------------------------------------------------------ driver
    def analyze(self, ctx: GlobalContext) -> None:
        cfg = self.config
        if cfg.by_language and not any("language" in read_schema(p).names for p in ctx.parts):
            raise ConfigError("mix: by_language needs a `language` column: run the langid stage before mix")
        counts: dict[tuple, list] = {}
        for part_counts in ctx.map("count_part", [(p,) for p in ctx.parts]):
            for key, (docs, toks, hist) in part_counts:
                c = counts.setdefault(tuple(key), [0, 0, np.zeros(BINS, np.int64)])
                c[0] += docs
                c[1] += toks
                c[2] += hist
        plan = self.plan(counts)
        selected = ctx.map("select_part", [(i, p, ctx.work, plan["rates"]) for i, p in enumerate(ctx.parts)])
        train_rows = sum(s[0] for s in selected)
        val_rows = sum(s[1] for s in selected)
        n_train = max(1, math.ceil(train_rows / cfg.shard_rows)) if train_rows else 0
        n_val = max(1, math.ceil(val_rows / cfg.shard_rows)) if val_rows else 0
        ctx.map("scatter_part", [(i, p, ctx.work, plan["rates"], n_train, n_val) for i, p in enumerate(ctx.parts)])
        calls = [("train", k, k, ctx.work, ctx.output) for k in range(n_train)]
        calls += [("val", k, n_train + k, ctx.work, ctx.output) for k in range(n_val)]
        shards = ctx.map("write_shard", calls)
        shards = [s for s in shards if s is not None]
        ctx.outputs.extend({k: s[k] for k in ("path", "rows", "bytes", "sha256")} for s in shards)
        manifest = self.manifest(plan, shards, counts)
        (Loc(ctx.output) / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        ctx.extra_stats.update({"train_rows": train_rows, "val_rows": val_rows,
                                "repeats": train_rows + val_rows - sum(s[2] for s in selected),
                                "train_tokens_estimated": manifest["totals"]["train"]["tokens"],
                                "shards": len(shards), "warnings": len(plan["warnings"])})

    def plan(self, counts: dict[tuple, list[int]]) -> dict:
        """Sampling rate per group, the requested and expected shares, and what cannot be met."""
        cfg = self.config
        weighted = [a for a in AXES if getattr(cfg, f"by_{a}")]
        weights = {a: {k: v / sum(getattr(cfg, f"by_{a}").values()) for k, v in getattr(cfg, f"by_{a}").items()}
                   for a in weighted}
        cells: dict[tuple, int] = {}
        for key, (_, toks, _) in counts.items():
            cell = tuple(key[AXES.index(a)] for a in weighted)
            cells[cell] = cells.get(cell, 0) + toks
        share = {cell: math.prod(weights[a].get(v, 0.0) for a, v in zip(weighted, cell)) for cell in cells}
        total = sum(c[1] for c in counts.values())
        warnings = []
        if cfg.token_budget is None:
            # the largest budget that needs no repetition: the scarcest cell sets it
            ratios = [cells[c] / s for c, s in share.items() if s > 0]
            budget = min(ratios) if ratios else 0
        else:
            budget = cfg.token_budget
        rates: dict[str, tuple[int, float, float]] = {}
        for key, (_, toks, hist) in counts.items():
            cell = tuple(key[AXES.index(a)] for a in weighted)
            avail = cells[cell]
            rate = (budget * share[cell] / avail) if avail else 0.0
            if rate > cfg.max_repeats:
                warnings.append(f"{dict(zip(weighted, cell))}: needs {rate:.2f} copies of each document, "
                                f"capped at max_repeats={cfg.max_repeats}")
                rate = float(cfg.max_repeats)
            rates["\x1f".join(key)] = (*_cutoff(rate, toks, hist), rate)
        for a in weighted:  # requested values with no data at all
            present = {key[AXES.index(a)] for key in counts}
            for v, w in weights[a].items():
                if w > 0 and v not in present:
                    warnings.append(f"{a}={v!r} was requested ({100 * w:.1f} %) but no document has it")
        return {"budget": budget, "rates": rates, "requested": weights, "available_tokens": total,
                "warnings": sorted(set(warnings)), "weighted_axes": weighted}

    def manifest(self, plan: dict, shards: list, counts: dict) -> dict:
        achieved: dict[str, dict[str, dict[str, int]]] = {"train": {a: {} for a in AXES}, "val": {a: {} for a in AXES}}
        totals = {"train": {"rows": 0, "bytes": 0, "tokens": 0}, "val": {"rows": 0, "bytes": 0, "tokens": 0}}
        for s in shards:
            split = s["split"]
            for k in ("rows", "bytes", "tokens"):
                totals[split][k] += s[k]
            for a in AXES:
                for v, t in s["tokens_by"][a].items():
                    achieved[split][a][v] = achieved[split][a].get(v, 0) + t
        proportions = {}
        for a in AXES:
            tot = sum(achieved["train"][a].values()) or 1
            got = {v: round(t / tot, 4) for v, t in sorted(achieved["train"][a].items())}
            proportions[a] = {"requested": {v: round(w, 4) for v, w in plan["requested"].get(a, {}).items()},
                              "achieved": got, "train_tokens": dict(sorted(achieved["train"][a].items())),
                              "val_tokens": dict(sorted(achieved["val"][a].items()))}
        return {
            "tokens_are": f"estimated (UTF-8 bytes / {BYTES_PER_TOKEN:g})",
            "token_budget": self.config.token_budget, "planned_train_tokens": round(plan["budget"]),
            "available_tokens": plan["available_tokens"], "warnings": plan["warnings"],
            "proportions": proportions, "totals": totals,
            "available_by_group": {"/".join(k): {"docs": c[0], "tokens": c[1]} for k, c in sorted(counts.items())},
            "sampling_rates": {k.replace("\x1f", "/"): round(r[2], 6) for k, r in sorted(plan["rates"].items())},
            "shards": [{k: s[k] for k in ("path", "split", "rows", "bytes", "tokens", "sha256")} for s in shards],
        }

    # ------------------------------------------------------------------ workers
    def count_part(self, path: str) -> list:
        table = read_table(path, columns=["id", "text", "url", "source", "timestamp",
                                          *(["language"] if "language" in read_schema(path).names else [])])
        g, toks = self.groups(table), self.tokens(table)
        keys = np.array(["\x1f".join(t) for t in zip(g["source"], g["language"], g["period"])], dtype=object)
        bins = np.minimum((_unit(self.seed, table.column("id"), 1) * BINS).astype(np.int64), BINS - 1)
        out = []
        for key in sorted(set(keys)):
            sel = keys == key
            hist = np.bincount(bins[sel], weights=toks[sel], minlength=BINS).astype(np.int64)
            out.append((key.split("\x1f"), (int(sel.sum()), int(toks[sel].sum()), hist)))
        return out

    def _copies(self, table: pa.Table, rates: dict[str, tuple]) -> tuple[np.ndarray, np.ndarray]:
        """(copies per document, is validation) for the rows of `table`."""
        g = self.groups(table)
        plan = [rates.get("\x1f".join(k), (0, 0.0, 0.0)) for k in zip(g["source"], g["language"], g["period"])]
        full = np.array([p[0] for p in plan], dtype=np.int64)
        cut = np.array([p[1] for p in plan], dtype=np.float64)
        bins = np.minimum((_unit(self.seed, table.column("id"), 1) * BINS).astype(np.int64), BINS - 1)
        copies = np.minimum(full + (bins < cut), self.config.max_repeats)
        val = (_unit(self.seed, table.column("id"), 2) < self.config.val_fraction) & (copies > 0)
        copies[val] = 1
        return copies, val

    def select_part(self, part: int, path: str, work: str, rates: dict[str, tuple]) -> tuple[int, int, int]:
        table = read_table(path)
        copies, val = self._copies(table, rates)
        rows = np.arange(table.num_rows, dtype=np.int64)
        decisions = pa.table({
            "_row": rows, REJECT_REASON: pa.array(np.where(copies == 0, "downsampled", None), pa.string()),
            "repeats": copies, "split": pa.array(np.where(copies == 0, None, np.where(val, "val", "train")), pa.string()),
        })
        write_buckets(decisions, np.full(table.num_rows, part), work, "decisions", part)
        return int(copies[~val].sum()), int(val.sum()), int((copies > 0).sum())

    def scatter_part(self, part: int, path: str, work: str, rates: dict[str, tuple], n_train: int, n_val: int) -> None:
        table = read_table(path)
        copies, val = self._copies(table, rates)
        idx = np.repeat(np.arange(table.num_rows), copies)
        copy_no = np.arange(len(idx)) - np.repeat(np.cumsum(copies) - copies, copies)
        rows = table.take(pa.array(idx))
        g = self.groups(rows)
        ids = rows.column("id")
        order_key = mix64(hash64(ids) ^ mix64(copy_no.astype(np.uint64) + np.uint64(self.seed)))
        is_val = val[idx]
        shard = np.where(is_val, n_train + (order_key % np.uint64(max(n_val, 1))).astype(np.int64),
                         (order_key % np.uint64(max(n_train, 1))).astype(np.int64))
        rows = rows.append_column("_order", pa.array(order_key)).append_column("_gid", pa.array(make_gids(part, 0, len(idx))))
        for a in AXES:
            rows = rows.append_column(f"_{a}", pa.array(g[a].tolist(), pa.string()))
        write_buckets(rows, shard, work, "shards", part)

    def write_shard(self, split: str, k: int, bucket: int, work: str, output: str) -> dict | None:
        """Shard `split`-k from shuffle bucket `bucket`, in its hash order, as zstd Parquet."""
        t = read_bucket(work, "shards", bucket, None)  # copies carry each input's own columns
        if t is None:
            return None
        t = t.take(pc.sort_indices(t, sort_keys=[("_order", "ascending"), ("_gid", "ascending")]))
        tokens_by = {}
        toks = self.tokens(t)
        for a in AXES:
            vals = t.column(f"_{a}").to_numpy(zero_copy_only=False)
            tokens_by[a] = {str(v): int(toks[vals == v].sum()) for v in sorted(set(vals))}
        t = t.drop_columns([c for c in t.column_names if c.startswith("_")] +
                           [c for c in ("reject_reason",) if c in t.column_names])
        rel = f"shards/{split}-{k:05d}.parquet"
        written = write_table(t, Loc(output) / rel, row_group_size=1024, use_dictionary=False)
        return {"path": rel, "split": split, "rows": t.num_rows, **written,
                "tokens": int(toks.sum()), "tokens_by": tokens_by}
