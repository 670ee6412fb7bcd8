"""The training run's YAML config: tokenizer, model, optimisation and sampling, validated by the
pipeline's dataclass checker so a typo is an error naming the key.

One file describes one run (`configs/train-demo.yaml` on 2 CPU ranks, `configs/train-gpt124m.yaml`
on a GPU); `make tokenizer tokenize train sample` all read it.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.config import ConfigError, from_dict, parse_override, read_yaml


@dataclass
class TokenizerConfig:
    # 32,768 for real runs; the demo config uses a small one so the tiny model's embedding is small.
    vocab_size: int = 32768
    min_frequency: int = 2
    # Rows of the train shards used to learn merges (null = all); BPE training holds counts in memory.
    max_docs: int | None = None

    def __post_init__(self) -> None:
        if not 257 <= self.vocab_size <= 1 << 31:
            raise ConfigError(f"tokenizer.vocab_size: must be >= 257 (256 bytes + <|endoftext|>), got {self.vocab_size}")
        if self.min_frequency < 1:
            raise ConfigError(f"tokenizer.min_frequency: must be >= 1, got {self.min_frequency}")


@dataclass
class ModelConfig:
    n_layer: int = 12
    n_head: int = 12
    # Key/value heads: fewer than n_head is grouped-query attention; null = n_head.
    n_kv_head: int | None = None
    d_model: int = 768
    block_size: int = 1024
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    rope_theta: float = 10000.0
    dropout: float = 0.0
    # Filled from the tokenizer at run time; a value here must match it.
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        kv = self.n_kv_head or self.n_head
        if self.d_model % self.n_head:
            raise ConfigError(f"model.d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})")
        if (self.d_model // self.n_head) % 2:
            raise ConfigError("model: head size d_model/n_head must be even (RoPE rotates pairs)")
        if self.n_head % kv:
            raise ConfigError(f"model.n_head ({self.n_head}) must be a multiple of n_kv_head ({kv})")
        if min(self.n_layer, self.n_head, self.d_model, self.block_size) < 1:
            raise ConfigError("model: n_layer, n_head, d_model and block_size must be >= 1")


@dataclass
class TrainConfig:
    steps: int = 200
    # Sequences per rank per micro-step; tokens per optimizer step =
    # batch_size * block_size * grad_accum * world_size.
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 6e-4
    min_lr: float = 6e-5
    warmup_steps: int = 20
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batches: int = 8
    log_every: int = 10
    checkpoint_every: int = 50
    seed: int = 1234
    # Peak dense FLOP/s of one device in the compute dtype, for MFU (H100 SXM bf16: 989e12).
    # null = do not report MFU (CPU).
    peak_flops: float | None = None
    # "auto": CUDA with bf16 mixed precision when a GPU is visible, else CPU float32 with gloo.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compile: bool = False
    # "epoch": every window once per epoch, in a permutation per epoch (trainer/data.py);
    # "random": windows at independent random offsets (with replacement).
    sampling: Literal["epoch", "random"] = "epoch"
    # Stop after this many steps of this invocation (tests interrupt a run this way).
    stop_after: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "eval_every", "eval_batches",
                     "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.min_lr <= self.lr:
            raise ConfigError(f"train.min_lr: must be in [0, lr={self.lr}], got {self.min_lr}")
        if self.warmup_steps < 0 or self.warmup_steps > self.steps:
            raise ConfigError(f"train.warmup_steps: must be in [0, steps], got {self.warmup_steps}")


@dataclass
class SampleConfig:
    prompt: str = "The "
    max_new_tokens: int = 200
    temperature: float = 0.8     # 0: greedy (the most likely token every time)
    top_k: int | None = 50
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ConfigError(f"sample.temperature: must be >= 0 (0 = greedy), got {self.temperature}")


@dataclass
class RunConfig:
    # Parquet shards with a `text` column: train-*.parquet and val-*.parquet (the mix stage's output).
    shards: str = "out/default/*-mix/shards"
    # tokenizer.json, tokens/ and checkpoints/ go here.
    out: str = "out/default/lm"
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    @property
    def tokenizer_path(self) -> Path:
        return Path(self.out) / "tokenizer.json"

    @property
    def tokens_dir(self) -> Path:
        return Path(self.out) / "tokens"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.out) / "checkpoints"


def load_run_config(path: str | Path, overrides: dict | None = None) -> RunConfig:
    """Read a run config; `overrides` maps dotted keys (`train.steps`) to values."""
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    for key, value in (overrides or {}).items():
        node = raw
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p} is not a section")
        node[leaf] = value
    return from_dict(RunConfig, raw, str(path))


def run_config_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The options every LM command shares: the run config and `--set section.key=value`."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/train-demo.yaml", help="run config (YAML)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override, e.g. train.steps=50, model.n_layer=2, tokenizer.vocab_size=8192")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return load_run_config(args.config, dict(parse_override(s) for s in args.set))
