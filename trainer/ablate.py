"""`make ablate`: does curation train a better model, and which stage buys how much?

One raw corpus; variants of training data from it: `raw` (read only), `curated` (every stage of
configs/ablate-pipeline.yaml) and one variant per left-out stage; each mixed to the same token
budget (the smallest variant's), so only the data differs. One tokenizer trained on neutral
prose (data/reference, in no variant and not in the evaluation text); the same tiny GPT (same
config, seed and steps, configs/ablate-train.yaml) trained on each variant with 2 CPU ranks;
every model evaluated on the same held-out clean English: wikitext-2 test articles and Project
Gutenberg books that are neither in the corpus nor in the tokenizer's text.

Writes out/ablate/RESULTS.md and out/ablate/ablation.svg (validation perplexity per variant,
and the loss curves). Same seed, same numbers.

    python -m trainer.ablate [--config configs/ablate.yaml] [--variants raw,curated] [--set train.steps=20]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipeline.config import ConfigError, from_dict, load_config, parse_config, parse_override, read_yaml
from trainer.config import load_run_config

REPO = Path(__file__).resolve().parents[1]
EVAL_FILE = "eval.parquet"  # under the ablation's out: the held-out texts, val split of every variant
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared/data"))
# Gutenberg books kept out of everything but the evaluation (not in data/reference, not in the sample)
EVAL_BOOKS = ["Poe_Edgar_Allan_Selections_from_Poe", "Wharton_Edith_French_Ways_and_Their_Meaning",
              "Hawthorne_Nathaniel_A_Wonder_Book_and_Tanglewood_Tales_for_Girls_and_Boys"]


@dataclass
class AblateConfig:
    corpus_mb: float = 50.0
    out: str = "out/ablate"
    variants: dict[str, list[str]] = field(default_factory=lambda: {"raw": ["*"], "curated": []})
    seed: int = 1234
    vocab_size: int = 8192
    pipeline: str = "configs/ablate-pipeline.yaml"
    train: str = "configs/ablate-train.yaml"


def load_ablate_config(path: str | Path) -> AblateConfig:
    """The ablation config and the pipeline and training configs it names, all validated."""
    cfg = from_dict(AblateConfig, read_yaml(path) or {}, str(path))
    load_config(REPO / cfg.pipeline)
    load_run_config(REPO / cfg.train)
    return cfg


# ----------------------------------------------------------------------------- the raw corpus
def build_raw_corpus(dest: Path, mb: float, seed: int) -> Path:
    """Web-like raw input from ../shared/data: Common Crawl WARC/WET samples, real web pages and
    documentation as raw HTML (our extractor reads them), man pages, fortunes and forum text,
    10 % of the HTML pages mirrored as exact copies (re-crawls). Falls back to the bundled sample."""
    if (dest / ".complete").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    if not SHARED.is_dir():  # the sample without its books: they are the evaluation text then
        shutil.copytree(REPO / "data/sample/corpus", dest, ignore=shutil.ignore_patterns("books"))
        (dest / ".complete").write_text("bundled sample\n")
        return dest
    rng = random.Random(seed)
    budget = int(mb * 1e6)
    used = 0
    for f in sorted((SHARED / "cc-warc-samples").rglob("*")):
        if f.is_file() and (".warc" in f.name):
            target = dest / "crawl" / f.relative_to(SHARED / "cc-warc-samples")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            used += f.stat().st_size
    sys.path.insert(0, str(REPO))
    from scripts.build_sample import fortunes, manpages

    manpages(SHARED, dest)
    fortunes(SHARED, dest)
    used += sum(p.stat().st_size for p in (dest / "manpages").rglob("*") if p.is_file())
    used += sum(p.stat().st_size for p in (dest / "fortunes").rglob("*") if p.is_file())
    forum = []
    with zipfile.ZipFile(SHARED / "reference-prose/nltk/webtext.zip") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".txt")):
            lines = z.read(name).decode("utf-8", "replace").splitlines()
            for i in range(0, len(lines), 40):
                text = "\n".join(lines[i:i + 40]).strip()
                if text:
                    forum.append({"id": f"{name}#{i}", "text": text, "url": f"https://forum.example/{name}/{i}"})
    (dest / "forum").mkdir(parents=True)
    (dest / "forum/webtext.jsonl").write_text("".join(json.dumps(r) + "\n" for r in forum))
    used += (dest / "forum/webtext.jsonl").stat().st_size
    # raw HTML until the budget: real pages first, then the two documentation sites interleaved
    pages = []
    for source, tarball in [("web", "web-html/trafilatura-eval/trafilatura-tests-eval-cache.tar.xz"),
                            ("handbook", "web-html/debian-handbook/debian-handbook-html-24lang.tar.xz"),
                            ("pydoc", "web-html/python3.11-doc/python3.11-doc-html.tar.xz")]:
        if used >= budget:
            break
        with tarfile.open(SHARED / tarball) as tar:  # sequentially: seeking back in .xz decompresses again
            pages += [(source, m.name, tar.extractfile(m).read()) for m in tar
                      if m.isfile() and m.name.endswith(".html")
                      and (source != "handbook" or "/en-US/" in m.name)]  # its 23 translations: langid's work
    pages.sort(key=lambda p: (p[0], p[1]))
    rng.shuffle(pages)
    pages.sort(key=lambda p: p[0] != "web")  # stable: web pages first, the rest shuffled
    for k, (source, name, raw) in enumerate(pages):
        if used >= budget:
            break
        target = dest / "html" / source / f"{k:05d}-{Path(name).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        used += len(raw)
        if rng.random() < 0.1:
            (dest / "html/mirror").mkdir(parents=True, exist_ok=True)
            (dest / "html/mirror" / target.name).write_bytes(raw)
            used += len(raw)
    (dest / ".complete").write_text(f"{used} bytes\n")
    return dest


def eval_texts() -> list[str]:
    """Held-out clean English: wikitext-2 test articles and three Gutenberg books."""
    from scripts.build_eval import wikitext_articles

    texts = []
    wiki = SHARED / "reference-prose/wikitext-2/test.txt"
    if wiki.is_file():
        body = wiki.read_text(encoding="utf-8")
        texts += wikitext_articles(body)
        for f in sorted((SHARED / "reference-prose/gutenberg-en/texts").glob("*.txt")):
            if any(b in f.name for b in EVAL_BOOKS):
                text = f.read_text(encoding="utf-8", errors="replace")
                texts += [c for c in re.split(r"\n\s*\n", text) if len(c) > 200]
    else:  # no ../shared: the bundled sample's books (then the corpus must not hold them)
        texts = pq.read_table(REPO / "data/sample/corpus/books/gutenberg.parquet").column("text").to_pylist()
    return texts


# ------------------------------------------------------------------------------- the variants
def variant_config(cfg: AblateConfig, name: str, dropped: list[str], raw: Path, budget: int | None):
    raw_cfg = read_yaml(REPO / cfg.pipeline)
    stages = [s for s in raw_cfg["stages"]
              if s["name"] == "read" or ("*" not in dropped and s["name"] not in dropped)]
    for s in stages:  # the evaluation texts are what every curated variant must be clean of
        if s["name"] == "decontaminate":
            s["eval_sets"] = [str(Path(cfg.out) / EVAL_FILE)]
    if budget is not None:
        stages.append({"name": "mix", "token_budget": budget, "val_fraction": 0.0, "max_repeats": 8})
    return parse_config({"input": [str(raw)], "output": str(Path(cfg.out) / "variants" / name), "seed": cfg.seed,
                         "workers": 2, "stages": stages}, f"ablate variant {name}")


def available_tokens(stage_dir: Path) -> int:
    from stages.mix import BYTES_PER_TOKEN  # the budget is in the mix stage's units

    stats = json.loads((stage_dir / "stats.json").read_text())
    return int(stats["bytes_kept"] / BYTES_PER_TOKEN)


def run_variants(cfg: AblateConfig, raw: Path, names: list[str]) -> dict[str, Path]:
    from pipeline.executors import RayExecutor
    from pipeline.runner import run_pipeline

    executor = RayExecutor(num_cpus=2)
    try:
        tokens, last = {}, {}
        shared_read = None
        for name in names:
            vcfg = variant_config(cfg, name, cfg.variants[name], raw, None)
            out = Path(vcfg.output)
            if shared_read is not None and not (out / "00-read").exists():
                out.mkdir(parents=True, exist_ok=True)
                (out / "00-read").symlink_to(shared_read.resolve())  # committed once, read by all
            runs = run_pipeline(vcfg, executor=executor)
            shared_read = shared_read or out / "00-read"
            last[name] = runs[-1].directory
            tokens[name] = available_tokens(last[name])
            print(f"ablate: {name}: {tokens[name]:,} tokens available after {last[name].name}", flush=True)
        budget = min(tokens.values())
        shards = {}
        for name in names:
            runs = run_pipeline(variant_config(cfg, name, cfg.variants[name], raw, budget), executor=executor)
            shards[name] = runs[-1].directory / "shards"
        return shards, budget, tokens
    finally:
        executor.shutdown()


# ------------------------------------------------------------------------------------ training
def train_variant(cfg: AblateConfig, name: str, shards: Path, tokenizer: Path, eval_parquet: Path,
                  overrides: list[str]) -> list[dict]:
    from tokenizer.encode import tokenize_shards

    root = Path(cfg.out) / "train" / name
    data = root / "shards"
    shutil.rmtree(root, ignore_errors=True)
    data.mkdir(parents=True)
    for f in sorted(shards.glob("train-*.parquet")):
        (data / f.name).symlink_to(f.resolve())
    (data / "val-00000.parquet").symlink_to(eval_parquet.resolve())  # the held-out text is the val split
    (root / "lm").mkdir()
    shutil.copyfile(tokenizer, root / "lm/tokenizer.json")
    tokenize_shards(data, root / "lm/tokenizer.json", root / "lm/tokens", inline=True)
    run_cfg = read_yaml(REPO / cfg.train)
    run_cfg.update(shards=str(data), out=str(root / "lm"))
    (root / "run.yaml").write_text(yaml.safe_dump(run_cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "trainer.train",
           "--config", str(root / "run.yaml")]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"training variant {name} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return [json.loads(l) for l in (root / "lm/train_log.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------------- results
def plot(logs: dict[str, list[dict]], path: Path) -> None:
    """Two panels, self-contained SVG: final validation perplexity per variant, and the curves."""
    names = list(logs)
    final = {n: [r for r in logs[n] if "val_ppl" in r][-1]["val_ppl"] for n in names}
    w, h, pad = 900, 360, 50
    top = max(final.values()) * 1.1
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
    bw = (w / 2 - 2 * pad) / len(names)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<text x="{pad}" y="20" font-size="13">validation perplexity (held-out prose), lower is better</text>']
    for i, n in enumerate(names):
        bh = (h - 2 * pad) * final[n] / top
        x = pad + i * bw
        parts.append(f'<rect x="{x + 4:.1f}" y="{h - pad - bh:.1f}" width="{bw - 8:.1f}" height="{bh:.1f}" '
                     f'fill="{colours[i % len(colours)]}"/>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - pad - bh - 4:.1f}" text-anchor="middle">{final[n]:.0f}</text>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - pad + 14:.1f}" text-anchor="middle" '
                     f'transform="rotate(20 {x + bw / 2:.1f} {h - pad + 14:.1f})">{n}</text>')
    x0 = w / 2 + pad
    steps = max(r["step"] for n in names for r in logs[n])
    losses = [r["val_loss"] for n in names for r in logs[n] if "val_loss" in r]
    lo, hi = min(losses), max(losses)
    parts.append(f'<text x="{x0}" y="20" font-size="13">validation loss by step</text>')
    for i, n in enumerate(names):
        pts = [(x0 + (w / 2 - 2 * pad) * r["step"] / steps, h - pad - (h - 2 * pad) * (r["val_loss"] - lo) / max(hi - lo, 1e-9))
               for r in logs[n] if "val_loss" in r]
        parts.append(f'<polyline fill="none" stroke="{colours[i % len(colours)]}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        parts.append(f'<text x="{w - pad - 80}" y="{40 + 14 * i}" fill="{colours[i % len(colours)]}">{n}</text>')
    parts.append(f'<text x="{x0}" y="{h - pad + 14}">0</text><text x="{w - pad}" y="{h - pad + 14}" '
                 f'text-anchor="end">{steps}</text><text x="{x0 - 4}" y="{pad}" text-anchor="end">{hi:.2f}</text>'
                 f'<text x="{x0 - 4}" y="{h - pad}" text-anchor="end">{lo:.2f}</text></svg>')
    path.write_text("\n".join(parts))


def write_results(cfg: AblateConfig, logs: dict, budget: int, tokens: dict, command: str, eval_info: str) -> Path:
    out = Path(cfg.out)
    plot(logs, out / "ablation.svg")
    rows = []
    for name, log in logs.items():
        evals = [r for r in log if "val_loss" in r]
        rows.append((name, tokens[name], evals[0]["val_loss"], evals[-1]["val_loss"], evals[-1]["val_ppl"]))
    base = {r[0]: r for r in rows}.get("curated")
    lines = ["# Ablation: the same model on raw and curated data", "",
             f"`{command}`. Every variant mixed to {budget:,} training tokens (estimated bytes / 4: the "
             "smallest variant's supply), one shared tokenizer, the same GPT, seed and steps "
             f"(`{cfg.train}`). Evaluation: {eval_info}.", "",
             "| variant | stages left out | tokens available | val loss at step 0 | final val loss | final val perplexity | vs curated |",
             "|---|---|---|---|---|---|---|"]
    for name, avail, first, last, ppl in rows:
        dropped = ", ".join(cfg.variants[name]) or "none"
        vs = f"{100 * (ppl / base[4] - 1):+.1f} %" if base else "–"
        lines.append(f"| {name} | {dropped.replace('*', 'all but read')} | {avail:,} | {first:.3f} | {last:.3f} | {ppl:.1f} | {vs} |")
    lines += ["", "![validation perplexity and loss curves](ablation.svg)", ""]
    (out / "RESULTS.md").write_text("\n".join(lines))
    return out / "RESULTS.md"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.ablate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/ablate.yaml")
    p.add_argument("--variants", help="comma-separated subset of the config's variants")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override of the training config, e.g. train.steps=20")
    p.add_argument("--corpus-mb", type=float, help="size of the raw corpus (default: the config's)")
    p.add_argument("--out", help="output directory (default: the config's)")
    args = p.parse_args(argv)
    try:
        cfg = load_ablate_config(args.config)
        if args.corpus_mb:
            cfg.corpus_mb = args.corpus_mb
        if args.out:
            cfg.out = args.out
        names = args.variants.split(",") if args.variants else list(cfg.variants)
        unknown = [n for n in names if n not in cfg.variants]
        if unknown:
            raise ConfigError(f"--variants: unknown {unknown} (known: {', '.join(cfg.variants)})")
        for o in args.set:
            parse_override(o)
    except (ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from tokenizer import bpe

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = build_raw_corpus(out / "raw-corpus", cfg.corpus_mb, cfg.seed)
    texts = eval_texts()
    eval_parquet = out / EVAL_FILE
    pq.write_table(pa.table({"id": [f"eval-{i}" for i in range(len(texts))], "text": texts}), eval_parquet)
    shards, budget, tokens = run_variants(cfg, corpus, names)
    # neutral prose for the tokenizer: data/reference (KenLM's text), in no variant and not evaluated on
    ref = out / "tokenizer-text"
    ref.mkdir(exist_ok=True)
    from pipeline.readers import ReadOptions, expand_inputs, read_file

    ref_texts = [t for r in expand_inputs([(str(REPO / "data/reference"), None)])
                 for table in read_file(r, ReadOptions()) for t in table.column("text").to_pylist() if t]
    pq.write_table(pa.table({"text": ref_texts}), ref / "train-00000.parquet")
    tok = bpe.train_tokenizer(bpe.shard_paths(ref, "train"), cfg.vocab_size)
    bpe.save(tok, out / "tokenizer.json")
    overrides = [f"tokenizer.vocab_size={cfg.vocab_size}", *args.set]
    logs = {}
    for name in names:
        logs[name] = train_variant(cfg, name, shards[name], out / "tokenizer.json", eval_parquet, overrides)
        final = [r for r in logs[name] if "val_loss" in r][-1]
        print(f"ablate: {name}: val loss {final['val_loss']:.3f}, perplexity {final['val_ppl']:.1f}", flush=True)
    command = "make ablate" if not (args.variants or args.set or args.corpus_mb) else \
        "python -m trainer.ablate " + " ".join(argv or sys.argv[1:])
    info = (f"{len(texts):,} held-out documents (wikitext-2 test articles and Gutenberg books "
            f"{'; '.join(b.replace('_', ' ') for b in EVAL_BOOKS)})" if SHARED.is_dir()
            else f"{len(texts)} documents of the bundled sample's books")
    path = write_results(cfg, logs, budget, tokens, command, info)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from trainer.ablate import main

    sys.exit(main())
