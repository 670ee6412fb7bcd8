#!/usr/bin/env python3
"""Build the bundled reference corpus of clean prose for the KenLM model, `data/reference/`.

    python scripts/build_reference.py [--data ../shared/data]

Project Gutenberg books (public domain; licence header and footer removed) and the WikiText-2
validation articles in their raw revision (CC-BY-SA-3.0), cut into 2,000-5,000-character
documents. Neither overlaps the sample corpus (other books; WikiText's test articles are the
sample's). Deterministic: same files every run.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import pyarrow as pa

BOOKS = ["Dickens_Charles_American_Notes", "Twain_Mark_The_Adventures_of_Tom_Sawyer", "Nesbit_E_Edith_The_Wouldbegoods",
         "James_Henry_The_Madonna_of_the_Future", "London_Jack_The_Valley_of_the_Moon", "Chesterton_G_K_Gilbert_Keith_The_Flying_Inn"]


def chunks(paragraphs: list[str], rng: random.Random):
    cur, size, target = [], 0, rng.randint(2000, 5000)
    for p in paragraphs:
        cur.append(p)
        size += len(p)
        if size >= target:
            yield "\n".join(cur)
            cur, size, target = [], 0, rng.randint(2000, 5000)
    if cur:
        yield "\n".join(cur)


def gutenberg(path: Path) -> list[str]:
    body = path.read_text(encoding="utf-8", errors="replace")
    start = re.search(r"\*\*\* ?START OF.*?\*\*\*", body)
    end = re.search(r"\*\*\* ?END OF.*?\*\*\*", body)
    body = body[start.end() if start else 0: end.start() if end else len(body)]
    # undo hard line wraps: one paragraph per line, as web text and the scorer see it
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if len(p.split()) > 3]


def wikitext(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    for a, b in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")):
        text = text.replace(a, b)
    return [" ".join(l.split()) for l in text.splitlines() if len(l.split()) > 3 and not l.strip().startswith("=")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", default=str(repo.parent / "shared/data"))
    ap.add_argument("--out", default=str(repo / "data/reference/reference-en.jsonl.zst"))
    args = ap.parse_args()
    data, rng = Path(args.data), random.Random(7)
    texts = sorted((data / "reference-prose/gutenberg-en/texts").glob("*.txt"))
    docs = []
    for key in BOOKS:
        path = next(p for p in texts if key in p.name)
        docs += [{"id": f"gutenberg/{key}/{i:04d}", "text": t, "source": "gutenberg"}
                 for i, t in enumerate(chunks(gutenberg(path), rng))]
    wiki = wikitext(data / "near-dup/wikitext2-versions/valid.v_cf74c81.txt")
    docs += [{"id": f"wikitext/valid/{i:04d}", "text": t, "source": "wikitext"} for i, t in enumerate(chunks(wiki, rng))]
    with pa.output_stream(args.out, compression="zstd") as f:
        for d in docs:
            f.write((json.dumps(d, ensure_ascii=False) + "\n").encode())
    print(f"{args.out}: {len(docs)} documents, {sum(len(d['text']) for d in docs) / 1e6:.1f} M characters")


if __name__ == "__main__":
    main()
