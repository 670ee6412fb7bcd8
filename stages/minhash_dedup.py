"""minhash_dedup: near-duplicate removal with MinHash LSH and distributed connected components.

1. sign (per part): word n-gram shingles of normalised text, MinHash signatures (datasketch's
   `affine32` scheme and permutations, computed for a whole batch at once), one LSH key per band.
2. bucket (per shuffle bucket of band keys): documents sharing a band key become candidate
   pairs (each to the group's first document).
3. verify (per part, two hops to bring both signatures together): keep pairs whose signature
   agreement, an estimate of their Jaccard similarity, reaches `verify_threshold`.
4. connected components (per bucket of nodes): alternating large-star / small-star rounds
   (Kiveris et al., 2014) until the edge set stops changing; every node then points to the
   smallest node of its component. No process holds more than one bucket of edges.
5. resolve (per bucket of components): the smallest `id` in a component is kept, the others
   are rejected as `near_duplicate` with `duplicate_of`; every member gets `dup_cluster_size`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.hashing import hash64
from pipeline.parts import record_batches
from pipeline.schema import REJECT_REASON
from pipeline.shuffle import (bucket_of, column_u64, gid_part, gid_row, group_bounds, make_gids, mix64,
                              read_bucket, sort_table, write_buckets)
from pipeline.stage import GlobalContext, GlobalStage, Resources, register
from stages.ngrams import SHINGLE_MULT, shingles, words  # noqa: F401  (words, shingles: this stage's API too)

EDGES = pa.schema([("u", pa.uint64()), ("v", pa.uint64())])
# `rank`: a hash of the document id, so a band group's centre does not depend on input order
BANDS = pa.schema([("key", pa.uint64()), ("rank", pa.uint64()), ("gid", pa.uint64())])
MEMBERS = pa.schema([("comp", pa.uint64()), ("gid", pa.uint64())])
COMPS = pa.schema([("comp", pa.uint64()), ("gid", pa.uint64()), ("id", pa.string())])
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)  # MurmurHash3's finaliser, as datasketch applies it


@dataclass
class MinhashConfig:
    # Word n-grams: 5 is what datatrove, FineWeb and Gopher use for web text.
    ngram: int = 5
    # 14 bands x 8 rows = 112 permutations: threshold (1/14)^(1/8) ~= 0.72, as datatrove.
    bands: int = 14
    rows: int = 8
    # If set, bands and rows come from datasketch's optimisation for this Jaccard threshold
    # (equal weight on false positives and negatives) within `num_perm` permutations.
    threshold: float | None = None
    num_perm: int = 112
    # Check candidate pairs on their full signatures; cuts pairs that met in one band by chance.
    verify: bool = True
    # Minimum estimated Jaccard of a verified pair; null = the LSH threshold minus 0.12 (0.60
    # for 14x8). The S-curve admits pairs a little below its threshold on purpose (21 % at
    # J = 0.6); the check removes candidates far below it, which met in one band by chance.
    # At the LSH threshold itself it halves recall of real near copies (J 0.62-0.68).
    verify_threshold: float | None = None
    # Safety stop for the connected-components rounds (each halves path lengths or better).
    max_rounds: int = 64

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ConfigError(f"ngram: must be >= 1, got {self.ngram}")
        if self.threshold is not None:
            if not 0 < self.threshold < 1:
                raise ConfigError(f"threshold: must be in (0, 1), got {self.threshold}")
            from datasketch.lsh import _optimal_param

            self.bands, self.rows = (int(x) for x in _optimal_param(self.threshold, self.num_perm, 0.5, 0.5))
        if self.bands < 1 or self.rows < 1:
            raise ConfigError(f"bands and rows must be >= 1, got {self.bands} x {self.rows}")
        if self.bands * self.rows > self.num_perm:
            self.num_perm = self.bands * self.rows

    @property
    def lsh_threshold(self) -> float:
        return (1 / self.bands) ** (1 / self.rows)

    @property
    def verify_at(self) -> float:
        return max(0.0, self.lsh_threshold - 0.12) if self.verify_threshold is None else self.verify_threshold


def fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> np.uint32(s1))
    h = h * np.uint32(m1)
    h = h ^ (h >> np.uint32(s2))
    h = h * np.uint32(m2)
    return h ^ (h >> np.uint32(s3))


def signatures(h32: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
               chunk: int = 1 << 13) -> np.ndarray:
    """MinHash signature per document (rows of documents without shingles are all 2^32-1)."""
    docs = len(offsets) - 1
    sig = np.full((docs, len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    hv = fmix32(h32)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    ends = offsets[nonempty + 1]
    # permutations x shingles, so each document's minimum is a reduction along contiguous memory
    # (10x the shingles x permutations layout); one buffer of a few MB, reused
    buf = np.empty((len(a), chunk), np.uint32)
    i = 0
    while i < len(nonempty):
        # a run of documents whose shingles fit in one chunk (at least one document)
        lo = offsets[nonempty[i]]
        j = max(i + 1, int(np.searchsorted(ends, lo + chunk, "right")))
        sel = nonempty[i:j]
        hi = ends[j - 1]
        phv = buf[:, :hi - lo] if hi - lo <= chunk else np.empty((len(a), hi - lo), np.uint32)
        np.multiply(a[:, None], hv[None, lo:hi], out=phv)
        phv += b[:, None]
        sig[sel] = np.minimum.reduceat(phv, offsets[sel] - lo, axis=1).T
        i = j
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): shape (documents, bands)."""
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bands):
            acc = np.full(sig.shape[0], np.uint64(j) * SHINGLE_MULT[0], dtype=np.uint64)
            for k in range(rows):
                acc = (acc ^ sig[:, j * rows + k].astype(np.uint64)) * SHINGLE_MULT[1]
            keys[:, j] = mix64(acc)
    return keys


