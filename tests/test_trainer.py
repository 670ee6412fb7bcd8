"""FSDP2 pretraining on 2 CPU ranks (gloo): learning, resume equivalence, sampling, GPT pieces."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.lm_fixtures import write_run_config, write_shards
from tokenizer import bpe
from tokenizer.encode import tokenize_shards
from trainer.config import ModelConfig, TrainConfig, load_run_config
from trainer.model import GPT, apply_rope, rope_tables
from trainer.train import chinchilla_line, lr_at

REPO = Path(__file__).resolve().parents[1]


def _torchrun(config: Path, *overrides: str, port: int) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={port}", "-m", "trainer.train", "--config", str(config)]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _log(root: Path) -> dict[int, dict]:
    lines = (root / "lm/train_log.jsonl").read_text().splitlines()
    return {r["step"]: r for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Tokenizer and token files, copied into each run's directory."""
    root = tmp_path_factory.mktemp("lm")
    cfg = load_run_config(write_run_config(root / "base", write_shards(root / "shards")))
    bpe.save(bpe.train_tokenizer(bpe.shard_paths(cfg.shards, "train"), cfg.tokenizer.vocab_size), cfg.tokenizer_path)
    tokenize_shards(cfg.shards, cfg.tokenizer_path, cfg.tokens_dir, inline=True)

    def new_run(name: str) -> Path:
        run = root / name
        shutil.copytree(root / "base/lm", run / "lm")
        return write_run_config(run, root / "shards")
    return new_run


@pytest.mark.slow
def test_two_rank_fsdp_learns_and_resume_continues_the_same_curve(prepared):
    straight = prepared("straight")
    out = _torchrun(straight, port=29531).stdout
    assert "gloo, float32" in out and "chinchilla:" in out
    full = _log(straight.parent)
    assert full[20]["val_loss"] < full[0]["val_loss"] - 0.5, (full[0], full[20])
    assert full[20]["loss"] < full[1]["loss"]

    interrupted = prepared("interrupted")
    _torchrun(interrupted, "train.stop_after=10", port=29532)
    first = _log(interrupted.parent)
    assert max(first) == 10 and (interrupted.parent / "lm/checkpoints/step-000010").is_dir()
    resumed_out = _torchrun(interrupted, port=29533).stdout
    assert "resumed from" in resumed_out and "step-000010" in resumed_out
    resumed = _log(interrupted.parent)
    assert sorted(resumed) == sorted(full)  # no repeated or missing steps in the log
    for step in range(11, 21):
        assert resumed[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-5, abs=1e-6), step
    assert resumed[20]["val_loss"] == pytest.approx(full[20]["val_loss"], rel=1e-5)

    from trainer.sample import sample
    text = sample(load_run_config(straight))
    assert text.startswith("The ") and len(text) > len("The ")


def test_lr_schedule_warms_up_then_decays_to_min():
    t = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    assert lr_at(0, t) == pytest.approx(1e-4)
    assert lr_at(9, t) == pytest.approx(1e-3)
    assert lr_at(55, t) == pytest.approx(5.5e-4)
    assert lr_at(100, t) == pytest.approx(1e-4)
    assert all(lr_at(s, t) >= lr_at(s + 1, t) for s in range(10, 100))


def test_gpt_is_causal_and_gqa_shapes_hold():
    torch.manual_seed(0)
    cfg = ModelConfig(n_layer=2, n_head=4, n_kv_head=2, d_model=32, block_size=16, vocab_size=50)
    model = GPT(cfg).eval()
    x = torch.randint(0, 50, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 50
    # changing tokens from position 10 on must not change the logits before it
    assert torch.allclose(model(x)[0, :10], model(y)[0, :10], atol=1e-6)
    assert not torch.allclose(model(x)[0, 10:], model(y)[0, 10:])
    assert model.blocks[0].attn.kv.out_features == 2 * 2 * 8
    assert model.lm_head.weight is model.tok_emb.weight
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_rope_preserves_norms_and_encodes_relative_position():
    cos, sin = rope_tables(8, 32, 10000.0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    rot = lambda v, pos: apply_rope(v.expand(1, 1, 32, 8), cos, sin)[0, 0, pos]  # noqa: E731
    assert torch.allclose(rot(q, 5).norm(), q.norm(), atol=1e-5)
    assert torch.allclose(rot(q, 3) @ rot(k, 1), rot(q, 12) @ rot(k, 10), atol=1e-4)


def test_config_errors_name_the_key(tmp_path):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="model.d_model"):
        ModelConfig(d_model=100, n_head=12)
    with pytest.raises(ConfigError, match="n_kv_head"):
        ModelConfig(n_head=12, n_kv_head=5)
    path = tmp_path / "bad.yaml"
    path.write_text("train: {stepz: 3}\n")
    with pytest.raises(ConfigError, match="unknown key 'stepz'"):
        load_run_config(path)


def test_chinchilla_line_suggests_twenty_tokens_per_parameter():
    line = chinchilla_line(1_000_000, 2_000_000, 4_000_000)
    assert "2.00 tokens/parameter" in line and "~0.100M-parameter" in line and "2.0 epochs" in line
