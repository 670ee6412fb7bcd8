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
from trainer.curves import write_curves
from trainer.model import GPT

LATEST = "LATEST"
BEST = "best"  # checkpoints/best: the lowest validation loss so far, beside the latest
CURVES = "train_curves.svg"
CHINCHILLA_TOKENS_PER_PARAM = 20
TIMING_WARMUP_STEPS = 2  # steps of each invocation left out of tokens/s and MFU


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

    def save(self, step: int, model, optimizer, extra: dict, name: str | None = None) -> None:
        """step-NNNNNN, then LATEST names it; with `name` (e.g. "best") a copy under that name,
        which LATEST never points at and pruning never removes."""
        final_name = name or f"step-{step:06d}"
        tmp, final = self.root / f".{final_name}.tmp", self.root / final_name
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
            if name is None:
                latest_tmp = self.root / f".{LATEST}.tmp"
                latest_tmp.write_text(final_name + "\n")
                os.replace(latest_tmp, self.root / LATEST)
                old = sorted(p for p in self.root.glob("step-*") if p.is_dir())[:-self.keep]
                for p in old:
                    shutil.rmtree(p, ignore_errors=True)
        dist.barrier()

    def load(self, path: Path, model, optimizer) -> dict:
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state = {"model": model_sd, "optim": optim_sd,
                 "train": {"step": 0, "tokens_seen": 0, "best_val_loss": math.inf}}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        return state["train"]


def precision_policy(device_type: str) -> MixedPrecisionPolicy:
    if device_type != "cuda":
        return MixedPrecisionPolicy()  # float32 throughout
    # Blocks get the rotary tables as forward inputs: cast to bf16 they would lose ~2e-3 before
    # apply_rope's upcast, so inputs are not cast (the residual stream is bf16 already, coming
    # from the bf16 embedding); torchtitan does the same.
    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32, cast_forward_inputs=False)


def build_model(cfg: RunConfig, device: torch.device, policy: MixedPrecisionPolicy | None = None) -> GPT:
    """Built on the meta device, sharded (every block, then the root), then materialised and
    initialised shard by shard: a model larger than one device's memory can be built."""
    with torch.device("meta"):
        model = GPT(cfg.model)
    policy = policy or precision_policy(device.type)
    for block in model.blocks:
        fully_shard(block, mp_policy=policy)
    fully_shard(model, mp_policy=policy)  # the tied embedding/head stays one parameter here
    model.to_empty(device=device)
    model.init_weights(cfg.train.seed)
    return model


@torch.no_grad()
def evaluate(model, data: TokenData, split: str, cfg: RunConfig, rank: int, world: int,
             device: torch.device) -> float:
    """Mean loss on the split's first eval_batches x batch_size x world windows: the same windows at
    every evaluation, so the curve compares like with like, and as many for train as for val."""
    model.eval()
    total = torch.zeros((), device=device)
    bs = cfg.train.batch_size
    for k in range(cfg.train.eval_batches):
        x, y = data.batch(split, bs, (k * world + rank) * bs, device=device)
        total += model(x, y)[1].float()
    model.train()
    dist.all_reduce(total)
    return total.item() / (cfg.train.eval_batches * world)


