"""Generate text from the newest checkpoint (temperature and top-k sampling, or greedy), in one process.

    python -m trainer.sample --config configs/train-demo.yaml --prompt "The kernel"
    python -m trainer.sample --set sample.temperature=0      # greedy

Keys and values are cached across steps (trainer/model.py), and the GPU is used when visible.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp

from pipeline.config import ConfigError
from tokenizer.bpe import eot_id, load as load_tokenizer
from trainer.config import RunConfig, config_from_args, run_config_parser
from trainer.model import GPT
from trainer.train import LATEST


def load_model(cfg: RunConfig, checkpoint: Path | None = None, vocab_size: int | None = None) -> GPT:
    cfg.model.vocab_size = vocab_size or load_tokenizer(cfg.tokenizer_path).get_vocab_size()
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


def sample(cfg: RunConfig, prompt: str | None = None, checkpoint: Path | None = None,
           device: torch.device | str | None = None) -> str:
    """Continue the prompt (temperature 0: greedy), on the GPU when there is one."""
    s = cfg.sample
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tok = load_tokenizer(cfg.tokenizer_path)
    model = load_model(cfg, checkpoint, tok.get_vocab_size()).to(device)
    ids = tok.encode(prompt if prompt is not None else s.prompt).ids or [eot_id(tok)]
    g = torch.Generator(device=device).manual_seed(s.seed)
    out = model.generate(torch.tensor([ids], device=device), s.max_new_tokens, s.temperature, s.top_k,
                         generator=g, stop_token=eot_id(tok))
    return tok.decode(out[0].tolist(), skip_special_tokens=True)


def main(argv: list[str] | None = None) -> int:
    p = run_config_parser("python -m trainer.sample", __doc__)
    p.add_argument("--prompt", help="text to continue (default: the config's sample.prompt)")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint directory (default: the newest)")
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(args)
        text = sample(cfg, args.prompt, args.checkpoint)
        print(f"--- sample from {args.checkpoint or cfg.checkpoint_dir} ---\n{text}\n--- end of sample ---")
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from trainer.sample import main

    sys.exit(main())
