"""WARC, WET and HTML readers: real Common Crawl samples, broken records, charsets, extraction."""
from __future__ import annotations

import gzip
import json
import uuid

import pyarrow as pa
import pytest

from pipeline.html import EXTRACTORS, decode, html_lang
from tests.conftest import SAMPLE, make_config, needs_shared
from tests.test_readers import read_all, reasons

ARTICLE = ("<p>The Debian project maintains the distribution through a social contract and a set of "
           "guidelines that every package follows. Maintainers upload new versions to unstable, where "
           "they are tested for weeks before migrating to testing.</p>") * 3


def page(body: str = ARTICLE, lang: str = "en", meta: str = "") -> str:
    return (f'<!doctype html><html lang="{lang}"><head>{meta}<title>t</title></head><body>'
            f'<nav><a href="/">Home</a> <a href="/about">About</a></nav><article>{body}</article>'
            f'<footer>Copyright 2024 Example Inc. All rights reserved.</footer></body></html>')


def record(uri: str, payload: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
           warc_type: str = "response", n: int = 0) -> bytes:
    if warc_type == "response":
        block = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\r\n".encode() + payload
        ctype = "application/http; msgtype=response"
    else:
        block, ctype = payload, "text/plain"
    head = (f"WARC/1.0\r\nWARC-Type: {warc_type}\r\nWARC-Target-URI: {uri}\r\n"
            f"WARC-Date: 2024-05-18T01:58:{n % 60:02d}Z\r\nWARC-Record-ID: <urn:uuid:{uuid.UUID(int=n + 1)}>\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def good_records(k: int) -> list[bytes]:
    return [record(f"https://example.org/{i}", page(f"<p>Page {i}.</p>" + ARTICLE).encode(), n=i)
            for i in range(k)]


def write_gz(path, records: list[bytes]) -> None:
    path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records))


def test_every_real_warc_and_wet_sample_reads_without_broken_records():
    root = needs_shared("cc-warc-samples")
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and ".warc" in p.name or p.suffix == ".wet"]
    assert len(files) >= 8
    total = 0
    for path in files:
        t = read_all(path)
        r = reasons(t)
        assert not {"corrupt_record", "truncated_input", "undecodable"} & set(r), (path.name, r)
        assert r.get(None, 0) >= 1, path.name
        kept = t.filter(pa.compute.is_null(t.column("reject_reason")))
        assert all(u and "://" in u and not u.startswith("<") for u in kept.column("url").to_pylist())
        assert all(ts and ts[:2] == "20" for ts in kept.column("timestamp").to_pylist())
        assert all(i.startswith("urn:uuid:") for i in kept.column("id").to_pylist())
        total += t.num_rows
    assert total >= 60


def test_warc_and_wet_of_the_same_page_agree():
    root = needs_shared("cc-warc-samples", "whirlwind")
    warc, wet = read_all(root / "whirlwind.warc.gz"), read_all(root / "whirlwind.warc.wet")
    assert warc.column("url").to_pylist() == wet.column("url").to_pylist() == ["https://an.wikipedia.org/wiki/Escopete"]
    assert warc.column("html_lang")[0].as_py() == "an" and warc.column("charset")[0].as_py() == "utf-8"
    # main-text extraction drops the menus the WET conversion keeps
    assert "Escopete" in warc.column("text")[0].as_py()
    assert "Menú principal" in wet.column("text")[0].as_py()
    assert "Menú principal" not in warc.column("text")[0].as_py()
    assert json.loads(wet.column("metadata")[0].as_py())["cc_languages"] == "spa"


