"""Small shards, tokenizer and token files built from the bundled sample, for tokenizer and trainer tests."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from tests.conftest import SAMPLE

VAL_ONLY_WORD = "zqxjvalonly"
TRAIN_ONLY_WORD = "zqxjtrainonly"

TINY = {
    "tokenizer": {"vocab_size": 1024, "min_frequency": 2},
    "model": {"n_layer": 2, "n_head": 4, "n_kv_head": 2, "d_model": 64, "block_size": 64},
    "train": {"steps": 20, "batch_size": 8, "grad_accum": 2, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2,
              "eval_every": 10, "eval_batches": 4, "log_every": 1, "checkpoint_every": 10, "seed": 7},
    "sample": {"max_new_tokens": 20, "prompt": "The "},
}


def write_shards(dest: Path, markers: bool = False) -> Path:
    """Gutenberg books from the sample: 170 to train (two row groups), 21 to val; `markers` adds a
    word repeated in train only and one in val only (they would dominate a small val set)."""
    texts = pq.read_table(SAMPLE / "books/gutenberg.parquet", columns=["text"]).column("text").to_pylist()
    train, val = texts[:170], texts[170:]
    if markers:
        train, val = train + [f"{TRAIN_ONLY_WORD} " * 3000], val + [f"{VAL_ONLY_WORD} " * 3000]
    dest.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": train}), dest / "train-00000.parquet", row_group_size=100)
    pq.write_table(pa.table({"text": val}), dest / "val-00000.parquet")
    return dest


def write_run_config(root: Path, shards: Path, **sections) -> Path:
    raw = {"shards": str(shards), "out": str(root / "lm")}
    for key, value in TINY.items():
        raw[key] = {**value, **sections.get(key, {})}
    path = root / "run.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path
