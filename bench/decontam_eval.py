#!/usr/bin/env python3
"""decontaminate: recall on planted contamination, false positives on clean text, speed against a
10 MB evaluation set.

    python bench/decontam_eval.py [--eval-mb 10] [--planted 1000] [--repeats 3] [--workers 2]

Evaluation set (`--eval-mb`): WikiText-2 test and validation articles, then whole Gutenberg books
(`../shared/data/reference-prose`, in name order) until the size is reached. Training documents:
the peer benchmark's 100 MB corpus (bench_io.py builds it) without its Gutenberg and WikiText
documents and their injected copies, so none comes from the evaluation set's sources; `--planted` of them (seeded) get a
span of 50-500 words of an evaluation text, lightly edited as a copy on the web would be (a word
in 50 dropped, one in 50 upper-cased, one in 100 replaced), inserted at a random place.
Recall: planted documents rejected, by span length; false positives: unplanted documents
rejected (each listed with the overlap, to be read: a real quotation is not a false positive).
Speed: `curate run` of read + decontaminate over all 100 MB (every source) against the same
evaluation set, `--workers` Ray workers, whole-command wall time (Ray start-up and the index
build included) and the stage's own seconds, medians of `--repeats`. No peer tool in the peer
benchmark decontaminates (datatrove's and NeMo Curator's need their benchmark-task loaders), so
there is no ratio. Writes bench/DECONTAMINATION.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dedup import truth  # noqa: E402
from bench.bench_io import SHARED, WORK, build_corpus, run_measured  # noqa: E402

EVAL_HOSTS = ("www.gutenberg.org", "en.wikipedia.org")  # where the peer corpus's Gutenberg and WikiText come from


def lightly_edited(words: list[str], rng: random.Random) -> str:
    """A copy as it turns up in a crawl: a word in 50 dropped, one in 50 upper-cased, one in 100 replaced."""
    out = []
    for w in words:
        r = rng.random()
        if r < 0.02:
            continue
        out.append(w.upper() if r < 0.04 else "the" if r < 0.05 else w)
    return " ".join(out)


def plant(text: str, eval_text: str, n_words: int, rng: random.Random) -> str:
    """`text` with an edited span of `n_words` words of `eval_text` inserted between two words."""
    src = eval_text.split()
    start = rng.randint(0, max(0, len(src) - n_words))
    w = text.split(" ")
    cut = rng.randint(0, len(w))
    return " ".join(w[:cut]) + "\n" + lightly_edited(src[start:start + n_words], rng) + "\n" + " ".join(w[cut:])


def eval_set(dest: Path, mb: float) -> tuple[Path, list[str]]:
    from scripts.build_eval import wikitext_articles

    prose = SHARED / "data/reference-prose"
    texts = [a for f in ("test.txt", "valid.txt") for a in wikitext_articles((prose / "wikitext-2" / f).read_text())]
    for book in sorted((prose / "gutenberg-en/texts").glob("*.txt")):
        if sum(map(len, texts)) >= mb * 1e6:
            break
        texts.append(book.read_text(encoding="utf-8", errors="replace"))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "eval.parquet"
    pq.write_table(pa.table({"id": [f"eval-{i}" for i in range(len(texts))], "text": texts}), path)
    return path, texts


def curate(config: Path, out: Path, inputs: list[Path], workers: int) -> tuple[float, float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    wall, rss, _ = run_measured([str(Path(sys.executable).parent / "curate"), "-q", "run", str(config), "--output",
                                 str(out), "--workers", str(workers), "--input", *map(str, inputs)], env=env)
    return wall, rss, json.loads((out / "01-decontaminate/stats.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-mb", type=float, default=10.0)
    ap.add_argument("--planted", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    if not (SHARED / "data/reference-prose").is_dir():
        print(f"skipped: {SHARED}/data not found")
        return 0
    pq_files, _, docs, text_mb = build_corpus(100)
    work = WORK / "decontam"
    shutil.rmtree(work, ignore_errors=True)
    eval_path, eval_texts = eval_set(work, args.eval_mb)
    eval_mb = sum(len(t.encode()) for t in eval_texts) / 1e6
    config = work / "decontaminate.yaml"
    config.write_text(f"stages:\n  - name: read\n  - name: decontaminate\n    eval_sets: [{eval_path}]\n")

    # quality: planted copies in documents of other sources
    rng = random.Random(args.seed)
    corpus = pa.concat_tables([pq.read_table(f, columns=["id", "text", "url"]) for f in pq_files])
    host = pc.struct_field(pc.extract_regex(corpus.column("url"), r"^https?://(?P<host>[^/]+)"), "host")
    from_eval = pc.fill_null(pc.is_in(host, pa.array(EVAL_HOSTS)), False)
    # the corpus's injected copies of those documents sit under mirror hosts: they are eval text too
    eval_ids = set(corpus.filter(from_eval).column("id").to_pylist())
    copies = {i for pairs in truth(pq_files[0].parent).values() for i, o in pairs if o in eval_ids}
    clean = [d for d in corpus.filter(pc.invert(from_eval)).to_pylist() if d["id"] not in copies]
    planted_ids = set(rng.sample([d["id"] for d in clean], args.planted))
    length_of = {}
    for d in clean:
        if d["id"] in planted_ids:
            n = rng.randint(50, 500)
            d["text"] = plant(d["text"], rng.choice(eval_texts), n, rng)
            length_of[d["id"]] = n
    train = work / "train.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": d["id"], "text": d["text"]} for d in clean]), train)
    _, _, stats = curate(config, work / "quality-out", [train], args.workers)
    rejected = {r["id"]: r for f in (work / "quality-out/01-decontaminate/rejected").glob("*.parquet")
                for r in pq.read_table(f, columns=["id", "text", "contamination_ngrams"]).to_pylist()}
    bins = [(50, 100), (101, 200), (201, 350), (351, 500)]
    recall = {b: (sum(1 for i, n in length_of.items() if b[0] <= n <= b[1] and i in rejected),
                  sum(1 for n in length_of.values() if b[0] <= n <= b[1])) for b in bins}
    false_pos = [r for i, r in rejected.items() if i not in planted_ids]
    print(f"planted {len(planted_ids)}: recall {sum(1 for i in planted_ids if i in rejected)}/{len(planted_ids)}; "
          f"unplanted flagged {len(false_pos)} of {len(clean) - len(planted_ids)}", flush=True)

    # speed: the whole corpus against the same evaluation set
    runs = []
    for rep in range(args.repeats):
        wall, rss, s = curate(config, work / "speed-out", pq_files, args.workers)
        runs.append((wall, rss, s))
        print(f"  run {rep + 1}: {wall:.1f} s whole command, stage {s['seconds']:.1f} s, {s['rejected_total']:,} rejected, "
              f"{rss:.0f} MiB", flush=True)
    wall = statistics.median(r[0] for r in runs)
    stage_s = statistics.median(r[2]["seconds"] for r in runs)
    s = runs[0][2]
    shutil.rmtree(WORK, ignore_errors=True)

    lines = [
        "# Decontamination: planted copies, clean text, speed", "",
        f"`python bench/decontam_eval.py --eval-mb {args.eval_mb:g} --planted {args.planted} --repeats {args.repeats} "
        f"--workers {args.workers}` on {datetime.date.today()}, {os.cpu_count()} cores. Evaluation set: "
        f"{len(eval_texts):,} texts, {eval_mb:.1f} MB (WikiText-2 test and validation articles, then Gutenberg "
        f"books); {stats['extra']['eval_ngrams']:,} 13-grams indexed, {stats['extra']['eval_ngrams_too_common']:,} "
        "too common to count.", "",
        f"## Planted contamination ({len(clean):,} documents of the peer corpus from other sources than the "
        "evaluation set: web pages, man pages, fortunes, NLTK, UDHR; its Gutenberg and WikiText documents and "
        "their injected copies left out)", "",
        "| span of evaluation text (words) | planted | rejected | recall |", "|---|---:|---:|---:|",
        *[f"| {lo}-{hi} | {n:,} | {k:,} | {k / max(n, 1):.3f} |" for (lo, hi), (k, n) in recall.items()],
        f"| all | {len(planted_ids):,} | {sum(k for k, _ in recall.values()):,} | "
        f"{sum(k for k, _ in recall.values()) / len(planted_ids):.3f} |", "",
        f"Unplanted documents rejected: {len(false_pos)} of {len(clean) - len(planted_ids):,} "
        f"({len(false_pos) / max(1, len(clean) - len(planted_ids)):.4%}); each is listed, to be read (a real "
        "quotation of an evaluation text is contamination, not a false positive):", "",
        *[f"- `{r['id']}` ({r['contamination_ngrams']} 13-grams): {r['text'][:160]!r}" for r in false_pos[:20]], "",
        f"## Speed: read + decontaminate over the 100 MB corpus ({docs:,} documents, {text_mb:.1f} MB), "
        f"{args.workers} workers, medians of {len(runs)}", "",
        "| whole command (s) | stage seconds | docs/s/core (stage) | MB/s/core (stage) | docs/s/core (whole command) | "
        "rejected (the corpus holds Gutenberg and WikiText) | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {wall:.1f} | {stage_s:.1f} | {s['in'] / stage_s / args.workers:,.0f} | "
        f"{s['bytes_in'] / 1e6 / stage_s / args.workers:.2f} | {s['in'] / wall / args.workers:,.0f} | "
        f"{s['rejected_total']:,} | {statistics.median(r[1] for r in runs):,.0f} |", "",
        "Stage seconds include building the index once (`phase_seconds`: "
        f"{s['extra'].get('phase_seconds', {})}); the whole command includes Ray start-up and `read`.",
    ]
    path = REPO / "bench/DECONTAMINATION.md"
    path.write_text("\n".join(lines) + "\n")
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
