#!/usr/bin/env python3
"""Build the bundled sample corpus `data/sample/corpus/` from `../shared/data`.

    python scripts/build_sample.py [--data ../shared/data] [--out data/sample/corpus]

Deterministic (fixed selection and seed): re-running gives the same files. Only sources whose
licences allow redistribution are used (see data/sample/SOURCES.md); the trafilatura pages are
not. The corpus is built so that every stage has real work to do:
- exact duplicates: repeated fortunes, re-crawled wiki pages (same text, URL variants);
- near-duplicates: the same WikiText articles in two revisions (raw vs `<unk>`-ised);
- many languages: Debian handbook and man pages in 9 languages, fortunes in 6;
- boilerplate: handbook navigation, Project Gutenberg licence headers, man-page sections;
- e-mail addresses and other PII: man-page authors, NeMo-Curator's PII test lines;
- every reader: JSONL (.gz, .zst), Parquet, a directory of plain-text files, WARC and WET files
  as Common Crawl ships them, and directories of raw HTML pages.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261123
HANDBOOK_LANGS = ["en-US", "de-DE", "fr-FR", "es-ES", "pt-BR", "ru-RU", "ja-JP", "zh-CN", "ar-MA"]
HANDBOOK_PAGES = ["foreword", "debian-project", "apt", "basic-configuration", "packaging-system", "solving-problems"]
MANPAGE_LANGS = ["de", "es", "fr", "it", "pl", "ru", "uk", "ja", "zh"]
MANPAGES_PER_LANG = 30
FORTUNE_SETS = {"fortunes": "en", "fortunes-de": "de", "fortunes-es": "es", "fortunes-it": "it",
                "fortunes-pl": "pl", "fortunes-ru": "ru"}
FORTUNES_PER_SET = 300
BOOKS = ["Chesterton_G_K_Gilbert_Keith_The_Innocence_of_Father_Brown",
         "London_Jack_Revolution_and_Other_Essays"]
WIKI_ARTICLES = 40  # per revision


def write_jsonl(path: Path, records: list[dict]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(data)
    elif path.suffix == ".zst":
        import pyarrow as _pa  # zstd through pyarrow keeps the script's needs to pyarrow

        with _pa.output_stream(str(path), compression="zstd") as f:
            f.write(data)
    else:
        path.write_bytes(data)


# ------------------------------------------------------------------------------------ web
def web(data: Path, out: Path) -> None:
    """CCNet-format WET documents and dolma documents (real Common Crawl text), plus PII lines."""
    records = []
    for name in ["cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz", "provided-documents-000.json.gz"]:
        with gzip.open(data / "cc-warc-samples/dolma" / name, "rt", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                meta = rec.get("metadata") or {}
                records.append({"id": rec["id"], "text": rec["text"], "url": meta.get("url", rec["id"]),
                                "timestamp": rec.get("created") or meta.get("date_download") or "2020-03-29T00:00:00Z"})
    # NeMo-Curator's PII fixtures, tags stripped, grouped into short "contact page" documents.
    lines = []
    for f in sorted((data / "pii/nemo-curator").glob("*.txt")):
        lines += [re.sub(r"</?[a-z_]+>", "", l).strip() for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
    for i in range(0, len(lines), 6):
        records.append({"id": f"contact-{i // 6:03d}", "text": "\n".join(lines[i:i + 6]),
                        "url": f"https://example.org/contact/{i // 6}", "timestamp": "2024-05-01T00:00:00Z"})
    write_jsonl(out / "web/cc-web.jsonl.gz", records)


# ------------------------------------------------------------------------------- handbook
class _Text(HTMLParser):
    SKIP = {"script", "style", "head"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "tr", "pre", "dt", "dd", "table", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, d):
        if not self.skip:
            self.out.append(d)


def html_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    text = "".join(p.out)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def handbook(data: Path, out: Path) -> None:
    """Debian handbook chapters as text, navigation included (boilerplate on every page)."""
    wanted = {f"html/{lang}/{page}.html": (lang, page) for lang in HANDBOOK_LANGS for page in HANDBOOK_PAGES}
    records = []
    with tarfile.open(data / "web-html/debian-handbook/debian-handbook-html-24lang.tar.xz") as tar:
        for m in tar:
            if m.name in wanted:
                lang, page = wanted[m.name]
                text = html_text(tar.extractfile(m).read().decode("utf-8"))
                records.append({"id": f"handbook/{lang}/{page}", "text": text, "lang_hint": lang,
                                "url": f"https://debian-handbook.info/browse/{lang}/stable/{page}.html",
                                "timestamp": "2022-09-22T00:00:00Z"})
    records.sort(key=lambda r: r["id"])
    # URL-variant re-crawls: same page, tracking parameters and a fragment (for URL dedup).
    for r in records[:: len(HANDBOOK_PAGES) + 1]:
        records.append({**r, "id": r["id"] + "?recrawl", "url": r["url"] + "?utm_source=feed&utm_medium=rss#top"})
    write_jsonl(out / "handbook/handbook.jsonl.gz", records)


CRAWL_FILES = {  # cc-warc-samples file -> name in corpus/crawl/
    "resiliparse/warcfile.warc.gz": "warc/CC-MAIN-2020-34-sample.warc.gz",
    "dolma/sample-0000.warc.gz": "warc/dolma-2024-sample-0000.warc.gz",
    "dolma/sample-0001.warc.gz": "warc/dolma-2024-sample-0001.warc.gz",
    "whirlwind/whirlwind.warc.gz": "warc/CC-MAIN-2024-22-escopete.warc.gz",
    "warcio/example.warc.gz": "warc/warcio-example.warc.gz",
    "warcio/example-iana.org-chunked.warc": "warc/warcio-iana-chunked.warc",
    "whirlwind/whirlwind.warc.wet": "wet/CC-MAIN-2024-22-escopete.warc.wet",
    "cc_net/sample.warc.txt": "wet/CC-MAIN-2019-13-ccnet-sample.warc.txt",
}
HANDBOOK_HTML_LANGS = ["en-US", "it-IT", "nl-NL", "pl-PL"]
HANDBOOK_HTML_PAGES = ["sect.apt-get", "sect.backup", "sect.creating-accounts", "sect.after-first-boot",
                       "sect.apparmor", "sect.automatic-upgrades"]


def crawl(data: Path, out: Path) -> None:
    """Common Crawl WARC and WET files, byte for byte as their upstream test suites ship them."""
    for src, dest in CRAWL_FILES.items():
        (out / "crawl" / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "cc-warc-samples" / src, out / "crawl" / dest)


def html_pages(data: Path, out: Path) -> None:
    """Raw HTML as a site mirror holds it: Python tutorial pages, Debian handbook sections."""
    with tarfile.open(data / "web-html/python3.11-doc/python3.11-doc-html.tar.xz") as tar:
        for m in tar:
            if m.isfile() and re.fullmatch(r"\./html/tutorial/[a-z0-9]+\.html", m.name):
                dest = out / "pydoc" / Path(m.name).name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(m).read())
    wanted = {f"html/{lang}/{page}.html" for lang in HANDBOOK_HTML_LANGS for page in HANDBOOK_HTML_PAGES}
    with tarfile.open(data / "web-html/debian-handbook/debian-handbook-html-24lang.tar.xz") as tar:
        for m in tar:
            if m.name in wanted:
                dest = out / "handbook-html" / m.name.removeprefix("html/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(m).read())


# ------------------------------------------------------------------------------- manpages
def roff_text(src: str) -> str:
    out = []
    for line in src.splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith("."):
            macro, _, rest = line[1:].partition(" ")
            if macro in ("SH", "SS"):
                out += ["", rest.strip('"').strip(), ""]
            elif macro in ("PP", "P", "LP", "sp", "TP", "IP", "br"):
                out.append("")
                if macro == "IP" and rest:
                    out.append(rest.strip('"'))
            elif macro in ("B", "I", "BR", "IR", "RB", "BI", "IB", "RI"):
                out.append(rest.replace('"', ""))
            continue
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\m\[[^]]*\]", "", text)
    for a, b in (("\\-", "-"), ("\\(aq", "'"), ("\\(lq", "“"), ("\\(rq", "”"), ("\\(em", "—"), ("\\e", "\\"), ("\\ ", " ")):
        text = text.replace(a, b)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def manpages(data: Path, out: Path) -> None:
    """The same man pages in several languages (translation pairs; translators' e-mail addresses)."""
    rng = random.Random(SEED)
    by_lang: dict[str, dict[str, str]] = {}
    for lang in MANPAGE_LANGS:
        pages = {}
        with tarfile.open(data / f"debian-text/manpages/manpages-{lang}.tar") as tar:
            for m in tar:
                if m.isfile() and re.search(r"/man[158]/[^/]+\.gz$", m.name):
                    try:
                        pages[Path(m.name).name[:-3]] = gzip.decompress(tar.extractfile(m).read()).decode("utf-8")
                    except (UnicodeDecodeError, OSError):
                        continue
        by_lang[lang] = pages
    # Pages translated into the most languages first: the same page in many languages.
    coverage: dict[str, int] = {}
    for pages in by_lang.values():
        for name in pages:
            coverage[name] = coverage.get(name, 0) + 1
    ranked = sorted(coverage, key=lambda n: (-coverage[n], n))
    chosen = sorted(rng.sample(ranked[: 3 * MANPAGES_PER_LANG], MANPAGES_PER_LANG))
    records = []
    for lang in MANPAGE_LANGS:
        for name in (n for n in chosen if n in by_lang[lang]):
            text = roff_text(by_lang[lang][name])
            records.append({"id": f"man/{lang}/{name}", "text": text, "lang_hint": lang,
                            "url": f"https://manpages.debian.org/bookworm/manpages-{lang}/{name}.{lang}.html",
                            "timestamp": "2022-12-15T00:00:00Z"})
    write_jsonl(out / "manpages/manpages.jsonl.zst", records)


# ------------------------------------------------------------------------------- fortunes
def fortunes(data: Path, out: Path) -> None:
    """Short quotes (natural exact duplicates across files) as JSONL, and whole fortune files as text."""
    rng = random.Random(SEED)
    records = []
    root = data / "debian-text/fortunes"
    for pkg, lang in FORTUNE_SETS.items():
        files = sorted(p for p in (root / pkg).rglob("*") if p.is_file())
        quotes = []
        for f in files:
            try:
                body = f.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for i, q in enumerate(re.split(r"\n%\n", body)):
                if q.strip():
                    quotes.append((f"fortune/{pkg}/{f.name}/{i}", q.strip()))
        for doc_id, q in sorted(rng.sample(quotes, min(FORTUNES_PER_SET, len(quotes)))):
            records.append({"id": doc_id, "text": q, "lang_hint": lang, "timestamp": "2021-06-01T00:00:00Z"})
    # The same quotes again from a second "mirror": exact duplicates with other ids.
    for r in rng.sample(records, 60):
        records.append({**r, "id": r["id"] + "/mirror"})
    records.sort(key=lambda r: r["id"])
    write_jsonl(out / "fortunes/quotes.jsonl", records)
    text_dir = out / "fortunes/files"
    text_dir.mkdir(parents=True, exist_ok=True)
    for rel in ["fortunes/linux", "fortunes-de/de/debian", "fortunes-ru/ru/programming"]:
        src = root / rel
        if src.is_file():
            (text_dir / (src.parent.name + "-" + src.name + ".txt")).write_bytes(src.read_bytes())


# ---------------------------------------------------------------------------------- books
def books(data: Path, out: Path) -> None:
    """Project Gutenberg books (licence header and footer kept: boilerplate), as Parquet chunks."""
    rng = random.Random(SEED)
    rows = {"id": [], "text": [], "url": [], "timestamp": []}
    texts = sorted((data / "reference-prose/gutenberg-en/texts").glob("*.txt"))
    for key in BOOKS:
        path = next(p for p in texts if key in p.name)
        body = path.read_text(encoding="utf-8", errors="replace")
        paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        chunk, size, k = [], 0, 0
        target = rng.randint(2500, 5000)
        for p in paras + [""]:
            if p:
                chunk.append(p)
                size += len(p)
            if (size >= target or not p) and chunk:
                rows["id"].append(f"gutenberg/{key}/{k:04d}")
                rows["text"].append("\n\n".join(chunk))
                rows["url"].append(f"https://www.gutenberg.org/ebooks/{key}/chunk-{k:04d}")
                rows["timestamp"].append("1999-01-01T00:00:00Z")
                chunk, size, k, target = [], 0, k + 1, rng.randint(2500, 5000)
    (out / "books").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), out / "books/gutenberg.parquet", compression="zstd", row_group_size=256)


