"""Train a byte-level BPE tokenizer (HuggingFace `tokenizers`) on the train shards.

GPT-4-style pre-tokenization (letters, 1-3 digit groups, punctuation runs, whitespace kept with
the following word) then byte-level mapping, so every string round-trips and no input is ever
out of vocabulary. The val shards are never read here: a tokenizer that saw val text would
flatter the validation loss.

    python -m tokenizer.bpe --config configs/train-demo.yaml
"""
from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from pipeline.parts import atomic_write_bytes

log = logging.getLogger("curate.tokenizer")

EOT = "<|endoftext|>"
# cl100k's split: contractions, letter runs with one leading non-letter, digit groups of at most
# three, punctuation runs, newlines, other whitespace.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def resolve_shards(shards: str | Path) -> Path:
    """The shard directory; a pattern (`out/default/*-mix/shards`) must match exactly one, so a
    config survives stages being added before mix."""
    text = str(shards)
    if not any(c in text for c in "*?["):
        return Path(text)
    import glob

    matches = sorted(glob.glob(text))
    if len(matches) != 1:
        raise FileNotFoundError(f"shards: {text!r} matches {len(matches)} directories "
                                f"({', '.join(matches) or 'none: run `make run` or `make mix` first'})")
    return Path(matches[0])


def shard_paths(shards: str | Path, split: str) -> list[Path]:
    """`split-*.parquet` under `shards`, in name order; a clear error when there are none."""
    shards = resolve_shards(shards)
    paths = sorted(shards.glob(f"{split}-*.parquet"))
    if not paths:
        raise FileNotFoundError(
            f"{shards}: no {split}-*.parquet shards (run `make run` or `make mix` first, "
            f"or point `shards:` at Parquet files with a text column)")
    return paths


def iter_texts(paths: list[Path], batch_rows: int = 1024, max_docs: int | None = None) -> Iterator[list[str]]:
    left = max_docs
    for path in paths:
        pf = pq.ParquetFile(path)
        if "text" not in pf.schema_arrow.names:
            raise ValueError(f"{path}: no `text` column (columns: {', '.join(pf.schema_arrow.names)})")
        for batch in pf.iter_batches(batch_size=batch_rows, columns=["text"]):
            texts = [t for t in batch.column(0).to_pylist() if t]
            if left is not None:
                texts, left = texts[:left], left - len(texts[:left])
            if texts:
                yield texts
            if left == 0:
                return


def train_tokenizer(paths: list[Path], vocab_size: int, min_frequency: int = 2,
                    max_docs: int | None = None) -> Tokenizer:
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(iter_texts(paths, max_docs=max_docs), trainer=trainer)
    return tok


def save(tok: Tokenizer, path: Path) -> str:
    """Write tokenizer.json atomically; returns its sha256 (the token files record it)."""
    data = tok.to_str(pretty=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load(path: str | Path) -> Tokenizer:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tokenizer (run `make tokenizer` first)")
    return Tokenizer.from_file(str(path))


def eot_id(tok: Tokenizer) -> int:
    i = tok.token_to_id(EOT)
    if i is None:
        raise ValueError(f"tokenizer has no {EOT} token")
    return i


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import ConfigError
    from trainer.config import config_from_args, run_config_parser

    args = run_config_parser("python -m tokenizer.bpe", __doc__).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = config_from_args(args)
        paths = shard_paths(cfg.shards, "train")
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    tok = train_tokenizer(paths, cfg.tokenizer.vocab_size, cfg.tokenizer.min_frequency, cfg.tokenizer.max_docs)
    digest = save(tok, cfg.tokenizer_path)
    log.info("tokenizer: vocab %d (asked %d) from %d train shard(s) in %.1f s -> %s (sha256 %s)",
             tok.get_vocab_size(), cfg.tokenizer.vocab_size, len(paths), time.perf_counter() - t0,
             cfg.tokenizer_path, digest[:12])
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from tokenizer.bpe import main

    sys.exit(main())
