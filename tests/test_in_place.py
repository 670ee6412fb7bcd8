"""`read` lists a Parquet input that needs no conversion instead of copying it, and the next
stage reads it where it is; stages with `Resources.threads` run on threads in this process."""
from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.runner import run_pipeline
from tests.conftest import SAMPLE, make_config, tree_digest


@pytest.fixture(scope="module")
def wiki(tmp_path_factory) -> pa.Table:
    """The sample's Wikipedia articles and books as read copies them (id, text, url, source, ...)."""
    out = tmp_path_factory.mktemp("wiki")
    run_pipeline(make_config(out, [SAMPLE / "wiki", SAMPLE / "books"], [{"name": "read", "in_place": False}], executor="inline"))
    table = pa.concat_tables(pq.read_table(p) for p in sorted((out / "00-read/kept").glob("*.parquet")))
    assert table.num_rows > 250
    return table


def _write(path, table: pa.Table, row_group_size: int = 64) -> str:
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path)


def _kept(directory) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(directory.glob("kept/*.parquet")))


def _manifest(directory) -> dict:
    return json.loads((directory / "_SUCCESS").read_text())


def _run(out, inputs, read: dict | None = None, after: str = "exact_dedup", **top):
    stages = [{"name": "read", **(read or {})}, {"name": after}]
    return run_pipeline(make_config(out, inputs, stages, executor="inline", **top))


def test_a_parquet_file_without_conversion_is_read_in_place_with_the_copy_s_rows(tmp_path, wiki):
    # what a crawl export looks like: id, text, url; no source, timestamp, metadata
    doubled = pa.concat_tables([wiki, wiki.slice(0, 40)]).select(["id", "text", "url"])
    doubled = doubled.set_column(0, "id", pa.array([f"doc-{i:05d}" for i in range(doubled.num_rows)]))
    src = _write(tmp_path / "crawl.parquet", doubled)

    runs = _run(tmp_path / "in-place", [src], {"part_rows": 150})
    read_dir, dedup_dir = runs[0].directory, runs[1].directory
    assert not list(read_dir.glob("kept/*.parquet"))  # nothing copied
    listed = _manifest(read_dir)["files"]["kept"]
    assert all(f["path"] == src and f["in_place"] for f in listed)
    # parts by whole row groups of 64 rows, none over part_rows
    assert [f["in_place"]["row_groups"][1] - f["in_place"]["row_groups"][0] for f in listed][:2] == [2, 2]
    assert sum(f["rows"] for f in listed) == doubled.num_rows == runs[0].stats.kept == runs[0].stats.docs_in

    copied = _run(tmp_path / "copied", [src], {"part_rows": 150, "in_place": False})
    assert list(copied[0].directory.glob("kept/*.parquet"))
    a, b = _kept(dedup_dir), _kept(copied[1].directory)
    assert a.schema.names == b.schema.names and a.schema.names[:4] == ["id", "text", "url", "source"]
    assert a.sort_by("id").to_pylist() == b.sort_by("id").to_pylist()  # sources "crawl.parquet" alike
    assert runs[1].stats.rejected == copied[1].stats.rejected and runs[1].stats.rejected["exact_duplicate"] >= 40
    assert runs[1].stats.bytes_in == copied[1].stats.bytes_in


def test_ids_from_row_numbers_match_the_copy_s(tmp_path, wiki):
    src = _write(tmp_path / "noid.parquet", wiki.select(["text"]))
    in_place = _run(tmp_path / "a", [src], after="url_dedup")
    copied = _run(tmp_path / "b", [src], {"in_place": False}, after="url_dedup")
    assert _manifest(in_place[0].directory)["files"]["kept"][0]["in_place"]["id_prefix"] == "noid.parquet"
    a, b = _kept(in_place[1].directory), _kept(copied[1].directory)
    assert a.column("id").to_pylist() == b.column("id").to_pylist() == [f"noid.parquet#{i}" for i in range(wiki.num_rows)]


@pytest.mark.parametrize("change, why", [
    (lambda t: t.set_column(1, "text", pa.array(["  \n"] + t.column("text").to_pylist()[1:])), "an empty document"),
    (lambda t: t.rename_columns(["doc_id", *t.column_names[1:]]), "doc_id renamed to id"),
    (lambda t: t.set_column(0, "id", pa.array([None] + t.column("id").to_pylist()[1:], pa.string())), "a null id"),
    (lambda t: t.set_column(1, "text", t.column("text").cast(pa.large_string())), "large_string text, cast"),
    (lambda t: t.set_column(1, "text", pa.array(t.column("text").to_pylist()[:-1] + ["the last row\x00 has a NUL"])),
     "a NUL byte in the last row"),
])
def test_a_file_that_needs_converting_or_holds_a_rejection_is_copied(tmp_path, wiki, change, why):
    src = _write(tmp_path / "in.parquet", change(wiki.select(["id", "text", "url"])))
    runs = _run(tmp_path / "out", [src])
    listed = _manifest(runs[0].directory)["files"]["kept"]
    assert listed and not any(f.get("in_place") for f in listed), why
    assert runs[0].stats.docs_in == wiki.num_rows


def test_an_input_changed_after_read_is_an_error_naming_it(tmp_path, wiki):
    src = _write(tmp_path / "in.parquet", wiki.select(["id", "text"]))
    cfg = make_config(tmp_path / "out", [src], [{"name": "read"}, {"name": "exact_dedup"}], executor="inline")
    run_pipeline(cfg, only="read")
    os.utime(src, ns=(1, 1))
    with pytest.raises(RuntimeError, match="in.parquet: the input file changed"):
        run_pipeline(cfg, only="exact_dedup")


def test_threads_in_process_give_the_bytes_of_one_thread(tmp_path, wiki):
    files = [_write(tmp_path / f"in-{k}.parquet", wiki.slice(k * 50, 50).select(["id", "text", "url"]))
             for k in range(4)]
    digests = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        runs = run_pipeline(make_config(out, files, [{"name": "read"}, {"name": "minhash_dedup"}],
                                        executor="inline", workers=workers))
        assert runs[1].stats.workers == workers
        digests.append(tree_digest(out))
    assert digests[0] == digests[1] and digests[0]
