#!/usr/bin/env python3
"""Build the bundled reference corpus of clean English for the KenLM model, `data/reference/`.

    python scripts/build_reference.py [--data ../shared/data]

Four kinds of clean text, so that the model knows more than fiction (data/reference/SOURCES.md):
- Project Gutenberg books (public domain; licence header and footer removed): the first
  BOOK_CHARS characters of every book of rcdm-uga/Gutenberg_Text but the sample's two and every
  eighth (EVAL_EVERY), which bench/perplexity_eval.py keeps for evaluation;
- the WikiText-2 validation articles in their raw revision (CC-BY-SA-3.0);
- documentation: the Debian Administrator's Handbook in English (GPL-2+ / CC-BY-SA-3.0) and the
  Python 3.11 documentation (PSF licence), main text by resiliparse, the pages the sample holds left out;
- speeches: the US presidential inaugural addresses and State of the Union addresses of NLTK's
  corpora (public domain, US government works).
Everything is cut into 2,000-5,000-character documents, one paragraph per line. Nothing overlaps
the sample corpus or the evaluation sets. Deterministic: same files every run.
"""
from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE_BOOKS = ("Chesterton_G_K_Gilbert_Keith_The_Innocence_of_Father_Brown", "London_Jack_Revolution_and_Other_Essays")
EVAL_EVERY = 8          # every 8th book (by file name) is kept out for evaluation
BOOK_CHARS = 60_000     # from each other book: many authors rather than a few long novels
DOC_PAGES = {"tutorial": 17, "howto": 20, "faq": 9, "reference": 11, "library": 120, "using": 7}


def books(data: Path) -> tuple[list[Path], list[Path]]:
    """(reference books, evaluation books) of the Gutenberg collection, by file name."""
    texts = sorted((data / "reference-prose/gutenberg-en/texts").glob("*.txt"), key=lambda p: p.name.split("__", 1)[1])
    texts = [p for p in texts if not any(b in p.name for b in SAMPLE_BOOKS)]
    return ([p for i, p in enumerate(texts) if i % EVAL_EVERY],
            [p for i, p in enumerate(texts) if i % EVAL_EVERY == 0])


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


def gutenberg_body(path: Path) -> str:
    """A Project Gutenberg file without the header and footer around the book."""
    body = path.read_text(encoding="utf-8", errors="replace")
    start = re.search(r"\*\*\* ?START OF.*?\*\*\*", body)
    end = re.search(r"\*\*\* ?END OF.*?\*\*\*", body)
    return body[start.end() if start else 0: end.start() if end else len(body)]


def gutenberg(path: Path) -> list[str]:
    # undo hard line wraps: one paragraph per line, as web text and the scorer see it
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", gutenberg_body(path)) if len(p.split()) > 3]


def wikitext(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    for a, b in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")):
        text = text.replace(a, b)
    return [" ".join(l.split()) for l in text.splitlines() if len(l.split()) > 3 and not l.strip().startswith("=")]


def html_pages(archive: Path, keep) -> list[tuple[str, str]]:
    """(name, main text) of the .html members `keep(name)` accepts, in name order."""
    from pipeline.html import extract_main_text

    out = []
    with tarfile.open(archive) as t:
        for m in sorted((m for m in t.getmembers() if m.name.endswith(".html") and keep(m.name)), key=lambda m: m.name):
            html = t.extractfile(m).read().decode("utf-8", "replace")
            text = extract_main_text(html, "resiliparse")
            paragraphs = [" ".join(p.split()) for p in text.split("\n") if len(p.split()) > 3]
            if paragraphs:
                out.append((m.name, "\n".join(paragraphs)))
    return out


def handbook(data: Path, sample: Path) -> list[tuple[str, str]]:
    """English pages but those the sample holds, as HTML (handbook-html/) or as text (handbook/)."""
    held = {p.name for p in (sample / "handbook-html/en-US").glob("*.html")}
    raw = pa.input_stream(str(sample / "handbook/handbook.jsonl.gz"), compression="gzip").read().decode()
    held |= {json.loads(line)["url"].split("?")[0].rsplit("/", 1)[1] for line in raw.splitlines()}
    return html_pages(data / "web-html/debian-handbook/debian-handbook-html-24lang.tar.xz",
                      lambda n: "/en-US/" in n and n.rsplit("/", 1)[1] not in held)


def python_docs(data: Path, sample: Path) -> list[tuple[str, str]]:
    held = {p.name for p in (sample / "pydoc").glob("*.html")}
    taken: dict[str, int] = {}

    def keep(name: str) -> bool:
        parts = name.split("/")
        section = parts[-2] if len(parts) > 1 else ""
        if section not in DOC_PAGES or parts[-1] in held or taken.get(section, 0) >= DOC_PAGES[section]:
            return False
        taken[section] = taken.get(section, 0) + 1
        return True

    return html_pages(data / "web-html/python3.11-doc/python3.11-doc-html.tar.xz", keep)


def speeches(data: Path) -> list[tuple[str, str]]:
    out = []
    for corpus in ("inaugural", "state_union"):
        with zipfile.ZipFile(data / f"reference-prose/nltk/{corpus}.zip") as z:
            for name in sorted(n for n in z.namelist() if n.endswith(".txt")):
                raw = z.read(name).decode("utf-8", "replace") if corpus == "inaugural" else \
                    io.TextIOWrapper(io.BytesIO(z.read(name)), encoding="latin-1").read()
                paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw) if len(p.split()) > 3]
                out.append((name, "\n".join(paragraphs)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", default=str(repo.parent / "shared/data"))
    ap.add_argument("--out", default=str(repo / "data/reference/reference-en.jsonl.zst"))
    args = ap.parse_args()
    data, rng = Path(args.data), random.Random(7)
    sample = repo / "data/sample/corpus"
    docs = []
    for path in books(data)[0]:
        key = path.stem.split("__", 1)[1].removesuffix("_txt")
        paragraphs, size = [], 0
        for p in gutenberg(path):
            if size >= BOOK_CHARS:
                break
            paragraphs.append(p)
            size += len(p)
        docs += [{"id": f"gutenberg/{key}/{i:04d}", "text": t, "source": "gutenberg"}
                 for i, t in enumerate(chunks(paragraphs, rng))]
    wiki = wikitext(data / "near-dup/wikitext2-versions/valid.v_cf74c81.txt")
    docs += [{"id": f"wikitext/valid/{i:04d}", "text": t, "source": "wikitext"} for i, t in enumerate(chunks(wiki, rng))]
    for source, pages in (("debian-handbook", handbook(data, sample)), ("python-docs", python_docs(data, sample)),
                          ("speeches", speeches(data))):
        for name, text in pages:
            docs += [{"id": f"{source}/{name}/{i:04d}", "text": t, "source": source}
                     for i, t in enumerate(chunks(text.split("\n"), rng))]
    with pa.output_stream(args.out, compression="zstd") as f:
        for d in docs:
            f.write((json.dumps(d, ensure_ascii=False) + "\n").encode())
    by_source: dict[str, int] = {}
    for d in docs:
        by_source[d["source"]] = by_source.get(d["source"], 0) + len(d["text"])
    print(f"{args.out}: {len(docs)} documents, {sum(by_source.values()) / 1e6:.1f} M characters "
          f"({', '.join(f'{k} {v / 1e6:.1f} M' for k, v in by_source.items())})")


if __name__ == "__main__":
    main()
