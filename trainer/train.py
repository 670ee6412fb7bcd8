"""Pretrain the GPT on the token files with FSDP2, one process per device (launch with torchrun).

    torchrun --standalone --nproc_per_node=2 -m trainer.train --config configs/train-demo.yaml

Each transformer block and then the whole model are wrapped with `fully_shard`; on CUDA the
parameters compute in bf16 (`MixedPrecisionPolicy`) over NCCL, on CPU in float32 over gloo.
Checkpoints are `torch.distributed.checkpoint` directories (model, optimizer, step); the step is
also the data position and the RNG seed (see trainer/data.py), so a resumed run continues the
same loss curve. Rank 0 appends one JSON line per logged step to OUT/train_log.jsonl.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from pipeline.config import ConfigError
from tokenizer.bpe import load as load_tokenizer
from pipeline.parts import sha256_file
from trainer.config import RunConfig, TrainConfig, config_from_args, run_config_parser
from trainer.data import TokenData, TokenFileMismatch
from trainer.model import GPT

LATEST = "LATEST"
CHINCHILLA_TOKENS_PER_PARAM = 20


def lr_at(step: int, t: TrainConfig) -> float:
    """Linear warmup to lr, then cosine decay to min_lr at the last step."""
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = (step - t.warmup_steps) / max(1, t.steps - t.warmup_steps)
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def pick_device(t: TrainConfig) -> torch.device:
    if t.device == "cuda" or (t.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("train.device is cuda but no GPU is visible")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def init_distributed(device: torch.device) -> tuple[int, int]:
    if "RANK" not in os.environ:  # plain `python -m trainer.train`: a world of one
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", "29511"))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


class Checkpoints:
    """OUT/checkpoints/step-NNNNNN/ (DCP) and a LATEST file naming the newest complete one."""

    def __init__(self, root: Path, rank: int, keep: int = 2) -> None:
        self.root, self.rank, self.keep = root, rank, keep

    def latest(self) -> Path | None:
        f = self.root / LATEST
        if not f.is_file():
            return None
        path = self.root / f.read_text().strip()
        return path if path.is_dir() else None

    def save(self, step: int, model, optimizer, extra: dict) -> None:
        name = f"step-{step:06d}"
        tmp, final = self.root / f".{name}.tmp", self.root / name
        if self.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        dist.barrier()
        model_sd, optim_sd = get_state_dict(model, optimizer)
        dcp.save({"model": model_sd, "optim": optim_sd, "train": extra}, checkpoint_id=str(tmp))
        dist.barrier()
        if self.rank == 0:  # rename, then point LATEST at it: a kill leaves the previous one intact
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            latest_tmp = self.root / f".{LATEST}.tmp"
            latest_tmp.write_text(name + "\n")
            os.replace(latest_tmp, self.root / LATEST)
            old = sorted(p for p in self.root.glob("step-*") if p.is_dir())[:-self.keep]
            for p in old:
                shutil.rmtree(p, ignore_errors=True)
        dist.barrier()

    def load(self, path: Path, model, optimizer) -> dict:
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state = {"model": model_sd, "optim": optim_sd, "train": {"step": 0, "tokens_seen": 0}}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        return state["train"]


def build_model(cfg: RunConfig, device: torch.device):
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank before sharding
    model = GPT(cfg.model).to(device)
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
        if device.type == "cuda" else MixedPrecisionPolicy()
    for block in model.blocks:
        fully_shard(block, mp_policy=mp)
    fully_shard(model, mp_policy=mp)
    return model


@torch.no_grad()
def evaluate(model, data: TokenData, cfg: RunConfig, rank: int, device: torch.device) -> float:
    model.eval()
    total = torch.zeros((), device=device)
    for k in range(cfg.train.eval_batches):
        # the same val windows at every evaluation, so the curve compares like with like
        x, y = data.batch("val", cfg.train.batch_size, 0, k, rank, device=device)
        total += model(x, y)[1].float()
    model.train()
    dist.all_reduce(total)
    return total.item() / (cfg.train.eval_batches * dist.get_world_size())


def chinchilla_line(n_params: int, tokens_available: int, tokens_planned: int) -> str:
    ratio = tokens_available / n_params
    suggested = tokens_available / CHINCHILLA_TOKENS_PER_PARAM
    return (f"chinchilla: {n_params / 1e6:.2f}M parameters, {tokens_available:,} train tokens available "
            f"= {ratio:.2f} tokens/parameter (compute-optimal ~{CHINCHILLA_TOKENS_PER_PARAM}); this data "
            f"suggests a ~{suggested / 1e6:.3f}M-parameter model; this run reads {tokens_planned:,} tokens "
            f"({tokens_planned / max(tokens_available, 1):.1f} epochs)")


def train(cfg: RunConfig) -> dict:
    t = cfg.train
    device = pick_device(t)
    rank, world = init_distributed(device)
    log_path = Path(cfg.out) / "train_log.jsonl"

    def say(msg: str) -> None:
        if rank == 0:
            print(msg, flush=True)

    try:
        tok = load_tokenizer(cfg.tokenizer_path)
        if cfg.model.vocab_size not in (None, tok.get_vocab_size()):
            raise TokenFileMismatch(f"model.vocab_size {cfg.model.vocab_size} but {cfg.tokenizer_path} has "
                                    f"{tok.get_vocab_size()} tokens")
        cfg.model.vocab_size = tok.get_vocab_size()
        data = TokenData(cfg.tokens_dir, cfg.model.vocab_size, sha256_file(cfg.tokenizer_path),
                         cfg.model.block_size, t.seed)
        model = build_model(cfg, device)
        if t.compile:
            for block in model.blocks:  # per block, as torchtitan does: the FSDP hooks stay outside
                block.compile()
        optimizer = torch.optim.AdamW(model.param_groups(t.weight_decay), lr=t.lr, betas=(t.beta1, t.beta2),
                                      fused=device.type == "cuda")
        ckpts = Checkpoints(cfg.checkpoint_dir, rank)
        start, tokens_seen = 0, 0
        if (latest := ckpts.latest()) is not None:
            state = ckpts.load(latest, model, optimizer)
            start, tokens_seen = int(state["step"]), int(state["tokens_seen"])
            say(f"resumed from {latest} at step {start}")
        tokens_per_step = t.batch_size * cfg.model.block_size * t.grad_accum * world
        n_params = model.num_params()
        say(f"model: {asdict(cfg.model)}")
        say(f"device {device.type} x {world} ({'nccl, bf16 params' if device.type == 'cuda' else 'gloo, float32'}); "
            f"{tokens_per_step:,} tokens/step")
        say(chinchilla_line(n_params, data.split_tokens("train"), t.steps * tokens_per_step))
        if rank == 0:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            # a resumed run replaces the log lines after its checkpoint, so the curve has no gaps or repeats
            kept = [l for l in (log_path.read_text().splitlines() if log_path.exists() and start else [])
                    if json.loads(l)["step"] <= start]
            log_path.write_text("".join(l + "\n" for l in kept))
        flops_per_token = model.flops_per_token()
        result: dict = {}
        if start == 0:
            val = evaluate(model, data, cfg, rank, device)
            result = {"step": 0, "val_loss": val, "val_ppl": math.exp(val)}
            _log(rank, log_path, result)
            say(f"step 0: val loss {val:.4f} (ppl {math.exp(val):.1f})")
        t_last, tokens_last = time.perf_counter(), 0
        stop_at = t.steps if t.stop_after is None else min(t.steps, start + t.stop_after)
        for step in range(start, stop_at):
            lr = lr_at(step, t)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(t.seed * 1_000_003 + step * world + rank)  # dropout noise is a function of the step
            loss_sum = torch.zeros((), device=device)
            for micro in range(t.grad_accum):
                x, y = data.batch("train", t.batch_size, step, micro, rank, device=device)
                # gradients are reduced across ranks only on the last micro-step
                model.set_requires_gradient_sync(micro == t.grad_accum - 1)
                _, loss = model(x, y)  # bf16 on CUDA comes from the MixedPrecisionPolicy, not autocast
                (loss / t.grad_accum).backward()
                loss_sum += loss.detach().float()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            tokens_seen += tokens_per_step
            tokens_last += tokens_per_step
            done = step + 1
            if done % t.log_every == 0 or done % t.eval_every == 0 or done == stop_at:
                dist.all_reduce(loss_sum)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - t_last
                tps = tokens_last / elapsed
                result = {"step": done, "loss": loss_sum.item() / (t.grad_accum * world), "lr": lr,
                          "grad_norm": float(norm), "tokens_seen": tokens_seen, "tokens_per_s": tps}
                line = f"step {done}: loss {result['loss']:.4f} lr {lr:.2e} norm {float(norm):.2f} {tps:,.0f} tok/s"
                if t.peak_flops and device.type == "cuda":
                    result["mfu"] = flops_per_token * tps / (t.peak_flops * world)
                    line += f" MFU {100 * result['mfu']:.1f}%"
                if done % t.eval_every == 0 or done == t.steps:
                    val = evaluate(model, data, cfg, rank, device)
                    result.update(val_loss=val, val_ppl=math.exp(val))
                    line += f" | val loss {val:.4f} ppl {math.exp(val):.1f}"
                _log(rank, log_path, result)
                say(line)
                t_last, tokens_last = time.perf_counter(), 0
            if done % t.checkpoint_every == 0 or done == stop_at:
                ckpts.save(done, model, optimizer, {"step": done, "tokens_seen": tokens_seen})
        return result
    finally:
        dist.destroy_process_group()


def _log(rank: int, path: Path, record: dict) -> None:
    if rank == 0:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = run_config_parser("torchrun ... -m trainer.train", __doc__).parse_args(argv)
    try:
        cfg = config_from_args(args)
        train(cfg)
    except (ConfigError, FileNotFoundError, TokenFileMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from trainer.train import main

    sys.exit(main())
