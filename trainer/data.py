"""Token files as training batches: windows at random offsets, drawn from (seed, step, rank).

Because a batch is a pure function of the step, the data position in a checkpoint is the step
itself, and a resumed run draws exactly the batches the uninterrupted run would have drawn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tokenizer.encode import read_meta, token_dtype

_SPLIT_IDS = {"train": 0, "val": 1}


class TokenFileMismatch(ValueError):
    """Token files that were not made by this tokenizer, or do not fit this model."""


class TokenData:
    def __init__(self, tokens_dir: str | Path, vocab_size: int, tokenizer_sha256: str | None,
                 block_size: int, seed: int) -> None:
        self.dir = Path(tokens_dir)
        self.meta = read_meta(self.dir)
        m = self.meta
        if m["vocab_size"] != vocab_size:
            raise TokenFileMismatch(
                f"{self.dir}/meta.json: vocab_size {m['vocab_size']} but the model has {vocab_size} "
                "(re-run `make tokenize` after changing the tokenizer)")
        if m["dtype"] != token_dtype(vocab_size).name:
            raise TokenFileMismatch(
                f"{self.dir}/meta.json: dtype {m['dtype']} cannot hold ids of a {vocab_size}-token vocabulary "
                f"(expected {token_dtype(vocab_size).name})")
        if tokenizer_sha256 is not None and m["tokenizer_sha256"] != tokenizer_sha256:
            raise TokenFileMismatch(
                f"{self.dir}: encoded with tokenizer sha256 {m['tokenizer_sha256'][:12]}, but tokenizer.json "
                f"is {tokenizer_sha256[:12]} (re-run `make tokenize`)")
        self.block_size, self.seed = block_size, seed
        self.tokens = {}
        for split in _SPLIT_IDS:
            n = m["splits"][split]["tokens"]
            path = self.dir / f"{split}.bin"
            if path.stat().st_size != n * np.dtype(m["dtype"]).itemsize:
                raise TokenFileMismatch(f"{path}: {path.stat().st_size} bytes, meta.json says {n} {m['dtype']} tokens")
            self.tokens[split] = np.memmap(path, dtype=m["dtype"], mode="r") if n else np.zeros(0, m["dtype"])
        if len(self.tokens["train"]) <= block_size + 1:
            raise TokenFileMismatch(f"{self.dir}/train.bin: {len(self.tokens['train'])} tokens, fewer than "
                                    f"one block of {block_size} + 1")

    def split_tokens(self, split: str) -> int:
        return len(self.tokens[split])

    def batch(self, split: str, batch_size: int, *key: int, device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` windows of block_size+1 tokens; `key` (step, micro-step, rank) picks them.

        The val split is used when it holds at least one window; otherwise the train split stands in.
        """
        data = self.tokens[split]
        if len(data) <= self.block_size + 1:
            data = self.tokens["train"]
        rng = np.random.default_rng([self.seed, _SPLIT_IDS[split], *key])
        starts = rng.integers(0, len(data) - self.block_size - 1, size=batch_size)
        windows = np.stack([data[s:s + self.block_size + 1] for s in starts]).astype(np.int64)
        t = torch.from_numpy(windows)
        if torch.device(device).type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        return t[:, :-1], t[:, 1:]
