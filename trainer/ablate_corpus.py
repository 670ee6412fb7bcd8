"""The ablation's raw corpus and its held-out evaluation text, both built from ../shared/data.

The raw corpus is English-heavy and web-like: Common Crawl WARC/WET samples, raw HTML (real web
pages, the Debian handbook, the Python documentation; 10 % mirrored as re-crawls), forum and chat
text, news, Wikipedia articles, Project Gutenberg books in web-page-sized chunks, and the sample's
non-English man pages and fortunes. The evaluation text is WikiText-2's test articles and the
Gutenberg books that `scripts/build_reference.py` keeps out of `data/reference`: it is in no
variant (the raw corpus never reads it) and not in the tokenizer's text (`data/reference`).
"""
from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pyarrow.parquet as pq

from scripts.build_reference import BOOK_CHARS, books, gutenberg_body

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared/data"))


def _books() -> tuple[list[Path], list[Path]]:
    """(books the corpus may hold, books kept for evaluation): data/reference's own split."""
    return books(SHARED)


def _chunks(paragraphs: list[str], rng: random.Random, lo: int = 2000, hi: int = 6000):
    """Paragraphs joined into documents of web-page size (lo..hi characters)."""
    cur, size, target = [], 0, rng.randint(lo, hi)
    for p in paragraphs:
        cur.append(p)
        size += len(p)
        if size >= target:
            yield "\n\n".join(cur)
            cur, size, target = [], 0, rng.randint(lo, hi)
    if cur:
        yield "\n\n".join(cur)


def _write_jsonl(path: Path, records: list[dict], budget: int) -> int:
    """The records, in order, until `budget` bytes are written (a small corpus holds fewer)."""
    lines, used = [], 0
    for r in records:
        if used >= budget:
            break
        lines.append(json.dumps(r, ensure_ascii=False) + "\n")
        used += len(lines[-1].encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return used


def books_jsonl(dest: Path, budget: int, rng: random.Random, per_book: int = 100_000) -> int:
    """Corpus books as hard-wrapped chunks (as Gutenberg publishes them): from each book, in a
    shuffled order until `budget` bytes, `per_book` characters that start where data/reference's
    excerpt of it ends, so the tokenizer and the KenLM model never saw them."""
    corpus_books, _ = _books()
    order = sorted(corpus_books)
    rng.shuffle(order)
    records, used = [], 0
    for book in order:
        if used >= budget:
            break
        paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", gutenberg_body(book)) if p.strip()]
        seen, first = 0, len(paragraphs)
        for i, p in enumerate(paragraphs):  # the reference keeps paragraphs of > 3 words up to BOOK_CHARS
            if seen >= BOOK_CHARS:
                first = i
                break
            if len(p.split()) > 3:
                seen += len(" ".join(p.split()))
        taken, size = [], 0
        for p in paragraphs[first:]:
            if size >= per_book:
                break
            taken.append(p)
            size += len(p)
        for k, text in enumerate(_chunks(taken, rng)):
            records.append({"id": f"gutenberg/{book.stem}/{k}", "text": text,
                            "url": f"https://www.gutenberg.org/{book.stem}/{k}"})
            used += len(text.encode()) + 200  # the JSON line's id and url
    return _write_jsonl(dest / "books/gutenberg.jsonl", records, budget)


def _nltk(name: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(SHARED / f"reference-prose/nltk/{name}.zip")


def forum_jsonl(dest: Path, budget: int) -> int:
    """NLTK's webtext (forum posts, personal ads, overheard dialogue) in 40-line chunks, and its
    NPS chat sessions in 60-post chunks."""
    records = []
    with _nltk("webtext") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".txt")):
            lines = z.read(name).decode("utf-8", "replace").splitlines()
            for i in range(0, len(lines), 40):
                text = "\n".join(lines[i:i + 40]).strip()
                if text:
                    records.append({"id": f"{name}#{i}", "text": text, "url": f"https://forum.example/{name}/{i}"})
    with _nltk("nps_chat") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".xml")):
            posts = re.findall(r"<Post [^>]*>(.*?)<terminals>", z.read(name).decode("utf-8", "replace"), re.S)
            posts = [re.sub(r"&lt;", "<", re.sub(r"&gt;", ">", p.strip())) for p in posts if p.strip()]
            for i in range(0, len(posts), 60):
                records.append({"id": f"{name}#{i}", "text": "\n".join(posts[i:i + 60]),
                                "url": f"https://chat.example/{Path(name).stem}/{i}"})
    return _write_jsonl(dest / "forum/forum.jsonl", records, budget)


def news_jsonl(dest: Path, budget: int, rng: random.Random) -> int:
    """ABC (Australian Broadcasting Corporation) rural and science news, in article-sized chunks."""
    records = []
    with _nltk("abc") as z:
        for name in ("abc/rural.txt", "abc/science.txt"):
            raw = io.TextIOWrapper(io.BytesIO(z.read(name)), encoding="latin-1").read()
            paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw) if p.strip()]
            for k, text in enumerate(_chunks(paragraphs, rng, 1500, 4000)):
                records.append({"id": f"{name}#{k}", "text": text, "url": f"https://abc.example/{Path(name).stem}/{k}"})
    return _write_jsonl(dest / "news/abc.jsonl", records, budget)


