"""Generate text from the newest checkpoint (temperature and top-k sampling), in one process.

    python -m trainer.sample --config configs/train-demo.yaml --prompt "The kernel"
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp

from pipeline.config import ConfigError, parse_override
from tokenizer.bpe import eot_id, load as load_tokenizer
from trainer.config import RunConfig, load_run_config
from trainer.model import GPT
from trainer.train import LATEST


def load_model(cfg: RunConfig, checkpoint: Path | None = None) -> GPT:
    tok = load_tokenizer(cfg.tokenizer_path)
    cfg.model.vocab_size = tok.get_vocab_size()
    if checkpoint is None:
        latest = cfg.checkpoint_dir / LATEST
        if not latest.is_file():
            raise FileNotFoundError(f"{cfg.checkpoint_dir}: no checkpoint (run `make train` first)")
        checkpoint = cfg.checkpoint_dir / latest.read_text().strip()
    model = GPT(cfg.model)
    state = {"model": model.state_dict()}
    # DCP reads the sharded checkpoint into whole tensors without a process group
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(checkpoint), no_dist=True)
    model.load_state_dict(state["model"])
    return model.eval()


def sample(cfg: RunConfig, prompt: str | None = None, checkpoint: Path | None = None) -> str:
    s = cfg.sample
    tok = load_tokenizer(cfg.tokenizer_path)
    model = load_model(cfg, checkpoint)
    ids = tok.encode(prompt if prompt is not None else s.prompt).ids or [eot_id(tok)]
    g = torch.Generator().manual_seed(s.seed)
    out = model.generate(torch.tensor([ids]), s.max_new_tokens, s.temperature, s.top_k,
                         generator=g, stop_token=eot_id(tok))
    return tok.decode(out[0].tolist(), skip_special_tokens=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.sample", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/train-demo.yaml", help="run config (YAML)")
    p.add_argument("--prompt", help="text to continue (default: the config's sample.prompt)")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint directory (default: the newest)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override, e.g. sample.temperature=1.0 or sample.top_k=10")
    args = p.parse_args(argv)
    try:
        cfg = load_run_config(args.config, dict(parse_override(s) for s in args.set))
        print(sample(cfg, args.prompt, args.checkpoint))
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
