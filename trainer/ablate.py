"""`make ablate`: does curation train a better model, and which stage buys how much?

One raw corpus (trainer/ablate_corpus.py); variants of training data from it: `raw` (read only),
`curated` (every stage of configs/ablate-pipeline.yaml) and one variant per left-out stage.
Variants share the stage outputs of their common prefix (a stage left out late reuses everything
before it). Every variant's kept documents are tokenized with one tokenizer trained on
data/reference (neutral prose, in no variant, not evaluated on); then, for each seed, exactly
`token_budget` tokens are drawn from each variant (its documents in an order keyed by the seed,
the last one cut), and the same tiny GPT (configs/ablate-train.yaml, initialised from the seed)
trains for `epochs` passes over them, so every variant trains on the same number of actual
tokens and sees each at most `epochs` times. A variant with fewer tokens than the budget stops
the run before any training, by name. Every model is evaluated on the same held-out clean
English (WikiText-2 test articles, the Gutenberg books data/reference keeps out).

Writes out/ablate/RESULTS.md and out/ablate/ablation.svg: mean and standard deviation over the
seeds of the best and the final validation loss and perplexity per variant, and each variant's
difference from `curated`, marked real only where it exceeds two standard errors. A seed fixes
the model's initialisation, the evaluation windows and every document's place in the draw, the
same in every variant; so the seeds pair the runs, and the difference is measured seed by seed. A killed run,
re-run, reuses committed stages, token pools and finished trainings. Same seeds, same numbers.

    python -m trainer.ablate [--config configs/ablate.yaml] [--variants raw,curated] [--seeds 1,2]
                             [--set train.batch_size=4] [--token-budget 200000]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipeline.config import ConfigError, from_dict, load_config, parse_config, parse_override, read_yaml
from trainer.config import load_run_config

REPO = Path(__file__).resolve().parents[1]
EVAL_FILE = "eval.parquet"  # under the ablation's out: the held-out texts, the val split of every run
# Stages a variant may not leave out: ids are what every later stage keys on, and without
# decontaminate the held-out text could be trained on, which would void the comparison.
REQUIRED = ("read", "unique_ids", "decontaminate")


@dataclass
class AblateConfig:
    corpus_mb: float = 80.0
    books_mb: float = 6.0
    out: str = "out/ablate"
    seed: int = 1234                 # of the raw corpus and the pipeline; training draws from `seeds`
    variants: dict[str, list[str]] = field(default_factory=lambda: {"raw": ["*"], "curated": []})
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    token_budget: int = 1_000_000
    epochs: float = 1.0
    evals: int = 8
    ranks: int = 1
    vocab_size: int = 4096
    pipeline: str = "configs/ablate-pipeline.yaml"
    train: str = "configs/ablate-train.yaml"

    def __post_init__(self) -> None:
        if not 0 < self.epochs <= 2:
            raise ConfigError(f"epochs: each token is seen at most 2 times (0 < epochs <= 2), got {self.epochs}")
        if self.token_budget < 10_000:
            raise ConfigError(f"token_budget: at least 10,000 tokens, got {self.token_budget:,}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: distinct integers, one run per seed and variant, got {self.seeds}")
        if self.evals < 1 or self.ranks < 1:
            raise ConfigError("evals and ranks: at least 1")
        for name, dropped in self.variants.items():
            bad = [s for s in dropped if s in REQUIRED]
            if bad:
                raise ConfigError(f"variants.{name}: {bad} cannot be left out (needed by every variant: {', '.join(REQUIRED)})")


def load_ablate_config(path: str | Path) -> AblateConfig:
    """The ablation config and the pipeline and training configs it names, all validated."""
    cfg = from_dict(AblateConfig, read_yaml(path) or {}, str(path))
    pipeline = load_config(REPO / cfg.pipeline)
    load_run_config(REPO / cfg.train)
    known = {s.name for s in pipeline.stages}
    for name, dropped in cfg.variants.items():
        unknown = [s for s in dropped if s != "*" and s not in known]
        if unknown:
            raise ConfigError(f"{path}: variants.{name}: {unknown} not in {cfg.pipeline} ({', '.join(sorted(known))})")
    return cfg


# ------------------------------------------------------------------------------- the variants
def variant_config(cfg: AblateConfig, name: str, dropped: list[str], raw: Path):
    raw_cfg = read_yaml(REPO / cfg.pipeline)
    stages = [s for s in raw_cfg["stages"]
              if s["name"] == "read" or ("*" not in dropped and s["name"] not in dropped)]
    for s in stages:  # the evaluation texts are what every curated variant must be clean of
        if s["name"] == "decontaminate":
            s["eval_sets"] = [str(Path(cfg.out) / EVAL_FILE)]
    # rejected text is not kept: the ablation reads only what each variant keeps
    return parse_config({"input": [str(raw)], "output": str(Path(cfg.out) / "variants" / name), "seed": cfg.seed,
                         "workers": 2, "rejected_text": "drop", "stages": stages}, f"ablate variant {name}")


def run_variants(cfg: AblateConfig, raw: Path, names: list[str]) -> dict[str, Path]:
    """Each variant's pipeline; returns its last stage's directory. A stage whose whole prefix of
    stages (options included) an earlier variant committed is linked, not redone."""
    from pipeline.executors import RayExecutor
    from pipeline.manifest import config_hash
    from pipeline.runner import run_pipeline, stage_dirname

    executor = RayExecutor(num_cpus=2)
    committed: dict[tuple, Path] = {}
    last = {}
    try:
        for name in names:
            vcfg = variant_config(cfg, name, cfg.variants[name], raw)
            out = Path(vcfg.output)
            out.mkdir(parents=True, exist_ok=True)
            keys, key = [], ()
            for i, e in enumerate(vcfg.stages):
                key += (config_hash(e.name, e.config, vcfg.seed, vcfg.batch_size, vcfg.rejected_text),)
                keys.append(key)
                d = out / stage_dirname(i, e.name)
                if key in committed and not d.exists():
                    d.symlink_to(committed[key].resolve())
            runs = run_pipeline(vcfg, executor=executor)
            for key, r in zip(keys, runs):
                committed.setdefault(key, Path(r.directory))
            last[name] = Path(runs[-1].directory)
            print(f"ablate: {name}: {runs[-1].stats.kept:,} documents after {last[name].name}", flush=True)
        return last
    finally:
        executor.shutdown()


# ---------------------------------------------------------------------- tokens: pools and budgets
@dataclass
class Pool:
    """A variant's kept documents as tokens: `flat` (each document's ids and <|endoftext|>), each
    document's length in tokens and in bytes, and its id (read's, the same in every variant)."""
    flat: np.ndarray
    lengths: np.ndarray
    nbytes: np.ndarray
    ids: list[str]

    @property
    def tokens(self) -> int:
        return int(self.flat.size)


def _kept(stage_dir: Path, manifest: dict) -> tuple[list[str], list[str]]:
    """(ids, texts) of a committed stage's kept parts, as its `_SUCCESS` lists them."""
    ids, texts = [], []
    for f in manifest["files"]["kept"]:
        t = pq.read_table(stage_dir / f["path"], columns=["id", "text"])
        for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist()):
            if x:
                ids.append(i)
                texts.append(x)
    return ids, texts


