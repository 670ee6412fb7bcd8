"""Deduplication on real text: what is removed, what it points to, and that nothing else is."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.runner import run_pipeline
from stages.minhash_dedup import MinhashConfig, MinhashDedup, permutations, shingles, signatures, words
from stages.url_dedup import normalize_url, normalize_urls
from tests.conftest import SAMPLE, make_config, needs_shared, tree_digest


def rows(stage_dir: Path, kind: str, columns=("id", "duplicate_of")) -> list[dict]:
    files = sorted((stage_dir / kind).glob("*.parquet"))
    return [r for f in files for r in pq.read_table(f, columns=list(columns)).to_pylist()]


def decisions(stage_dir: Path) -> dict[str, str | None]:
    out = {r["id"]: None for r in rows(stage_dir, "kept")}
    out.update({r["id"]: r["duplicate_of"] for r in rows(stage_dir, "rejected")})
    return out


@pytest.mark.parametrize("url, expected", [
    ("HTTPS://En.Wikipedia.org/wiki/Du_Fu/", "https://en.wikipedia.org/wiki/Du_Fu"),
    ("https://debian-handbook.info/browse/en-US/stable/apt.html?utm_source=feed&utm_medium=rss#top",
     "https://debian-handbook.info/browse/en-US/stable/apt.html"),
    ("http://example.com:80/a?b=2&a=1&fbclid=xyz", "http://example.com/a?a=1&b=2"),
    ("https://example.com:8443/", "https://example.com:8443/"),
    ("https://example.com", "https://example.com/"),
    ("not a url", None), ("", None), (None, None), ("http://[::1", None),
])
def test_normalize_url(url, expected):
    assert normalize_urls(pa.array([url], pa.string()))[0].as_py() == expected
    assert normalize_url(url) == expected


WRITTEN_URLS = [
    "https://example.com", "HTTP://Example.COM./", "https://example.com//docs//", "http://example.com/a#top",
    "http://example.com/a#to\np", "http://example.com/a?b=1", "http://example.com:80/a", "http://user@example.com/a",
    "http://example..com/a", "http://.example.com/", "http://example.com../", "http://-/", "http://example.com/a b",
    " http://example.com/a", "http://example.com/a\t", "http://example.com/%41b;c=d", "https://xn--bcher-kva.example/",
    "http://under_score.example.com/", "http://192.168.0.1/a", "ftp://example.com/a", "http:/example.com",
    "http://example.com/a#", "http://example.com#", "http://example.com/#a?b", "http://example.com/é", "", None, "http://",
]


@pytest.mark.parametrize("keep_fragment", [False, True])
def test_plain_urls_by_arrow_kernels_normalise_as_python_does(keep_fragment):
    got = normalize_urls(pa.array(WRITTEN_URLS, pa.string()), keep_fragment=keep_fragment).to_pylist()
    assert got == [normalize_url(u, keep_fragment=keep_fragment) for u in WRITTEN_URLS]


def test_sample_dedup_chain_removes_planted_duplicates(tmp_path):
    cfg = make_config(tmp_path / "o", [str(SAMPLE)],
                      [{"name": "read"}, {"name": "url_dedup"}, {"name": "exact_dedup"}, {"name": "minhash_dedup"}],
                      executor="inline")
    runs = run_pipeline(cfg)
    url, exact, near = (decisions(r.directory) for r in runs[1:])
    # URL variants of one page: the re-crawl goes, the original (same text, smaller id) stays
    assert url["wiki/000/recrawl"] == "wiki/000" and url["wiki/000"] is None
    recrawls = [i for i in url if i.endswith("?recrawl")]
    assert recrawls and all(url[i] == i.removesuffix("?recrawl") for i in recrawls)
    # from the bundled crawls: one page in a WARC and in its WET, one page crawled three times
    crawl_dups = {k: v for k, v in url.items() if v is not None and k.startswith("urn:uuid:")}
    assert len(crawl_dups) == 3 and len(set(crawl_dups.values())) == 2
    assert sum(v is not None for v in url.values()) == 16 + 3
    # exact copies of fortunes under other ids: the original (smaller id) stays
    mirrors = [i for i in exact if i.endswith("/mirror")]
    assert len(mirrors) == 60 and all(exact[m] == m.removesuffix("/mirror") for m in mirrors)
    # every duplicate points at a document that was kept by the same stage
    for d in (url, exact, near):
        assert all(d[target] is None for target in d.values() if target is not None)
    # near duplicates: wiki revisions pair only with their own article, man pages with their twin
    for doc, keeper in near.items():
        if keeper is None:
            continue
        if doc.startswith("wiki"):
            assert doc[-3:] == keeper[-3:]
        elif "handbook-html" in doc:  # an untranslated locale repeats the English section
            assert doc.rsplit("/", 1)[1] == keeper.rsplit("/", 1)[1]
        else:
            assert re.sub(r"(ls|dir|vdir)\.1$", "", doc) == re.sub(r"(ls|dir|vdir)\.1$", "", keeper)
    assert 5 <= sum(v is not None for v in near.values()) <= 40
    assert runs[-1].stats.extra["verified_pairs"] <= runs[-1].stats.extra["candidate_pairs"]


def test_signatures_equal_datasketch_minhash():
    from datasketch import MinHash

    texts = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text")[:20].combine_chunks()
    stage = MinhashDedup(MinhashConfig(), seed=1234)
    stage.setup()
    wh, offsets = words(texts)
    h32, off = shingles(wh, offsets, 5)
    ours = signatures(h32, off, stage.a, stage.b, chunk=500)  # small chunks: exercise the chunking
    for i in range(len(texts)):
        m = MinHash(num_perm=112, seed=1234, hashfunc=lambda x: x)
        m.update_batch([int(h) for h in h32[off[i]:off[i + 1]]])
        assert np.array_equal(m.hashvalues, ours[i])
    for num_perm, seed in [(112, 0), (128, 42), (256, 2**31 + 5)]:
        assert np.array_equal(np.array(permutations(num_perm, seed)), MinHash(num_perm=num_perm, seed=seed).permutations)


def test_threshold_derives_bands_and_rows_with_datasketch():
    cfg = MinhashConfig(threshold=0.8, num_perm=128)
    assert cfg.bands * cfg.rows <= 128 and 0.7 < cfg.lsh_threshold < 0.9
    assert round(MinhashConfig().lsh_threshold, 2) == 0.72


def test_chain_of_overlapping_windows_is_one_component(tmp_path):
    """Sliding windows over a book: neighbours are near-duplicates, distant windows are not,
    so only connected components (not pairwise matching) can put the chain together."""
    text = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    tokens = " ".join(text[5:40]).split()
    docs = [{"id": f"w{i:03d}", "text": " ".join(tokens[i * 40: i * 40 + 800])} for i in range(30)]
    src = tmp_path / "chain.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = make_config(tmp_path / "o", [str(src)], [{"name": "read"}, {"name": "minhash_dedup"}], executor="inline")
    run = run_pipeline(cfg)[-1]
    d = decisions(run.directory)
    assert d["w000"] is None
    assert all(d[f"w{i:03d}"] == "w000" for i in range(1, 30))  # one component, smallest id kept
    assert run.stats.extra["largest_component"] == 30 and run.stats.extra["cc_rounds"] >= 2


def test_wikitext_revisions_found_above_threshold_and_never_merged_across_articles(tmp_path):
    root = needs_shared("near-dup", "wikitext2-versions")
    pairs = [json.loads(l) for l in open(root / "pairs.jsonl")]

    def articles(path):
        parts = re.split(r"\n (= [^=].*? =) \n", "\n" + path.read_text(encoding="utf-8"))
        return [parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)]

    arts = {s: (articles(root / f"{s}.v_cf74c81.txt"), articles(root / f"{s}.v_main.txt")) for s in ("test", "valid")}
    src = tmp_path / "wiki.jsonl"
    with open(src, "w") as f:
        for p in pairs:
            raw, unk = arts[p["split"]]
            for kind, text in (("raw", raw[p["index"]]), ("unk", unk[p["index"]])):
                f.write(json.dumps({"id": f"{p['split']}-{p['index']:03d}-{kind}", "text": text}) + "\n")
    cfg = make_config(tmp_path / "o", [str(src)], [{"name": "read"}, {"name": "minhash_dedup"}], executor="inline")
    d = decisions(run_pipeline(cfg)[-1].directory)
    merged = {k.rsplit("-", 1)[0] for k, v in d.items() if v is not None}
    for k, v in d.items():
        if v is not None:
            assert k.rsplit("-", 1)[0] == v.rsplit("-", 1)[0], f"{k} merged with another article {v}"
    high = [p for p in pairs if p["jaccard_5gram_ws"] >= 0.75]
    found = [p for p in high if f"{p['split']}-{p['index']:03d}" in merged]
    assert len(found) >= 0.7 * len(high)
    low = [p for p in pairs if p["jaccard_5gram_ws"] < 0.5]
    assert not any(f"{p['split']}-{p['index']:03d}" in merged for p in low)


def test_planted_perturbed_copies_recall_against_brute_force(tmp_path):
    from bench.dedup_quality import evaluate, make_corpus, run_stage

    docs = make_corpus(80, 3)
    result = evaluate(docs, run_stage(docs, tmp_path))
    # where the 14x8 S-curve gives >= 98.8 % per pair, misses would be a defect, not chance
    high = [merged for jac, merged in result["pairs"] if jac >= 0.85]
    assert len(high) >= 5 and sum(high) >= len(high) - 1
    assert not any(merged for jac, merged in result["pairs"] if jac < 0.5)


def _sample_subset(tmp_path: Path, shuffle: bool) -> Path:
    recs = [json.loads(l) for l in open(SAMPLE / "wiki/wikitext.jsonl")]
    mp = pa.input_stream(str(SAMPLE / "manpages/manpages.jsonl.zst"), compression="zstd").read().decode()
    recs += [json.loads(l) for l in mp.splitlines()]
    if shuffle:
        random.Random(3).shuffle(recs)
    path = tmp_path / ("shuffled" if shuffle else "ordered")
    path.mkdir()
    for i in range(4):  # several files, so the shuffle crosses parts
        (path / f"part{i}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[i::4]))
    return path


def test_same_dedup_result_with_1_and_2_workers_and_shuffled_input(tmp_path, ray_executor):
    stages = [{"name": "read", "unit_bytes": 200_000}, {"name": "exact_dedup"}, {"name": "minhash_dedup"}]
    results, digests = [], []
    for label, shuffle, workers in (("w1", False, 1), ("w2", False, 2), ("shuf", True, 2)):
        (tmp_path / f"in-{label}").mkdir()
        cfg = make_config(tmp_path / label, [str(_sample_subset(tmp_path / f"in-{label}", shuffle))],
                          stages, workers=workers)
        runs = run_pipeline(cfg, executor=ray_executor)
        results.append(decisions(runs[-1].directory))
        digests.append(tree_digest(tmp_path / label))
        assert len(list((runs[-1].directory / "kept").glob("*.parquet"))) > 1
    assert results[0] == results[1] == results[2]
    assert digests[0] == digests[1]  # byte-identical files for 1 and 2 workers
    assert sum(v is not None for v in results[0].values()) >= 10


def test_duplicate_ids_across_files_keep_the_first_in_input_order(tmp_path):
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    for name, texts in (("a.jsonl", books[:5]), ("b.jsonl", books[5:8])):  # both exports number from 0
        (tmp_path / name).write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out"
    run_pipeline(make_config(out, [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], [{"name": "read"}, {"name": "unique_ids"}],
                             executor="inline"))
    stats = json.loads((out / "01-unique_ids/stats.json").read_text())
    assert stats["in"] == 8 and stats["kept"] == 5 and stats["rejected"] == {"duplicate_id": 3}
    kept = pq.read_table(out / "01-unique_ids/kept").to_pylist()
    assert sorted(r["id"] for r in kept) == ["0", "1", "2", "3", "4"] and [r["text"] for r in kept] == books[:5]
    rejected = pq.read_table(out / "01-unique_ids/rejected").to_pylist()
    assert [r["text"] for r in rejected] == books[5:8] and {r["duplicate_of"] for r in rejected} == {"0", "1", "2"}


def test_exact_copies_differing_in_case_unicode_form_and_whitespace_are_one_document(tmp_path):
    book = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()[2]
    variants = {
        "a-original": book,
        "b-trailing-newlines": book + "\n\n\n",          # an export that ends every file in blank lines
        "c-indented-upper": "  " + book.upper(),
        "d-crlf-nbsp": book.replace("\n", "\r\n").replace(" ", "\u00a0", 3),  # NFKC makes NBSP a space
        "e-rewrapped": " ".join(book.split()),
        "f-one-word-more": book + " THE END",
    }
    (tmp_path / "v.jsonl").write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in variants.items()))
    out = tmp_path / "out"
    run_pipeline(make_config(out, [tmp_path / "v.jsonl"], [{"name": "read"}, {"name": "exact_dedup"}], executor="inline"))
    assert decisions(out / "01-exact_dedup") == {"a-original": None, "b-trailing-newlines": "a-original",
                                                  "c-indented-upper": "a-original", "d-crlf-nbsp": "a-original",
                                                  "e-rewrapped": "a-original", "f-one-word-more": None}


def _words_by_arrow_kernels(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """What `words` computed before it split text in numpy: punctuation and symbols to spaces by
    RE2, characters of unspaced scripts to " c ", then Arrow's split on white space."""
    import pyarrow.compute as pc

    from pipeline import unicode
    from pipeline.hashing import hash64
    from stages.ngrams import _UNSPACED

    t = pc.utf8_lower(unicode.normalize(texts, "NFKC"))
    t = pc.replace_substring_regex(t, r"[\p{P}\p{S}]+", " ")
    t = pc.replace_substring_regex(t, f"([{_UNSPACED}])", " \\1 ")
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(t))
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = lists.flatten()
    return (hash64(flat) if len(flat) else np.zeros(0, np.uint64)), offsets - offsets[0]


