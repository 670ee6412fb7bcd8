"""Encode the train and val shards into flat token files, Ray-parallel.

Output (OUT/tokens/, committed atomically: tokens.tmp -> tokens, then _SUCCESS):
  train.bin / val.bin          every document's tokens followed by <|endoftext|>, concatenated
  train.idx.npy / val.idx.npy  uint64 start offsets of the documents, plus the total at the end
  meta.json                    dtype, vocab size, <|endoftext|> id, tokenizer sha256, counts;
                               the trainer refuses token files whose meta does not match its
                               tokenizer and model.
The unit of work is one Parquet row group; units write their own files under deterministic
names and are concatenated in shard order, so the bytes do not depend on the worker count.

    python -m tokenizer.encode --config configs/train-demo.yaml
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pipeline.parts import atomic_write_bytes, sha256_file
from tokenizer.bpe import EOT, eot_id, load, resolve_shards, shard_paths

log = logging.getLogger("curate.tokenize")

SPLITS = ("train", "val")
META = "meta.json"
SUCCESS = "_SUCCESS"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


@dataclass(frozen=True)
class Unit:
    split: str
    shard: str
    row_group: int
    index: int  # position within the split: the order units are concatenated in


def plan_units(shards: str | Path) -> list[Unit]:
    units: list[Unit] = []
    for split in SPLITS:
        paths = shard_paths(shards, split) if split == "train" else sorted(resolve_shards(shards).glob("val-*.parquet"))
        k = 0
        for path in paths:
            for rg in range(pq.ParquetFile(path).num_row_groups):
                units.append(Unit(split, str(path), rg, k))
                k += 1
    return units


@lru_cache(maxsize=4)
def _encoder(tokenizer_path: str, mtime_ns: int):
    """The tokenizer once per worker process (a worker encodes many row groups)."""
    tok = load(tokenizer_path)
    # A document that literally contains "<|endoftext|>" must not produce the separator id.
    tok.encode_special_tokens = True
    return tok


def encoder(tokenizer_path: str | Path):
    """The tokenizer as documents are encoded (special tokens encoded as text), loaded once per process."""
    return _encoder(str(tokenizer_path), os.stat(tokenizer_path).st_mtime_ns)


def encode_texts(tok, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(every text's ids followed by <|endoftext|>, concatenated; each text's length in tokens)."""
    eot, dtype = eot_id(tok), token_dtype(tok.get_vocab_size())
    encs = tok.encode_batch_fast(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) + 1 for e in encs), dtype=np.uint64, count=len(encs))
    flat = np.empty(int(lengths.sum()), dtype=dtype)
    pos = 0
    for e in encs:
        n = len(e.ids)
        flat[pos:pos + n] = e.ids
        flat[pos + n] = eot
        pos += n + 1
    return flat, lengths


def encode_unit(tokenizer_path: str, unit: Unit, work: str) -> tuple[int, int, int]:
    """Encode one row group to WORK/{split}-{index}.bin and .len.npy; returns (tokens, docs, bytes)."""
    tok = encoder(tokenizer_path)
    table = pq.ParquetFile(unit.shard).read_row_group(unit.row_group, columns=["text"])
    texts = [t for t in table.column(0).to_pylist() if t]
    flat, lengths = encode_texts(tok, texts)
    stem = Path(work) / f"{unit.split}-{unit.index:06d}"
    flat.tofile(f"{stem}.bin")
    np.save(f"{stem}.len.npy", lengths)
    return int(flat.size), len(texts), sum(len(t.encode()) for t in texts)