def tokenize_pool(stage_dir: Path, tokenizer: Path, cache: Path) -> Pool:
    """The variant's kept documents encoded once; cached under the stage's commit and the tokenizer."""
    from pipeline.manifest import read_success
    from pipeline.parts import sha256_file
    from tokenizer.encode import encode_texts, encoder

    done = read_success(stage_dir)
    key = f"{done['input_hash']}:{done['config_hash']}:{sha256_file(tokenizer)}"
    if cache.with_suffix(".key").is_file() and cache.with_suffix(".key").read_text() == key:
        z = np.load(cache)
        return Pool(z["flat"], z["lengths"], z["nbytes"], z["ids"].tolist())
    ids, texts = _kept(stage_dir, done)
    flat, lengths = encode_texts(encoder(tokenizer), texts)
    pool = Pool(flat, lengths, np.fromiter((len(t.encode()) for t in texts), np.int64, len(texts)), ids)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, flat=pool.flat, lengths=pool.lengths, nbytes=pool.nbytes, ids=np.array(ids, dtype=str))
    cache.with_suffix(".key").write_text(key)
    return pool


def draw_order(ids: list[str], seed: int) -> np.ndarray:
    """Documents ordered by a hash of (seed, id): a document has the same key in every variant, so
    variants that keep mostly the same documents draw mostly the same ones (common random numbers:
    what differs between two variants' samples is what their stages did, not the luck of the draw)."""
    keys = np.fromiter((int.from_bytes(hashlib.blake2b(f"{seed}\x00{i}".encode(), digest_size=8).digest(), "little")
                        for i in ids), np.uint64, len(ids))
    return np.argsort(keys, kind="stable")