def wiki_jsonl(dest: Path, budget: int) -> int:
    """WikiText-2's validation articles, as the dataset has them (its test articles are evaluation)."""
    from scripts.build_eval import wikitext_articles

    body = (SHARED / "reference-prose/wikitext-2/valid.txt").read_text(encoding="utf-8")
    records = [{"id": f"wikitext-2-valid/{i}", "text": a, "url": f"https://en.wikipedia.example/valid/{i}"}
               for i, a in enumerate(wikitext_articles(body))]
    return _write_jsonl(dest / "wiki/wikitext-2-valid.jsonl", records, budget)


def html_pages(dest: Path, budget: int, rng: random.Random) -> int:
    """Raw HTML until `budget` bytes, drawn at random from real web pages (mostly German), the English
    Debian handbook and the Python documentation; 10 % of the pages written twice (mirrors: exact
    duplicates)."""
    pages = []
    for source, tarball in [("web", "web-html/trafilatura-eval/trafilatura-tests-eval-cache.tar.xz"),
                            ("handbook", "web-html/debian-handbook/debian-handbook-html-24lang.tar.xz"),
                            ("pydoc", "web-html/python3.11-doc/python3.11-doc-html.tar.xz")]:
        with tarfile.open(SHARED / tarball) as tar:  # sequentially: seeking back in .xz decompresses again
            pages += [(source, m.name, tar.extractfile(m).read()) for m in tar
                      if m.isfile() and m.name.endswith(".html")
                      and (source != "handbook" or "/en-US/" in m.name)]  # its 23 translations: langid's work
    pages.sort(key=lambda p: (p[0], p[1]))
    rng.shuffle(pages)
    used = 0
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
    return used


def build_raw_corpus(dest: Path, mb: float, seed: int, books_mb: float) -> Path:
    """The raw input of every variant, `mb` MB of files (HTML counted as stored); built once."""
    if (dest / ".complete").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    if not SHARED.is_dir():  # the sample without its books: they are the evaluation text then
        shutil.copytree(REPO / "data/sample/corpus", dest, ignore=shutil.ignore_patterns("books"))
        (dest / ".complete").write_text("bundled sample\n")
        return dest
    rng = random.Random(seed)
    used = 0
    for f in sorted((SHARED / "cc-warc-samples").rglob("*")):
        if f.is_file() and ".warc" in f.name:
            target = dest / "crawl" / f.relative_to(SHARED / "cc-warc-samples")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            used += f.stat().st_size
    from scripts.build_sample import fortunes, manpages

    manpages(SHARED, dest)
    fortunes(SHARED, dest)
    used += sum(p.stat().st_size for d in ("manpages", "fortunes") for p in (dest / d).rglob("*") if p.is_file())
    budget = int(mb * 1e6)
    used += wiki_jsonl(dest, budget - used)
    used += news_jsonl(dest, budget - used, rng)
    used += forum_jsonl(dest, budget - used)
    used += books_jsonl(dest, min(int(books_mb * 1e6), budget - used), rng)
    used += html_pages(dest, budget - used, rng)
    (dest / ".complete").write_text(f"{used} bytes\n")
    return dest


def eval_texts() -> tuple[list[str], str]:
    """Held-out clean English and a line saying what it is: WikiText-2 test articles and the
    paragraphs of the Gutenberg books data/reference keeps out."""
    from scripts.build_eval import wikitext_articles

    wiki = SHARED / "reference-prose/wikitext-2/test.txt"
    if not wiki.is_file():  # no ../shared: the bundled sample's books (then the corpus does not hold them)
        texts = pq.read_table(REPO / "data/sample/corpus/books/gutenberg.parquet").column("text").to_pylist()
        return texts, f"{len(texts)} documents of the bundled sample's books"
    texts = wikitext_articles(wiki.read_text(encoding="utf-8"))
    n_wiki = len(texts)
    _, books = _books()
    for f in books:
        texts += [c for c in re.split(r"\n\s*\n", gutenberg_body(f)) if len(c) > 200]
    # Older etexts carry Project Gutenberg's licence inside the book; data/reference has it too
    # (the tokenizer's text): such paragraphs are not held out, so they are not evaluated on.
    seen = ngram_set(reference_texts())
    kept = [t for t in texts if not ngram_set([t]) & seen]
    return kept, (f"{len(kept):,} held-out documents: {n_wiki} WikiText-2 test articles and the paragraphs "
                  f"of the {len(books)} Gutenberg books `data/reference` keeps out, less {len(texts) - len(kept)} "
                  "that share a 13-word passage with `data/reference` (Project Gutenberg's licence)")


def reference_texts() -> list[str]:
    """data/reference: the tokenizer's training text."""
    from pipeline.readers import ReadOptions, expand_inputs, read_file

    return [t for r in expand_inputs([(str(REPO / "data/reference"), None)])
            for table in read_file(r, ReadOptions()) for t in table.column("text").to_pylist() if t]


def ngram_set(texts: list[str], n: int = 13) -> set[int]:
    """Hashes of the texts' n-word passages (decontaminate's words and hashing)."""
    import pyarrow as pa

    from stages.ngrams import ngram_hashes, words

    wh, off = words(pa.chunked_array([pa.array(texts, pa.large_string())]))
    return set(ngram_hashes(wh, off, n, short_docs=False)[0].tolist())
