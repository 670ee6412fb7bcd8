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
    assert "gloo, float32" in out and "chinchilla:" in out and "epoch sampling" in out
    full = _log(straight.parent)
    assert full[20]["val_loss"] < full[0]["val_loss"] - 0.5, (full[0], full[20])
    assert full[20]["loss"] < full[1]["loss"]
    # train and val estimated at every evaluation; the first steps are left out of tokens/s
    assert all("train_eval_loss" in full[s] and "val_loss" in full[s] for s in (0, 10, 20))
    assert full[1]["tokens_per_s"] is None and full[2]["tokens_per_s"] is None and full[3]["tokens_per_s"] > 0
    assert "(warm-up, untimed)" in out
    lm = straight.parent / "lm"
    best = json.loads((lm / "checkpoints/best.json").read_text())
    assert best["val_loss"] == min(full[s]["val_loss"] for s in (0, 10, 20)) and (lm / "checkpoints/best").is_dir()
    svg = (lm / "train_curves.svg").read_text()
    assert svg.count("<polyline") == 3 and "val" in svg

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


def test_chinchilla_line_says_what_is_available_and_what_this_run_trains_on():
    line = chinchilla_line(1_000_000, 2_000_000, 4_000_000)
    assert "2,000,000 unique train tokens available = 2.00 tokens/parameter" in line
    assert "~0.100M-parameter" in line
    assert "trains on 4,000,000 tokens = 4.00 tokens/parameter, 2.0 epochs" in line


@pytest.fixture
def world_of_one(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_bf16_policy_keeps_the_rotary_tables_float32(world_of_one):
    """The GPU precision policy, exercised on the CPU: blocks compute in bf16, RoPE tables stay
    float32, so positions far into the block keep their precision."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    from trainer.config import RunConfig
    from trainer.train import build_model, precision_policy

    cfg = RunConfig(model=ModelConfig(n_layer=2, n_head=4, d_model=32, block_size=64, vocab_size=64))
    seen = []

    def record(_module, args):
        seen.append(tuple(a.dtype for a in args[:3]))

    for policy, expect in ((precision_policy("cuda"), (torch.bfloat16, torch.float32, torch.float32)),
                           (MixedPrecisionPolicy(param_dtype=torch.bfloat16), (torch.bfloat16,) * 3)):
        seen.clear()
        model = build_model(cfg, torch.device("cpu"), policy)
        model.blocks[1].register_forward_pre_hook(record)
        model(torch.randint(0, 64, (2, 64)))
        assert seen == [expect]  # the default policy (cast inputs) is the bug this guards against


def test_model_built_on_meta_and_sharded_equals_the_plain_model_and_stays_tied(world_of_one):
    from trainer.config import RunConfig
    from trainer.train import build_model

    cfg = RunConfig(model=ModelConfig(n_layer=2, n_head=4, n_kv_head=2, d_model=32, block_size=16, vocab_size=50))
    cfg.train.seed = 5
    sharded = build_model(cfg, torch.device("cpu"))
    plain = GPT(cfg.model)
    plain.init_weights(5)
    assert sharded.lm_head.weight is sharded.tok_emb.weight
    got = {n: p.full_tensor() for n, p in sharded.named_parameters()}
    assert got.keys() == dict(plain.named_parameters()).keys()
    for name, p in plain.named_parameters():
        assert torch.equal(got[name], p), name
    assert 0.015 < float(got["tok_emb.weight"].detach().std()) < 0.025
    x = torch.randint(0, 50, (2, 16))
    assert torch.allclose(sharded(x), plain(x), atol=1e-5)


def test_kv_cache_and_greedy_decoding_equal_the_uncached_model():
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=2, n_head=4, n_kv_head=2, d_model=32, block_size=16, vocab_size=50)).eval()
    prompt = torch.randint(0, 50, (1, 5))
    cached = model.generate(prompt, 30, temperature=0)  # 35 tokens: past block_size too
    idx = prompt
    for _ in range(30):
        nxt = model(idx[:, -16:])[:, -1].argmax(-1, keepdim=True)
        idx = torch.cat([idx, nxt], dim=1)
    assert torch.equal(cached, idx)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.generate(prompt, 8, 0.8, 10, generator=g1), model.generate(prompt, 8, 0.8, 10, generator=g2))


def _token_dir(tmp_path, n_train: int, n_val: int):
    import json

    import numpy as np

    d = tmp_path / "tokens"
    d.mkdir(parents=True)
    for split, n in (("train", n_train), ("val", n_val)):
        np.arange(n, dtype=np.uint16).tofile(d / f"{split}.bin")
    (d / "meta.json").write_text(json.dumps({"vocab_size": 1000, "dtype": "uint16", "tokenizer_sha256": "x",
                                             "splits": {"train": {"tokens": n_train}, "val": {"tokens": n_val}}}))
    (d / "_SUCCESS").write_text("")
    return d


def test_epoch_sampling_reads_every_window_once_per_epoch_and_reaches_the_last_token(tmp_path):
    import numpy as np

    from trainer.data import TokenData

    data = TokenData(_token_dir(tmp_path, 1005, 100), 1000, "x", block_size=10, seed=1)
    n = data.windows_per_epoch("train")
    assert n == 100
    last_reached = False
    for epoch in range(8):
        starts = data.starts("train", epoch * n, n)
        offsets = starts % 10
        assert len(set(offsets)) == 1 and len(set(starts)) == n  # one grid per epoch, no window twice
        assert starts.max() + 11 <= 1005
        last_reached |= bool(starts.max() + 11 == 1005)
    assert last_reached  # the last token is a target in some epoch (slack 4: offsets 0..4)
    # ranks take disjoint places: two ranks of 8 windows per micro-step never read the same window
    first = [data.starts("train", r * 8, 8) for r in range(2)]
    assert not set(first[0]) & set(first[1])
    x, y = data.batch("train", 4, 0)
    assert torch.equal(x[:, 1:], y[:, :-1]) and x.shape == (4, 10)
    # i.i.d. sampling stays available and can reach the last token too
    iid = TokenData(_token_dir(tmp_path / "b", 1005, 100), 1000, "x", block_size=10, seed=1, sampling="random")
    assert iid.starts("train", 0, 2000).max() == 1005 - 11
    assert np.array_equal(iid.starts("train", 7, 3), iid.starts("train", 0, 10)[7:])


def test_a_val_split_smaller_than_one_window_is_an_error_not_silently_train(tmp_path):
    from trainer.data import TokenData, TokenFileMismatch

    with pytest.raises(TokenFileMismatch, match=r"val\.bin: 5 tokens.*val_fraction"):
        TokenData(_token_dir(tmp_path, 1005, 5), 1000, "x", block_size=10, seed=1)
