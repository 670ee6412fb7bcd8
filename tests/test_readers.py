"""Readers on real files, and on every kind of bad input we have seen in the wild."""
from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import InputSpec
from pipeline.readers import ReadOptions, expand_inputs, read_file
from pipeline.schema import BASE_COLUMNS, REJECT_REASON
from stages.read import Read, ReadConfig
from tests.conftest import SAMPLE


def read_all(path, **opts) -> pa.Table:
    refs = expand_inputs([(str(path), None)])
    stage = Read(ReadConfig(**opts))
    tables = []
    for unit in stage.plan([InputSpec(str(path))]):
        for d in stage.read(unit, 256):
            tables.append(d.table.append_column(REJECT_REASON, d.reject))
    assert refs, "no files found"
    return pa.concat_tables(tables) if tables else None


def reasons(table: pa.Table) -> dict:
    out = {}
    for r in table.column(REJECT_REASON).to_pylist():
        out[r] = out.get(r, 0) + 1
    return out


def test_jsonl_gz_real_web_text_keeps_fields_and_metadata():
    t = read_all(SAMPLE / "web/cc-web.jsonl.gz")
    assert t.column_names[: len(BASE_COLUMNS)] == list(BASE_COLUMNS)
    rows = t.to_pylist()
    cc = [r for r in rows if r["id"].startswith("http")]
    assert len(cc) == 30 and all(r[REJECT_REASON] is None for r in cc)
    assert all(r["url"].startswith("http") and r["timestamp"] for r in cc)
    assert "Posted on February 4, 2014" in next(r["text"] for r in cc if "advocatesaz" in r["id"])


def test_jsonl_zst_manpages_in_many_scripts():
    t = read_all(SAMPLE / "manpages/manpages.jsonl.zst")
    langs = {json.loads(m)["lang_hint"] for m in t.column("metadata").to_pylist()}
    assert {"de", "ja", "zh", "ru"} <= langs
    assert any("\u30b3" <= ch <= "\u30ff" for ch in "".join(t.column("text").to_pylist()[:400]))


def test_parquet_reader_keeps_rows_in_order():
    src = pq.read_table(SAMPLE / "books/gutenberg.parquet")
    t = read_all(SAMPLE / "books/gutenberg.parquet")
    assert t.column("id").to_pylist() == src.column("id").to_pylist()
    assert t.column("text").to_pylist() == src.column("text").to_pylist()
    assert "Project Gutenberg" in t.column("text")[0].as_py()


def test_text_directory_one_document_per_file():
    t = read_all(SAMPLE / "fortunes/files")
    assert sorted(t.column("id").to_pylist()) == sorted(
        f"files/{p.name}" for p in (SAMPLE / "fortunes/files").iterdir())
    assert all(r is None for r in t.column(REJECT_REASON).to_pylist())


def test_missing_ids_are_assigned_from_file_and_position(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "first"}\n\n{"text": "second"}\n')
    t = read_all(tmp_path / "d.jsonl")
    assert t.column("id").to_pylist() == ["d.jsonl#0", "d.jsonl#2"]
    assert t.column("source").to_pylist() == ["d.jsonl", "d.jsonl"]


def test_truncated_gzip_keeps_what_was_readable_and_records_the_cut(tmp_path):
    lines = (SAMPLE / "wiki/wikitext.jsonl").read_bytes()
    blob = gzip.compress(lines)
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    t = read_all(tmp_path / "cut.jsonl.gz")
    r = reasons(t)
    assert r.get("truncated_input") == 1
    assert r.get(None, 0) > 10
    bad = [x for x in t.to_pylist() if x[REJECT_REASON] == "truncated_input"][0]
    assert "cut.jsonl.gz" in bad["metadata"] and "Truncated" in bad["metadata"]