def draw(pool: Pool, budget: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Exactly `budget` tokens of the pool: whole documents in the seed's order (`draw_order`), the
    last one cut. Returns (tokens, document lengths, text bytes with the cut document's counted whole)."""
    if pool.tokens < budget:
        raise ValueError(f"{pool.tokens:,} tokens, fewer than the budget of {budget:,}")
    order = draw_order(pool.ids, seed)
    starts = np.zeros(len(pool.lengths) + 1, np.int64)
    np.cumsum(pool.lengths, out=starts[1:])
    ends = np.cumsum(pool.lengths[order].astype(np.int64))
    k = int(np.searchsorted(ends, budget))  # documents order[:k] whole, order[k] cut
    chosen = order[:k + 1]
    flat = np.concatenate([pool.flat[starts[d]:starts[d + 1]] for d in chosen])[:budget]
    lengths = pool.lengths[chosen].copy()
    lengths[-1] -= ends[k] - budget
    return flat, lengths, int(pool.nbytes[chosen].sum())


def steps_for(cfg: AblateConfig, block_size: int, windows_per_step: int) -> int:
    """Training steps that read `epochs` x the budget's windows of block_size + 1 tokens."""
    windows = (cfg.token_budget - 1) // block_size
    steps = int(cfg.epochs * windows) // windows_per_step
    if steps < cfg.evals:
        raise ConfigError(f"token_budget {cfg.token_budget:,} gives {steps} steps of {windows_per_step} windows "
                          f"of {block_size} tokens, fewer than evals: {cfg.evals}; raise the budget")
    return steps


# ------------------------------------------------------------------------------------ training
def train_run(cfg: AblateConfig, name: str, seed: int, pool: Pool, val: tuple, tokenizer: Path,
              overrides: list[str]) -> list[dict]:
    """One variant with one seed: its budget of tokens drawn, the model trained; a finished run is
    reused (the trainer itself resumes an unfinished one from its checkpoints)."""
    from pipeline.manifest import canonical, sha256_bytes
    from tokenizer.encode import write_token_files

    root = Path(cfg.out) / "train" / name / f"seed-{seed}"
    lm = root / "lm"
    run_cfg = load_run_config(REPO / cfg.train, dict(parse_override(o) for o in overrides))
    t = run_cfg.train
    steps = steps_for(cfg, run_cfg.model.block_size, t.batch_size * t.grad_accum * cfg.ranks)
    train_tokens, train_lengths, train_bytes = draw(pool, cfg.token_budget, seed)
    data_key = sha256_bytes(canonical([sha256_bytes(train_tokens.tobytes()), sha256_bytes(val[0].tobytes())]))
    settings = {"steps": steps, "seed": seed, "data": data_key, "overrides": overrides, "ranks": cfg.ranks,
                "evals": cfg.evals}
    done = root / "result.json"
    if done.is_file():
        result = json.loads(done.read_text())
        if result["settings"] == settings:
            return result["log"]
    if (root / "settings.json").is_file() and json.loads((root / "settings.json").read_text()) != settings:
        shutil.rmtree(root)  # another budget, seed or model: its checkpoints are not this run's
    lm.mkdir(parents=True, exist_ok=True)
    (root / "settings.json").write_text(json.dumps(settings))
    shutil.copyfile(tokenizer, lm / "tokenizer.json")
    if not (lm / "tokens/_SUCCESS").is_file():
        write_token_files(lm / "tokens", lm / "tokenizer.json",
                          {"train": (train_tokens, train_lengths, train_bytes), "val": val}, data_key)
    every = max(1, steps // cfg.evals)
    raw_cfg = read_yaml(REPO / cfg.train)
    raw_cfg.update(shards=str(root / "no-shards"), out=str(lm))
    (root / "run.yaml").write_text(yaml.safe_dump(raw_cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={cfg.ranks}",
           "-m", "trainer.train", "--config", str(root / "run.yaml"),
           "--set", f"tokenizer.vocab_size={cfg.vocab_size}", "--set", f"train.steps={steps}",
           "--set", f"train.seed={seed}", "--set", f"train.eval_every={every}", "--set", f"train.log_every={every}",
           "--set", f"train.checkpoint_every={every}", "--set", "train.sampling=epoch"]
    for o in overrides:
        cmd += ["--set", o]
    threads = max(1, (os.cpu_count() or 2) // cfg.ranks)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"training variant {name} seed {seed} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    log = [json.loads(l) for l in (lm / "train_log.jsonl").read_text().splitlines()]
    done.write_text(json.dumps({"settings": settings, "log": log}))
    shutil.rmtree(lm / "checkpoints", ignore_errors=True)  # finished: result.json is what is reused
    return log


def train_tokenizer(cfg: AblateConfig) -> Path:
    """BPE on neutral prose: data/reference (KenLM's text), in no variant and not evaluated on."""
    from tokenizer import bpe
    from trainer.ablate_corpus import reference_texts

    out = Path(cfg.out)
    path = out / f"tokenizer-{cfg.vocab_size}.json"
    if path.is_file():
        return path
    ref = out / "tokenizer-text"
    ref.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": reference_texts()}), ref / "train-00000.parquet")
    tok = bpe.train_tokenizer(bpe.shard_paths(ref, "train"), cfg.vocab_size)
    bpe.save(tok, out / "tokenizer.tmp.json")
    os.replace(out / "tokenizer.tmp.json", path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.ablate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/ablate.yaml")
    p.add_argument("--variants", help="comma-separated subset of the config's variants")
    p.add_argument("--seeds", help="comma-separated seeds (default: the config's)")
    p.add_argument("--token-budget", type=int, help="tokens every variant trains on (default: the config's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override of the training config, e.g. model.n_layer=1")
    p.add_argument("--corpus-mb", type=float, help="size of the raw corpus (default: the config's)")
    p.add_argument("--books-mb", type=float, help="of which Gutenberg books (default: the config's)")
    p.add_argument("--out", help="output directory (default: the config's)")
    args = p.parse_args(argv)
    try:
        cfg = load_ablate_config(args.config)
        for key in ("corpus_mb", "books_mb", "out", "token_budget"):
            if getattr(args, key) is not None:
                setattr(cfg, key, getattr(args, key))
        if args.seeds:
            cfg.seeds = [int(s) for s in args.seeds.split(",")]
        cfg.__post_init__()
        names = args.variants.split(",") if args.variants else list(cfg.variants)
        unknown = [n for n in names if n not in cfg.variants]
        if unknown:
            raise ConfigError(f"--variants: unknown {unknown} (known: {', '.join(cfg.variants)})")
        for o in args.set:
            parse_override(o)
    except (ConfigError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from tokenizer.encode import encode_texts, encoder
    from trainer.ablate_corpus import build_raw_corpus, eval_texts
    from trainer.ablate_report import write_results

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = build_raw_corpus(out / "raw-corpus", cfg.corpus_mb, cfg.seed, cfg.books_mb)
    texts, eval_info = eval_texts()
    eval_parquet = out / EVAL_FILE
    table = pa.table({"id": [f"eval-{i}" for i in range(len(texts))], "text": texts})
    if not eval_parquet.is_file() or not pq.read_table(eval_parquet).equals(table):
        pq.write_table(table, eval_parquet)  # rewritten only when it changes: decontaminate keys on it
    tokenizer = train_tokenizer(cfg)
    last = run_variants(cfg, corpus, names)
    pools = {n: tokenize_pool(last[n], tokenizer, out / "pools" / f"{n}.npz") for n in names}
    for n in names:
        print(f"ablate: {n}: {pools[n].tokens:,} tokens in {len(pools[n].lengths):,} documents", flush=True)
    short = {n: p.tokens for n, p in pools.items() if p.tokens < cfg.token_budget}
    if short:
        print("error: " + "; ".join(f"variant {n!r} has {t:,} tokens after its stages, fewer than the token_budget "
                                    f"of {cfg.token_budget:,}" for n, t in short.items())
              + " (raise corpus_mb, lower token_budget, or leave the variant out)", file=sys.stderr)
        return 1
    val_flat, val_lengths = encode_texts(encoder(tokenizer), texts)
    val = (val_flat, val_lengths, sum(len(t.encode()) for t in texts))
    logs: dict[str, dict[int, list[dict]]] = {n: {} for n in names}
    for seed in cfg.seeds:
        for n in names:
            logs[n][seed] = train_run(cfg, n, seed, pools[n], val, tokenizer, args.set)
            final = [r for r in logs[n][seed] if "val_loss" in r][-1]
            print(f"ablate: {n} seed {seed}: final val loss {final['val_loss']:.3f}", flush=True)
    command = "make ablate" if argv is None and len(sys.argv) == 1 else \
        "python -m trainer.ablate " + " ".join(argv if argv is not None else sys.argv[1:])
    path = write_results(cfg, logs, {n: p.tokens for n, p in pools.items()}, command, eval_info)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from trainer.ablate import main

    sys.exit(main())