def chinchilla_line(n_params: int, tokens_available: int, tokens_planned: int) -> str:
    suggested = tokens_available / CHINCHILLA_TOKENS_PER_PARAM
    return (f"chinchilla: {n_params / 1e6:.2f}M parameters; {tokens_available:,} unique train tokens available "
            f"= {tokens_available / n_params:.2f} tokens/parameter (compute-optimal ~{CHINCHILLA_TOKENS_PER_PARAM}; "
            f"this data suggests a ~{suggested / 1e6:.3f}M-parameter model); this run trains on "
            f"{tokens_planned:,} tokens = {tokens_planned / n_params:.2f} tokens/parameter, "
            f"{tokens_planned / max(tokens_available, 1):.1f} epochs of the available")


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
                         cfg.model.block_size, t.seed, t.sampling)
        model = build_model(cfg, device)
        if t.compile:
            for block in model.blocks:  # per block, as torchtitan does: the FSDP hooks stay outside
                block.compile()
        optimizer = torch.optim.AdamW(model.param_groups(t.weight_decay), lr=t.lr, betas=(t.beta1, t.beta2),
                                      fused=device.type == "cuda")
        ckpts = Checkpoints(cfg.checkpoint_dir, rank)
        start, tokens_seen, best_val = 0, 0, math.inf
        if (latest := ckpts.latest()) is not None:
            state = ckpts.load(latest, model, optimizer)
            start, tokens_seen, best_val = int(state["step"]), int(state["tokens_seen"]), float(state["best_val_loss"])
            say(f"resumed from {latest} at step {start}")
        windows_per_micro = t.batch_size * world
        tokens_per_step = windows_per_micro * cfg.model.block_size * t.grad_accum
        # windows consumed before this invocation: the data position, whatever the world size was
        windows_start = tokens_seen // cfg.model.block_size
        n_params = model.num_params()
        say(f"model: {asdict(cfg.model)}")
        say(f"device {device.type} x {world} ({'nccl, bf16 params' if device.type == 'cuda' else 'gloo, float32'}); "
            f"{tokens_per_step:,} tokens/step; {t.sampling} sampling, "
            f"{data.windows_per_epoch('train'):,} train windows per epoch")
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
            result = _evaluate_both(model, data, cfg, rank, world, device, step=0)
            _log(rank, log_path, result)
            say(f"step 0: train loss {result['train_eval_loss']:.4f} | val loss {result['val_loss']:.4f} "
                f"(ppl {result['val_ppl']:.1f})")
        stop_at = t.steps if t.stop_after is None else min(t.steps, start + t.stop_after)
        timer = _Timer(device)
        for step in range(start, stop_at):
            lr = lr_at(step, t)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(t.seed * 1_000_003 + step * world + rank)  # dropout noise is a function of the step
            loss_sum = torch.zeros((), device=device)
            first = windows_start + (step - start) * windows_per_micro * t.grad_accum
            for micro in range(t.grad_accum):
                x, y = data.batch("train", t.batch_size, first + (micro * world + rank) * t.batch_size, device=device)
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
            done = step + 1
            timer.step_done(tokens_per_step, warm_up=done - start <= TIMING_WARMUP_STEPS)
            if done % t.log_every == 0 or done % t.eval_every == 0 or done == stop_at:
                dist.all_reduce(loss_sum)
                tps = timer.rate()
                result = {"step": done, "loss": loss_sum.item() / (t.grad_accum * world), "lr": lr,
                          "grad_norm": float(norm), "tokens_seen": tokens_seen, "tokens_per_s": tps}
                line = f"step {done}: loss {result['loss']:.4f} lr {lr:.2e} norm {float(norm):.2f} "
                line += f"{tps:,.0f} tok/s" if tps else "(warm-up, untimed)"
                if tps and t.peak_flops and device.type == "cuda":
                    result["mfu"] = flops_per_token * tps / (t.peak_flops * world)
                    line += f" MFU {100 * result['mfu']:.1f}%"
                if device.type == "cuda":
                    result["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
                    line += f" mem {result['peak_mem_gib']:.1f} GiB"
                if done % t.eval_every == 0 or done == t.steps:
                    result.update(_evaluate_both(model, data, cfg, rank, world, device, step=done))
                    line += (f" | train loss {result['train_eval_loss']:.4f} val loss {result['val_loss']:.4f} "
                             f"ppl {result['val_ppl']:.1f}")
                _log(rank, log_path, result)
                say(line)
                if "val_loss" in result and result["val_loss"] < best_val:
                    best_val = result["val_loss"]
                    ckpts.save(done, model, optimizer, _state(done, tokens_seen, best_val), name=BEST)
                    _write_best(rank, cfg.checkpoint_dir, done, best_val)
                timer.restart()  # evaluation and logging are not training time
            if done % t.checkpoint_every == 0 or done == stop_at:
                ckpts.save(done, model, optimizer, _state(done, tokens_seen, best_val))
                timer.restart()  # neither is checkpointing
        if rank == 0:
            write_curves(log_path, Path(cfg.out) / CURVES)
        return result
    finally:
        dist.destroy_process_group()


def _state(step: int, tokens_seen: int, best_val: float) -> dict:
    return {"step": step, "tokens_seen": tokens_seen, "best_val_loss": best_val}


def _evaluate_both(model, data: TokenData, cfg: RunConfig, rank: int, world: int, device: torch.device,
                   step: int) -> dict:
    """Train and val loss on the same number of windows: the gap between them is overfitting."""
    train = evaluate(model, data, "train", cfg, rank, world, device)
    val = evaluate(model, data, "val", cfg, rank, world, device)
    return {"step": step, "train_eval_loss": train, "val_loss": val, "val_ppl": math.exp(val)}


def _write_best(rank: int, root: Path, step: int, val_loss: float) -> None:
    if rank == 0:
        (root / f"{BEST}.json").write_text(json.dumps({"step": step, "val_loss": val_loss}) + "\n")


class _Timer:
    """Seconds spent in training steps only: the first steps of an invocation (compilation,
    allocator warm-up), evaluation and checkpoint saves are left out, as nanoGPT does."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.restart()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def restart(self) -> None:
        self._sync()
        self.t0, self.seconds, self.tokens = time.perf_counter(), 0.0, 0

    def step_done(self, tokens: int, warm_up: bool) -> None:
        self._sync()
        now = time.perf_counter()
        if not warm_up:
            self.seconds += now - self.t0
            self.tokens += tokens
        self.t0 = now

    def rate(self) -> float | None:
        return self.tokens / self.seconds if self.tokens else None


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

    code = main()
    # Every file is written and the process group destroyed by now, but FSDP's mesh keeps the Gloo
    # backend (and its threads) alive into interpreter teardown, where it now and then aborts the
    # process (bursts of up to 9 runs in 80 on a loaded machine: "terminate called without an
    # active exception", exit -6, a run that did all its work reported failed). Leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