def test_truncated_zstd_is_detected(tmp_path):
    src = (SAMPLE / "manpages/manpages.jsonl.zst").read_bytes()
    (tmp_path / "cut.jsonl.zst").write_bytes(src[: len(src) // 3])
    r = reasons(read_all(tmp_path / "cut.jsonl.zst"))
    assert r.get("truncated_input") == 1 and r.get(None, 0) > 0


def test_invalid_utf8_and_nul_bytes_are_rejected_per_record(tmp_path):
    good = json.dumps({"id": "ok", "text": "Grüße aus Köln"}).encode()
    latin1 = b'{"id": "latin1", "text": "Gr\xfc\xdfe"}'
    nul = json.dumps({"id": "nul", "text": "a\u0000b"}).encode()
    (tmp_path / "m.jsonl").write_bytes(b"\n".join([good, latin1, nul, b"{not json", b"[1, 2]"]) + b"\n")
    t = read_all(tmp_path / "m.jsonl")
    by_id = {r["id"]: r[REJECT_REASON] for r in t.to_pylist()}
    assert by_id == {"ok": None, "m.jsonl#1": "invalid_utf8", "nul": "nul_bytes",
                     "m.jsonl#3": "invalid_json", "m.jsonl#4": "invalid_json"}


def test_empty_file_and_whitespace_documents(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert read_all(tmp_path / "empty.jsonl") is None
    (tmp_path / "ws.jsonl").write_text('{"text": "  \\n\\t "}\n{"text": ""}\n')
    assert reasons(read_all(tmp_path / "ws.jsonl")) == {"empty": 2}


def test_binary_garbage_is_rejected_not_crashed(tmp_path):
    garbage = os.urandom(64 * 1024)
    (tmp_path / "g.jsonl.gz").write_bytes(garbage)  # not even gzip
    (tmp_path / "g.txt").write_bytes(garbage)
    (tmp_path / "g.bin").write_bytes(garbage)
    t = read_all(tmp_path)
    r = {row["source"]: row[REJECT_REASON] for row in t.to_pylist()}
    assert r[f"{tmp_path.name}/g.jsonl.gz"] == "corrupt_input"
    assert r[f"{tmp_path.name}/g.txt"] == "invalid_utf8"
    assert r[f"{tmp_path.name}/g.bin"] == "unsupported_format"


def test_parquet_without_text_column_rejects_every_row(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "content": ["x", "y"]}), tmp_path / "p.parquet")
    t = read_all(tmp_path / "p.parquet")
    assert reasons(t) == {"missing_text": 2}
    assert "no 'text' column" in t.column("metadata")[0].as_py()


def test_parquet_text_field_option(tmp_path):
    pq.write_table(pa.table({"content": ["hello there"]}), tmp_path / "p.parquet")
    assert read_all(tmp_path / "p.parquet", text_field="content").column("text").to_pylist() == ["hello there"]


def test_corrupt_parquet_is_one_counted_rejection(tmp_path):
    src = (SAMPLE / "books/gutenberg.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(src[: len(src) // 2])
    assert reasons(read_all(tmp_path / "cut.parquet")) in ({"corrupt_input": 1}, {"truncated_input": 1})


@pytest.mark.slow
def test_50mb_single_line_document_is_rejected_whole(tmp_path):
    big = "word " * (10 * 1024 * 1024)  # 50 MiB on one line
    with open(tmp_path / "big.jsonl", "w") as f:
        f.write(json.dumps({"id": "big", "text": big}) + "\n")
        f.write(json.dumps({"id": "small", "text": "a normal document"}) + "\n")
    t = read_all(tmp_path / "big.jsonl")
    rows = {r["id"]: r for r in t.to_pylist()}
    assert rows["big"][REJECT_REASON] == "too_long" and len(rows["big"]["text"]) == len(big)
    assert rows["small"][REJECT_REASON] is None


def test_unknown_input_path_is_a_clear_error(tmp_path):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="no-such-dir"):
        expand_inputs([(str(tmp_path / "no-such-dir"), None)])


def test_dotfiles_are_skipped_and_order_is_sorted(tmp_path):
    for name in ["b.txt", "a.txt", ".hidden.txt"]:
        (tmp_path / name).write_text(name)
    refs = expand_inputs([(str(tmp_path), "src")])
    assert [r.rel.split("/")[-1] for r in refs] == ["a.txt", "b.txt"]
    assert {r.source for r in refs} == {"src"}
    t = pa.concat_tables(list(read_file(refs[0], ReadOptions())))
    assert t.column("source").to_pylist() == ["src"]