def test_gzip_member_with_corrupt_bytes_costs_one_record_and_reading_goes_on(tmp_path):
    recs = good_records(6)
    members = [gzip.compress(r, mtime=0) for r in recs]
    bad = bytearray(members[2])
    for i in range(len(bad) // 2, len(bad) // 2 + 16):
        bad[i] ^= 0xFF
    members[2] = bytes(bad)
    path = tmp_path / "broken.warc.gz"
    path.write_bytes(b"".join(members))
    t = read_all(path)
    assert reasons(t) == {None: 5, "corrupt_record": 1}
    kept_urls = [u for u, r in zip(t.column("url").to_pylist(), t.column("reject_reason").to_pylist()) if r is None]
    assert kept_urls == [f"https://example.org/{i}" for i in (0, 1, 3, 4, 5)]
    broken = t.filter(pa.compute.equal(t.column("reject_reason"), "corrupt_record"))
    assert "Gzip" in json.loads(broken.column("metadata")[0].as_py())["error"]


def test_bad_header_in_plain_warc_is_one_rejection(tmp_path):
    recs = good_records(5)
    recs[1] = recs[1].replace(b"Content-Length: ", b"Content-Lxngth: ", 1)
    recs[3] = b"GARBAGE" + recs[3][8:]
    path = tmp_path / "bad-header.warc"
    path.write_bytes(b"".join(recs))
    r = reasons(read_all(path))
    assert r == {None: 3, "corrupt_record": 2}


def test_truncated_file_ends_that_file_only(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    write_gz(whole, good_records(4))
    data = whole.read_bytes()
    (tmp_path / "a-cut.warc.gz").write_bytes(data[: len(data) - 200])
    write_gz(tmp_path / "b-next.warc.gz", good_records(2))
    (tmp_path / "whole.warc.gz").unlink()
    t = read_all(tmp_path)
    r = reasons(t)
    assert r[None] == 3 + 2 and r.get("truncated_input", 0) + r.get("corrupt_record", 0) == 1, r


def test_charsets_declared_wrong_missing_or_bogus(tmp_path):
    russian = page("<p>" + "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 8 + "</p>", lang="ru")
    recs = [
        # declared UTF-8, really windows-1251: detection decodes it
        record("https://a.example/ru", russian.encode("cp1251"), n=1),
        # a charset Python does not know, and none at all: UTF-8 then detection
        record("https://a.example/bogus", page().encode(), "text/html; charset=x-no-such-charset", n=2),
        record("https://a.example/meta", page(meta='<meta charset="iso-8859-1">').replace("Debian", "Débian")
               .encode("latin-1"), "text/html", n=3),
        # bytes no charset decodes cleanly, and payloads that are not pages
        record("https://a.example/bin", bytes(range(256)) * 40, "text/html", n=4),
        record("https://a.example/img.png", b"\x89PNG\r\n\x1a\n" + bytes(500), "image/png", n=5),
        record("https://a.example/gone", page().encode(), status="404 Not Found", n=6),
        record("https://a.example/empty", b"<html><body><script>var x=1;</script></body></html>", n=7),
    ]
    path = tmp_path / "charsets.warc.gz"
    write_gz(path, recs)
    t = read_all(path)
    rows = {r["url"]: r for r in t.to_pylist()}
    ru = rows["https://a.example/ru"]
    assert ru["reject_reason"] is None and ru["charset"] == "cp1251" and "булок" in ru["text"]
    assert json.loads(ru["metadata"])["declared_charset"] == "utf-8" and ru["html_lang"] == "ru"
    assert rows["https://a.example/bogus"]["reject_reason"] is None
    assert rows["https://a.example/bogus"]["charset"] == "utf-8"
    assert rows["https://a.example/meta"]["charset"] == "iso8859-1" and "Débian" in rows["https://a.example/meta"]["text"]
    assert rows["https://a.example/bin"]["reject_reason"] in ("undecodable", "no_text")
    assert rows["https://a.example/img.png"]["reject_reason"] == "not_html"
    assert rows["https://a.example/gone"]["reject_reason"] == "http_status"
    assert rows["https://a.example/empty"]["reject_reason"] == "no_text"


def test_counts_reach_stats_json_through_the_pipeline(tmp_path, ray_executor):
    from pipeline.runner import run_pipeline

    recs = good_records(4) + [record("https://x.example/p.png", bytes(300), "image/png", n=50)]
    members = [gzip.compress(r, mtime=0) for r in recs]
    members[1] = members[1][: len(members[1]) // 2] + members[1][-8:]
    path = tmp_path / "in" / "crawl.warc.gz"
    path.parent.mkdir()
    path.write_bytes(b"".join(members))
    cfg = make_config(tmp_path / "out", [path.parent])
    run_pipeline(cfg, executor=ray_executor)
    stats = json.loads((tmp_path / "out/00-read/stats.json").read_text())
    assert stats["in"] == 5 and stats["kept"] == 3
    assert stats["rejected"] == {"corrupt_record": 1, "not_html": 1}


def test_html_directory_is_one_document_per_page(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site/a.html").write_text(page(lang="de"), encoding="utf-8")
    (tmp_path / "site/b.htm").write_bytes(page(meta='<meta charset="windows-1252">').replace("Debian", "Debián")
                                          .encode("cp1252"))
    (tmp_path / "site/c.html").write_text("<html><body><script>var x = 1;</script></body></html>")
    t = read_all(tmp_path / "site")
    rows = {r["id"]: r for r in t.to_pylist()}
    assert rows["site/a.html"]["html_lang"] == "de" and "social contract" in rows["site/a.html"]["text"]
    assert "Home" not in rows["site/a.html"]["text"] and "rights reserved" not in rows["site/a.html"]["text"]
    assert rows["site/b.htm"]["charset"] == "cp1252" and "Debián" in rows["site/b.htm"]["text"]
    assert rows["site/c.html"]["reject_reason"] == "no_text"


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
def test_every_extractor_keeps_the_article_and_drops_navigation(name):
    text = EXTRACTORS[name](page())
    assert "social contract" in text and "migrating to testing" in text
    assert "About" not in text.split()


def test_trafilatura_extracts_on_one_thread_at_a_time_when_read_runs_threads(monkeypatch):
    """Two threads inside trafilatura at once crashed `read` (SIGSEGV/SIGABRT in lxml); the real
    extractor runs here, timed so that unserialised calls would overlap."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import trafilatura

    real, inside, most = trafilatura.extract, [0], [0]
    lock = threading.Lock()

    def watched(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.01)
            return real(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(trafilatura, "extract", watched)
    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda _: EXTRACTORS["trafilatura"](page()), range(16)))
    assert most[0] == 1
    assert all("social contract" in t for t in texts)


def test_decode_and_lang_helpers():
    assert decode("naïve".encode("utf-8"), None)[:2] == ("naïve", "utf-8")
    text, codec, replaced = decode(b"caf\xc3\xa9 " * 200 + b"\xff", "utf-8")
    assert codec == "utf-8" and replaced == 1 and text.startswith("café")
    assert html_lang('<html class="x" lang="pt_BR">') == "pt-BR" and html_lang("<html>") is None


@pytest.mark.parametrize("part,min_kept", [("crawl", 50), ("pydoc", 17), ("handbook-html", 24)])
def test_bundled_web_samples_read_cleanly(part, min_kept):
    t = read_all(SAMPLE / part)
    r = reasons(t)
    assert not {"corrupt_record", "truncated_input", "undecodable"} & set(r), r
    assert r[None] >= min_kept, r
    if part != "crawl":
        assert t.column("charset").null_count == 0
    if part == "pydoc":  # the handbook's XHTML declares no lang
        assert set(t.column("html_lang").to_pylist()) == {"en"}