def _unique_edges(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(u) == 0:
        return u, v
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    keep = np.ones(len(u), bool)
    keep[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return u[keep], v[keep]


def _edges(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    return _unique_edges(column_u64(table, "u"), column_u64(table, "v"))


def _write_both_ways(u: np.ndarray, v: np.ndarray, work: str, step: str, source: int, buckets: int) -> None:
    both_u, both_v = np.concatenate([u, v]), np.concatenate([v, u])
    write_buckets(pa.table({"u": both_u, "v": both_v}, schema=EDGES), bucket_of(both_u, buckets), work, step, source)


def _set_digest(u: np.ndarray, v: np.ndarray) -> int:
    with np.errstate(over="ignore"):
        return int(np.sum(mix64(u * SHINGLE_MULT[2] + v), dtype=np.uint64))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of datasketch 2.0's MinHash(num_perm, seed) (scheme affine32), so signatures
    equal MinHash's own; drawn here because importing datasketch (and scipy) costs ~0.4 s."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@register
class MinhashDedup(GlobalStage):
    name = "minhash_dedup"
    resources = Resources(mb_per_s=4.5, threads=True)  # one core, bench/bench_whole.py's corpus
    Config = MinhashConfig
    decision_columns = {"duplicate_of": (pa.string(), None), "dup_cluster_size": (pa.int64(), 1)}

    def setup(self) -> None:
        self.a, self.b = permutations(self.config.num_perm, self.seed)

    def sig_schema(self) -> pa.Schema:
        return pa.schema([("gid", pa.uint64()), ("id", pa.string()),
                          ("sig", pa.list_(pa.uint32(), self.config.num_perm))])

    # ------------------------------------------------------------------ driver
    def analyze(self, ctx: GlobalContext) -> None:
        cfg, work, nb = self.config, ctx.work, ctx.buckets
        parts = range(len(ctx.parts))
        signed = ctx.map("sign_part", [(i, p, work, nb) for i, p in enumerate(ctx.parts)])
        ctx.map("band_candidates", [(b, work) for b in range(nb)])
        unique = ctx.map("verify_first", [(p, work, nb) for p in parts])
        verified = ctx.map("verify_second", [(p, work, nb) for p in parts]) if cfg.verify else unique
        stats = {"signed_documents": int(sum(signed)), "candidate_pairs": int(sum(unique)),
                 "verified_pairs": int(sum(verified))}
        rounds, previous = 0, None
        while True:
            if rounds >= cfg.max_rounds:
                raise RuntimeError(f"connected components did not converge in {cfg.max_rounds} rounds")
            res = ctx.map("large_star", [(b, work, rounds, nb) for b in range(nb)])
            digest = (sum(r[0] for r in res), sum(r[1] for r in res) % (1 << 64))
            if digest == previous or digest[0] == 0:
                break
            previous = digest
            ctx.map("small_star", [(b, work, rounds, nb) for b in range(nb)])
            rounds += 1
        ctx.map("label_members", [(b, work, rounds) for b in range(nb)])
        ctx.map("attach_ids", [(p, work, nb) for p in parts])
        comps = ctx.map("resolve_components", [(b, work) for b in range(nb)])
        stats.update({"cc_rounds": rounds, "components": int(sum(c[0] for c in comps)),
                      "largest_component": int(max([c[1] for c in comps] or [0])),
                      "near_duplicates": int(sum(c[2] for c in comps)),
                      "bands": cfg.bands, "rows": cfg.rows, "lsh_threshold": round(cfg.lsh_threshold, 4),
                      "verify_threshold": round(cfg.verify_at, 4) if cfg.verify else None})
        ctx.extra_stats.update(stats)

    # ------------------------------------------------------------------ workers
    def sign_part(self, part: int, path: str, work: str, buckets: int) -> int:
        cfg = self.config
        start, sig_tables, band_tables = 0, [], []
        for batch in record_batches(path, 4096, ["id", "text"]):
            n = batch.num_rows
            word_hash, offsets = words(batch.column("text"))
            h32, sh_offsets = shingles(word_hash, offsets, cfg.ngram)
            sig = signatures(h32, sh_offsets, self.a, self.b)
            gids = make_gids(part, start, n)
            start += n
            has = np.flatnonzero(np.diff(sh_offsets) > 0)
            sig_tables.append(pa.table({
                "gid": gids[has], "id": batch.column("id").take(pa.array(has)),
                "sig": pa.FixedSizeListArray.from_arrays(pa.array(sig[has].ravel(), pa.uint32()), cfg.num_perm),
            }, schema=self.sig_schema()))
            keys = band_keys(sig[has], cfg.bands, cfg.rows)
            rank = hash64(batch.column("id").take(pa.array(has)))
            band_tables.append(pa.table({"key": keys.ravel(), "rank": np.repeat(rank, cfg.bands),
                                         "gid": np.repeat(gids[has], cfg.bands)}, schema=BANDS))
        sigs = pa.concat_tables(sig_tables) if sig_tables else self.sig_schema().empty_table()
        write_buckets(sigs, np.full(sigs.num_rows, part), work, "sigs", part)
        bands = pa.concat_tables(band_tables) if band_tables else BANDS.empty_table()
        write_buckets(bands, bucket_of(column_u64(bands, "key"), buckets), work, "bands", part)
        return sigs.num_rows

    def band_candidates(self, bucket: int, work: str) -> int:
        t = sort_table(read_bucket(work, "bands", bucket, BANDS),
                       [("key", "ascending"), ("rank", "ascending"), ("gid", "ascending")])
        keys, gids = column_u64(t, "key"), column_u64(t, "gid")
        starts, ends = group_bounds(keys)
        first = np.repeat(gids[starts], ends - starts)
        other = np.ones(len(gids), bool)
        other[starts] = False
        # undirected edges, stored smaller gid first
        a, b = first[other], gids[other]
        u, v = _unique_edges(np.minimum(a, b), np.maximum(a, b))
        write_buckets(pa.table({"u": u, "v": v}, schema=EDGES), gid_part(u), work, "cand_u", bucket)
        return len(u)

    def _sigs(self, work: str, part: int) -> tuple[np.ndarray, pa.Table]:
        t = read_bucket(work, "sigs", part, self.sig_schema())
        return column_u64(t, "gid"), t

    def verify_first(self, part: int, work: str, buckets: int) -> int:
        u, v = _edges(read_bucket(work, "cand_u", part, EDGES))
        if not self.config.verify:
            _write_both_ways(u, v, work, "ls0", part, buckets)
            return len(u)
        gids, sigs = self._sigs(work, part)
        sig_u = sigs.column("sig").take(pa.array(np.searchsorted(gids, u)))
        t = pa.table({"u": u, "v": v, "sig_u": sig_u})
        write_buckets(t, gid_part(v), work, "cand_v", part)
        return len(u)

    def verify_second(self, part: int, work: str, buckets: int) -> int:
        schema = pa.schema([*EDGES, ("sig_u", pa.list_(pa.uint32(), self.config.num_perm))])
        t = read_bucket(work, "cand_v", part, schema)
        if t.num_rows == 0:
            return 0
        gids, sigs = self._sigs(work, part)
        v = column_u64(t, "v")
        p = self.config.num_perm
        sig_v = sigs.column("sig").combine_chunks().flatten().to_numpy().reshape(-1, p)[np.searchsorted(gids, v)]
        sig_u = t.column("sig_u").combine_chunks().flatten().to_numpy().reshape(-1, p)
        estimate = (sig_u == sig_v).mean(axis=1)
        ok = estimate >= self.config.verify_at
        _write_both_ways(column_u64(t, "u")[ok], v[ok], work, "ls0", part, buckets)
        return int(ok.sum())

    def large_star(self, bucket: int, work: str, k: int, buckets: int) -> tuple[int, int]:
        """Each node links its larger neighbours to its smallest neighbour (or itself)."""
        u, v = _edges(read_bucket(work, f"ls{k}", bucket, EDGES))
        digest = (len(u), _set_digest(u, v))
        starts, ends = group_bounds(u)
        m = np.minimum(u[starts], np.minimum.reduceat(v, starts)) if len(u) else u
        m_per = np.repeat(m, ends - starts)
        larger = v > u
        out_u, out_v = v[larger], m_per[larger]  # (v, m) with m < v: keyed by the larger end
        write_buckets(pa.table({"u": out_u, "v": out_v}, schema=EDGES), bucket_of(out_u, buckets),
                      work, f"ss{k}", bucket)
        return digest

    def small_star(self, bucket: int, work: str, k: int, buckets: int) -> None:
        """Each node links itself and its smaller neighbours to the smallest of them."""
        u, v = _edges(read_bucket(work, f"ss{k}", bucket, EDGES))
        starts, ends = group_bounds(u)
        if len(u):
            m = np.minimum(u[starts], np.minimum.reduceat(v, starts))
            m_per = np.repeat(m, ends - starts)
            nodes = np.concatenate([v, u[starts]])
            targets = np.concatenate([m_per, m])
            keep = nodes != targets
            nodes, targets = _unique_edges(nodes[keep], targets[keep])
        else:
            nodes = targets = u
        _write_both_ways(nodes, targets, work, f"ls{k + 1}", bucket, buckets)

    def label_members(self, bucket: int, work: str, k: int) -> None:
        u, v = _edges(read_bucket(work, f"ls{k}", bucket, EDGES))
        starts, _ = group_bounds(u)
        if len(u) == 0:
            return
        node = u[starts]
        label = np.minimum(node, np.minimum.reduceat(v, starts))
        write_buckets(pa.table({"comp": label, "gid": node}, schema=MEMBERS), gid_part(node), work, "members", bucket)

    def attach_ids(self, part: int, work: str, buckets: int) -> None:
        t = read_bucket(work, "members", part, MEMBERS)
        if t.num_rows == 0:
            return
        gids, sigs = self._sigs(work, part)
        node = column_u64(t, "gid")
        ids = sigs.column("id").take(pa.array(np.searchsorted(gids, node)))
        comp = column_u64(t, "comp")
        write_buckets(pa.table({"comp": comp, "gid": node, "id": ids}, schema=COMPS),
                      bucket_of(comp, buckets), work, "comps", part)

    def resolve_components(self, bucket: int, work: str) -> tuple[int, int, int]:
        t = sort_table(read_bucket(work, "comps", bucket, COMPS),
                       [("comp", "ascending"), ("id", "ascending"), ("gid", "ascending")])
        if t.num_rows == 0:
            return 0, 0, 0
        comp, gids = column_u64(t, "comp"), column_u64(t, "gid")
        starts, ends = group_bounds(comp)
        sizes = ends - starts
        keeper = np.repeat(starts, sizes)
        ids = t.column("id").to_numpy(zero_copy_only=False)
        is_keeper = np.arange(len(comp)) == keeper
        reason = np.where(is_keeper, None, "near_duplicate")
        decisions = pa.table({
            "_row": gid_row(gids), REJECT_REASON: pa.array(reason, pa.string()),
            "duplicate_of": pa.array(np.where(is_keeper, None, ids[keeper]), pa.string()),
            "dup_cluster_size": np.repeat(sizes, sizes).astype(np.int64),
        })
        write_buckets(decisions, gid_part(gids), work, "decisions", bucket)
        return len(starts), int(sizes.max()), int((~is_keeper).sum())