# ----------------------------------------------------------------------------------- wiki
def wiki(data: Path, out: Path) -> None:
    """WikiText articles in two revisions (near-duplicate pairs) and re-crawled exact copies."""
    root = data / "near-dup/wikitext2-versions"

    def articles(path: Path) -> list[tuple[str, str]]:
        parts = re.split(r"\n (= [^=].*? =) \n", "\n" + path.read_text(encoding="utf-8"))
        return [(parts[i].strip("= ").strip(), parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]

    raw = articles(root / "test.v_cf74c81.txt")[:WIKI_ARTICLES]
    unk = articles(root / "test.v_main.txt")[:WIKI_ARTICLES]
    records = []
    for i, ((title, text), (title_u, text_u)) in enumerate(zip(raw, unk)):
        slug = title.replace(" ", "_")
        records.append({"id": f"wiki/{i:03d}", "text": f"{title}\n\n{text}", "timestamp": "2016-09-26T00:00:00Z",
                        "url": f"https://en.wikipedia.org/wiki/{slug}"})
        records.append({"id": f"wiki-unk/{i:03d}", "text": f"{title_u}\n\n{text_u}", "timestamp": "2016-09-26T00:00:00Z",
                        "url": f"https://en.wikipedia.org/w/index.php?title={slug}&oldid=1"})
        if i % 5 == 0:  # re-crawl of the same page: identical text, URL with a trailing slash
            records.append({"id": f"wiki/{i:03d}/recrawl", "text": f"{title}\n\n{text}",
                            "timestamp": "2017-01-15T00:00:00Z", "url": f"HTTPS://en.wikipedia.org/wiki/{slug}/"})
    write_jsonl(out / "wiki/wikitext.jsonl", records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared/data"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "data/sample/corpus"))
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not data.is_dir():
        raise SystemExit(f"{data}: not found; pass --data PATH/TO/shared/data")
    for build in (web, crawl, html_pages, handbook, manpages, fortunes, books, wiki):
        build(data, out)
        print(f"built {build.__name__}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