def _run_units(tokenizer_path: str, units: list[Unit], work: Path, workers: int | None,
               inline: bool) -> list[tuple[int, int, int]]:
    from tqdm import tqdm

    bar = tqdm(total=len(units), desc="tokenize", unit="rowgroup", disable=None)
    results: list = [None] * len(units)
    if inline:
        for i, u in enumerate(units):
            results[i] = encode_unit(tokenizer_path, u, str(work))
            bar.update()
    else:
        import ray

        from pipeline.executors import init_ray

        init_ray(workers)
        # One core per task: `tokenizers` would otherwise start a thread per core in every worker.
        task = ray.remote(encode_unit).options(
            num_cpus=1, max_retries=3, runtime_env={"env_vars": {"RAYON_NUM_THREADS": "1"}})
        refs = {task.remote(tokenizer_path, u, str(work)): i for i, u in enumerate(units)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            results[refs[done[0]]] = ray.get(done[0])
            bar.update()
    bar.close()
    return results


def _concat(work: Path, split: str, n_units: int, dest: Path) -> tuple[int, int]:
    lengths = [np.load(work / f"{split}-{k:06d}.len.npy") for k in range(n_units)]
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, np.uint64)
    with open(dest / f"{split}.bin", "wb") as out:
        for k in range(n_units):
            with open(work / f"{split}-{k:06d}.bin", "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
        out.flush()
        os.fsync(out.fileno())
    return _write_index(dest, split, lengths_all), len(lengths_all)


def _write_index(dest: Path, split: str, lengths: np.ndarray) -> int:
    """{split}.idx.npy: the documents' start offsets and the total; returns the total."""
    starts = np.zeros(len(lengths) + 1, dtype=np.uint64)
    np.cumsum(lengths, out=starts[1:])
    np.save(dest / f"{split}.idx.npy", starts)
    return int(starts[-1])


def _inputs_digest(tokenizer_sha: str, units: list[Unit]) -> str:
    h = hashlib.sha256(tokenizer_sha.encode())
    for path in sorted({u.shard for u in units}):
        st = os.stat(path)
        h.update(f"{Path(path).name}:{st.st_size}:{sha256_file(path)}".encode())
    return h.hexdigest()


def read_meta(tokens_dir: str | Path) -> dict:
    tokens_dir = Path(tokens_dir)
    if not (tokens_dir / SUCCESS).is_file():
        raise FileNotFoundError(f"{tokens_dir}: no committed token files (run `make tokenize` first)")
    return json.loads((tokens_dir / META).read_text())


def _commit(tmp: Path, dest: Path, tok, tokenizer_sha: str, inputs: str, splits: dict) -> dict:
    """meta.json into TMP, TMP renamed to DEST, then _SUCCESS: the token files' commit."""
    meta = {
        "dtype": token_dtype(tok.get_vocab_size()).name, "vocab_size": tok.get_vocab_size(),
        "eot_id": eot_id(tok), "eot": EOT, "tokenizer_sha256": tokenizer_sha, "inputs_sha256": inputs,
        "splits": splits,
        # timing lives beside the data, not in it: meta.json stays byte-identical across runs
    }
    atomic_write_bytes(tmp / META, json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    atomic_write_bytes(dest / SUCCESS, b"")
    return meta


def write_token_files(dest: str | Path, tokenizer_path: str | Path, splits: dict[str, tuple[np.ndarray, np.ndarray, int]],
                      inputs: str) -> dict:
    """Token files from arrays already encoded: split -> (tokens, document lengths, text bytes);
    the same layout and commit as `tokenize_shards` (for data chosen in token space, as the ablation does)."""
    dest, tokenizer_path = Path(dest), Path(tokenizer_path)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta_splits = {}
    for split in SPLITS:
        flat, lengths, n_bytes = splits[split]
        flat.tofile(tmp / f"{split}.bin")
        _write_index(tmp, split, lengths)
        meta_splits[split] = {"tokens": int(flat.size), "docs": len(lengths), "bytes": int(n_bytes)}
    return _commit(tmp, dest, load(tokenizer_path), sha256_file(tokenizer_path), inputs, meta_splits)


def tokenize_shards(shards: str | Path, tokenizer_path: str | Path, dest: str | Path, *,
                    workers: int | None = None, inline: bool = False) -> dict:
    """Encode all shards into DEST; skipped when DEST holds the same tokenizer and shards."""
    dest, tokenizer_path = Path(dest), Path(tokenizer_path)
    tok = load(tokenizer_path)
    tokenizer_sha = sha256_file(tokenizer_path)
    units = plan_units(shards)
    inputs = _inputs_digest(tokenizer_sha, units)
    if (dest / SUCCESS).is_file():
        meta = read_meta(dest)
        if meta.get("inputs_sha256") == inputs:
            log.info("tokenize: %s is up to date (%d train tokens)", dest, meta["splits"]["train"]["tokens"])
            return meta
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    work = tmp / "_work"
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    results = _run_units(str(tokenizer_path), units, work, workers, inline)
    seconds = time.perf_counter() - t0
    splits = {}
    for split in SPLITS:
        mine = [r for u, r in zip(units, results) if u.split == split]
        tokens, docs = _concat(work, split, len(mine), tmp)
        splits[split] = {"tokens": tokens, "docs": docs, "bytes": sum(r[2] for r in mine)}
    shutil.rmtree(work)
    total = sum(s["tokens"] for s in splits.values())
    meta = _commit(tmp, dest, tok, tokenizer_sha, inputs, splits)
    in_bytes = sum(s["bytes"] for s in splits.values())
    cores = workers or os.cpu_count() or 1
    log.info("tokenize: %d tokens (train %d, val %d) from %.1f MB in %.1f s: %.0f tokens/s, "
             "%.0f tokens/s/core over %d cores; %.2f bytes/token -> %s",
             total, splits["train"]["tokens"], splits["val"]["tokens"], in_bytes / 1e6, seconds,
             total / seconds, total / seconds / cores, cores, in_bytes / max(total, 1), dest)
    return meta


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import ConfigError
    from trainer.config import config_from_args, run_config_parser

    p = run_config_parser("python -m tokenizer.encode", __doc__)
    p.add_argument("--workers", type=int, help="Ray CPUs to start locally (default: all)")
    p.add_argument("--inline", action="store_true", help="encode in this process, without Ray")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = config_from_args(args)
        tokenize_shards(cfg.shards, cfg.tokenizer_path, cfg.tokens_dir, workers=args.workers, inline=args.inline)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from tokenizer.encode import main

    sys.exit(main())