def _jsonl_texts(path: Path, compression: str) -> pa.Array:
    lines = pa.input_stream(str(path), compression=compression).read().decode().splitlines()
    return pa.array([json.loads(line)["text"] for line in lines if line.strip()], pa.string())


def test_words_split_where_the_arrow_kernels_split():
    rng = random.Random(7)
    # ASCII, controls, Latin, combining marks, general punctuation and spaces, CJK symbols and
    # ideographs, Thai, Lao, Khmer, emoji, full-width forms, Arabic, Cyrillic, odd white space
    pools = [range(32, 127), range(0, 32), range(0x80, 0x250), range(0x300, 0x370), range(0x2000, 0x2070),
             range(0x3000, 0x3100), range(0x4E00, 0x4E80), range(0xE00, 0xE80), range(0xE80, 0xF00),
             range(0x1780, 0x1800), range(0x1F300, 0x1F700), range(0xFF00, 0xFFF0), range(0x600, 0x700),
             range(0x400, 0x500), [0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0xFEFF]]
    written = ["", " ", "  two  words ", "!?", "🔧", "a🔧b", "中文字", "a中b", "กิน", "x\u0301y", "İstanbul",
               "ﬁne ﬂow", "①②", "Ａｂｃ", "tab\tand\u2028line", None, "end."]
    texts = written + ["".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(0, 40)))
                       for _ in range(2000)]
    for batch in [pa.array(texts, pa.string()), pa.array(texts, pa.string()).slice(5, 900),
                  pa.array(["", None, ""], pa.string()), pa.array([], pa.string()),
                  pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").combine_chunks(),
                  _jsonl_texts(SAMPLE / "manpages/manpages.jsonl.zst", "zstd"),  # nine languages
                  _jsonl_texts(SAMPLE / "web/cc-web.jsonl.gz", "gzip")]:
        ours, expected = words(batch), _words_by_arrow_kernels(batch)
        assert np.array_equal(ours[1], expected[1])
        assert np.array_equal(ours[0], expected[0])
