"""Token files as training batches: every window is a pure function of its sample index.

The trainer numbers the windows it reads (sample index = windows consumed before this step +
the micro-step's and rank's place in the step), so the data position in a checkpoint is the
number of windows consumed, and a resumed run reads exactly what the uninterrupted run reads.

`epoch` sampling (the default) reads every split without replacement: the split is cut into
non-overlapping windows at an offset drawn per epoch, and each epoch visits them in a
permutation keyed by (seed, split, epoch); ranks take disjoint places in it, so within an epoch
no window is read twice, and over epochs every token, the last one included, gets its turn.
Resuming with another world size continues at the same place of the same permutation (the
windows consumed so far), so nothing is skipped or repeated; only which rank reads what changes.
`random` sampling draws each window at an independent random offset (i.i.d., with replacement).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from tokenizer.encode import read_meta, token_dtype

_SPLIT_IDS = {"train": 0, "val": 1}


class TokenFileMismatch(ValueError):
    """Token files that were not made by this tokenizer, or do not fit this model."""


class TokenData:
    def __init__(self, tokens_dir: str | Path, vocab_size: int, tokenizer_sha256: str | None,
                 block_size: int, seed: int, sampling: str = "epoch") -> None:
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
        self.block_size, self.seed, self.sampling = block_size, seed, sampling
        self.tokens = {}
        for split in _SPLIT_IDS:
            n = m["splits"][split]["tokens"]
            path = self.dir / f"{split}.bin"
            if path.stat().st_size != n * np.dtype(m["dtype"]).itemsize:
                raise TokenFileMismatch(f"{path}: {path.stat().st_size} bytes, meta.json says {n} {m['dtype']} tokens")
            self.tokens[split] = np.memmap(path, dtype=m["dtype"], mode="r") if n else np.zeros(0, m["dtype"])
        for split in _SPLIT_IDS:
            if len(self.tokens[split]) <= block_size + 1:
                raise TokenFileMismatch(
                    f"{self.dir}/{split}.bin: {len(self.tokens[split])} tokens, fewer than one window of "
                    f"block_size {block_size} + 1" + (
                        "; the validation loss needs a val split (the mix stage's `val_fraction` > 0) "
                        "or a smaller model.block_size" if split == "val" else ""))

    def split_tokens(self, split: str) -> int:
        return len(self.tokens[split])

    def windows_per_epoch(self, split: str) -> int:
        return (len(self.tokens[split]) - 1) // self.block_size

    @lru_cache(maxsize=4)
    def _epoch(self, split: str, epoch: int) -> tuple[int, np.ndarray]:
        """(offset, permutation of window numbers) of one epoch of a split."""
        n = self.windows_per_epoch(split)
        rng = np.random.default_rng([self.seed, _SPLIT_IDS[split], epoch])
        slack = len(self.tokens[split]) - 1 - n * self.block_size  # < block_size tokens left over
        return int(rng.integers(0, slack + 1)), rng.permutation(n)

    def starts(self, split: str, first: int, count: int) -> np.ndarray:
        """Start offsets of the windows numbered first .. first+count-1 in the split's sample order."""
        index = np.arange(first, first + count, dtype=np.int64)
        if self.sampling == "random":
            return np.array([np.random.default_rng([self.seed, _SPLIT_IDS[split], int(i)]).integers(
                0, len(self.tokens[split]) - self.block_size) for i in index], dtype=np.int64)
        n = self.windows_per_epoch(split)
        out = np.empty(count, dtype=np.int64)
        for k, i in enumerate(index):
            offset, perm = self._epoch(split, int(i // n))
            out[k] = offset + perm[i % n] * self.block_size
        return out

    def batch(self, split: str, batch_size: int, first: int, device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows number first .. first+batch_size-1 of `split` as (inputs, targets)."""
        data = self.tokens[split]
        windows = np.stack([data[s:s + self.block_size + 1] for s in self.starts(split, first, batch_size)])
        t = torch.from_numpy(windows.astype(np.int64))
        if torch.device(device).type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        return t[:, :-1], t[:, 1:]
