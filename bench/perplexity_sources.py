#!/usr/bin/env python3
"""Median KenLM perplexity by kind of text: clean prose should score lower than web boilerplate
and forum text. Needs `make lm`; reads NLTK's webtext from ../shared/data where present.

    python bench/perplexity_sources.py
"""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.perplexity import Perplexity, PerplexityConfig  # noqa: E402


def jsonl(path: Path) -> list[dict]:
    raw = pa.input_stream(str(path), compression="gzip" if path.suffix == ".gz" else None).read().decode()
    return [json.loads(l) for l in raw.splitlines()]


def main() -> None:
    sample = REPO / "data/sample/corpus"
    books = pq.read_table(sample / "books/gutenberg.parquet").column("text").to_pylist()
    sets = {
        "Gutenberg prose (sample books, not in the LM's training data)": [
            "\n".join(" ".join(p.split()) for p in t.split("\n\n")) for t in books if "Gutenberg" not in t],
        "Wikipedia (sample WikiText test articles)": [r["text"] for r in jsonl(sample / "wiki/wikitext.jsonl") if r["id"].startswith("wiki/")],
        "Common Crawl web pages (sample, CCNet/dolma)": [r["text"] for r in jsonl(sample / "web/cc-web.jsonl.gz") if r["id"].startswith("http")],
        "Debian handbook pages, English, navigation included": [r["text"] for r in jsonl(sample / "handbook/handbook.jsonl.gz") if "/en-US/" in r["id"]],
        "fortunes (short quotes, English)": [r["text"] for r in jsonl(sample / "fortunes/quotes.jsonl") if r.get("lang_hint") == "en"],
    }
    webtext = REPO.parent / "shared/data/reference-prose/nltk/webtext.zip"
    if webtext.is_file():
        with zipfile.ZipFile(webtext) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".txt"):
                    lines = z.read(name).decode("latin-1").splitlines()
                    chunks = ["\n".join(lines[i:i + 40]) for i in range(0, len(lines), 40)]
                    sets[f"NLTK webtext {Path(name).stem} (forum, chat, ads)"] = chunks[:200]
    stage = Perplexity(PerplexityConfig())
    stage.setup()
    print("| text | documents | median perplexity | share in tail bucket |\n|---|---:|---:|---:|")
    for name, texts in sets.items():
        d = stage.process(pa.table({"text": pa.array(texts, pa.string())}))
        ppl = d.table.column("perplexity").to_numpy(zero_copy_only=False)
        tail = np.mean([b == "tail" for b in d.table.column("ppl_bucket").to_pylist()])
        print(f"| {name} | {len(texts):,} | {np.nanmedian(ppl):,.0f} | {100 * tail:.0f} % |")


if __name__ == "__main__":
    main()
