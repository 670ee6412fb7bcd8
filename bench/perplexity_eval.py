#!/usr/bin/env python3
"""What the perplexity stage's reference LM can tell apart, on text it was not trained on.

    python bench/perplexity_eval.py [--models models/lm]

1. Contrast (AUC of `perplexity`): clean book passages against the same passages as word salad
   (each paragraph's words shuffled) and as keyword stuffing (lines of words drawn from eight of
   the passage's words). Passages: the Gutenberg books scripts/build_reference.py keeps out of
   the reference (every 8th book, from ../shared/data; skipped where absent) and the sample's two
   books, one paragraph per line as `normalize` re-flows them, 2,000-5,000 characters.
2. Kinds of text (none in the reference): median perplexity and share in each bucket.
Needs `make lm`. Writes bench/PERPLEXITY.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.build_reference import books, chunks, gutenberg  # noqa: E402
from stages.perplexity import Perplexity, PerplexityConfig  # noqa: E402

SHARED = REPO.parent / "shared/data"
PASSAGES_PER_BOOK = 12


def auc(negative: np.ndarray, positive: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counting half."""
    from sklearn.metrics import roc_auc_score

    labels = np.concatenate([np.zeros(len(negative)), np.ones(len(positive))])
    return float(roc_auc_score(labels, np.concatenate([negative, positive])))


def passages(rng: random.Random) -> list[str]:
    out = []
    eval_books = books(SHARED)[1] if (SHARED / "reference-prose/gutenberg-en").is_dir() else []
    for path in eval_books:
        out += list(chunks(gutenberg(path), rng))[5:5 + PASSAGES_PER_BOOK]  # past the front matter
    for text in pq.read_table(REPO / "data/sample/corpus/books/gutenberg.parquet", columns=["text"]).column("text").to_pylist():
        if "Gutenberg" not in text:  # not the licence chunks
            out.append("\n".join(" ".join(p.split()) for p in text.split("\n\n")))
    return out


def salad(text: str, rng: random.Random) -> str:
    lines = []
    for line in text.split("\n"):
        words = line.split()
        rng.shuffle(words)
        lines.append(" ".join(words))
    return "\n".join(lines)


def stuffing(text: str, rng: random.Random) -> str:
    words = sorted({w.strip(".,;:!?\"'()").lower() for w in text.split() if len(w) > 4})
    keys = rng.sample(words, min(8, len(words)))
    n = len(text.split())
    lines, count = [], 0
    while count < n:
        k = rng.randint(8, 20)
        lines.append(" ".join(rng.choice(keys) for _ in range(k)))
        count += k
    return "\n".join(lines)


def kinds() -> dict[str, list[str]]:
    sample = REPO / "data/sample/corpus"

    def jsonl(path: Path) -> list[dict]:
        raw = pa.input_stream(str(path), compression="gzip" if path.suffix == ".gz" else None).read().decode()
        return [json.loads(line) for line in raw.splitlines()]

    def html(folder: Path) -> list[str]:
        from pipeline.html import extract_main_text

        return [extract_main_text(p.read_text(encoding="utf-8", errors="replace"), "trafilatura")
                for p in sorted(folder.glob("*.html"))]

    sets = {
        # WikiText's ` @-@ ` style tokens undone, as for the reference's WikiText articles
        "Wikipedia (sample WikiText-2 test articles)": [
            r["text"].replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
            for r in jsonl(sample / "wiki/wikitext.jsonl") if r["id"].startswith("wiki/")],
        "Python documentation (the sample's pages)": html(sample / "pydoc"),
        "Debian handbook, English (the sample's pages)": html(sample / "handbook-html/en-US"),
        "Common Crawl web pages (sample, CCNet/dolma)": [r["text"] for r in jsonl(sample / "web/cc-web.jsonl.gz")
                                                          if r["id"].startswith("http")],
        "fortunes (short quotes, English)": [r["text"] for r in jsonl(sample / "fortunes/quotes.jsonl")
                                             if r.get("lang_hint") == "en"],
    }
    for name, texts in webtext_chunks().items():
        sets[f"NLTK webtext {name} (forum, chat, ads)"] = texts
    return sets


def webtext_chunks() -> dict[str, list[str]]:
    """NLTK's webtext files (forum, ads, overheard dialogue, scripts, reviews) in 40-line chunks,
    at most 200 a file; empty where ../shared is absent."""
    webtext = SHARED / "reference-prose/nltk/webtext.zip"
    if not webtext.is_file():
        return {}
    with zipfile.ZipFile(webtext) as z:
        return {Path(name).stem: ["\n".join(lines[i:i + 40]) for i in range(0, len(lines), 40)][:200]
                for name in sorted(n for n in z.namelist() if n.endswith(".txt"))
                for lines in [z.read(name).decode("latin-1").splitlines()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=str(REPO / "models/lm"))
    ap.add_argument("--out", default=str(REPO / "bench/PERPLEXITY.md"))
    args = ap.parse_args()
    stage = Perplexity(PerplexityConfig(models_dir=args.models))
    stage.setup()

    def score(texts: list[str]) -> tuple[np.ndarray, list[str]]:
        d = stage.process(pa.table({"text": pa.array(texts, pa.string())}))
        return d.table.column("perplexity").to_numpy(zero_copy_only=False), d.table.column("ppl_bucket").to_pylist()

    rng = random.Random(11)
    t0 = time.time()
    clean = passages(rng)
    ppl_clean, _ = score(clean)
    rows = []
    for name, corrupt in (("word salad", salad), ("keyword stuffing", stuffing)):
        ppl_bad, _ = score([corrupt(t, rng) for t in clean])
        rows.append(f"| clean vs {name} | {len(clean):,} + {len(clean):,} | **{auc(ppl_clean, ppl_bad):.4f}** | "
                    f"{np.median(ppl_clean):,.0f} vs {np.median(ppl_bad):,.0f} |")
    kind_rows = []
    for name, texts in {"Gutenberg passages above (not in the reference)": clean, **kinds()}.items():
        ppl, buckets = score(texts)
        share = {b: 100 * np.mean([x == b for x in buckets]) for b in ("head", "middle", "tail")}
        kind_rows.append(f"| {name} | {len(texts):,} | {np.nanmedian(ppl):,.0f} | {share['head']:.0f} % | "
                         f"{share['middle']:.0f} % | {share['tail']:.0f} % |")
    meta = json.loads((Path(args.models) / "en.json").read_text())
    text = "\n".join([
        "# bench/perplexity_eval.py results", "",
        f"{datetime.date.today()} · model {meta['source']} ({meta['train_documents']:,} training documents), "
        f"scoring: {meta['scoring']}; bucket cut-offs: head up to {meta['cutoffs']['head']:.0f} "
        f"(p{meta['cutoffs']['head_percentile']} of held-out reference documents), tail above "
        f"{meta['cutoffs']['tail']:.0f} (p{meta['cutoffs']['tail_percentile']} of the least fluent held-out kind, "
        f"{meta['cutoffs']['tail_from']}) or over {100 * meta['cutoffs']['oov_tail']:.1f} % unknown words "
        f"(p{meta['cutoffs']['oov_percentile']} of {meta['cutoffs']['oov_tail_from']}); held out: {meta['held_out']}. "
        f"Rerun: `python bench/perplexity_eval.py` ({time.time() - t0:.0f} s).", "",
        "| contrast | passages | AUC | median perplexity |", "|---|---:|---:|---:|", *rows, "",
        "| text | documents | median perplexity | head | middle | tail |", "|---|---:|---:|---:|---:|---:|", *kind_rows, ""])
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
