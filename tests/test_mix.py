"""Mixture balancing: proportions, caps, splits, determinism, accounting."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import ConfigError
from pipeline.runner import run_pipeline
from tests.conftest import SAMPLE, make_config, tree_digest


def _multi_source(tmp_path: Path) -> list[dict]:
    """Three sources of real sentences with unequal sizes and document lengths."""
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    sentences = [s for t in books for s in t.replace("\n", " ").split(". ") if len(s) > 20]
    rng = random.Random(5)
    inputs = []
    for source, n_docs, years in (("web", 3000, ["2019", "2021"]), ("books", 1200, ["1999"]), ("code", 400, ["2023"])):
        path = tmp_path / f"{source}.jsonl"
        with open(path, "w") as f:
            for i in range(n_docs):
                text = ". ".join(rng.choice(sentences) for _ in range(rng.randint(2, 30)))
                f.write(json.dumps({"id": f"{source}-{i:05d}", "text": text,
                                    "timestamp": f"{rng.choice(years)}-06-01T00:00:00Z"}) + "\n")
        inputs.append({"path": str(path), "source": source})
    return inputs


def _mix(tmp_path, inputs, label="o", **options):
    stages = [{"name": "read"}, {"name": "mix", "shard_rows": 700, **options}]
    cfg = make_config(tmp_path / label, inputs, stages, executor="inline")
    run = run_pipeline(cfg)[-1]
    return run, json.loads((run.directory / "manifest.json").read_text())


def test_requested_proportions_are_met_within_2_percent(tmp_path):
    inputs = _multi_source(tmp_path)
    weights = {"web": 0.5, "books": 0.3, "code": 0.2}
    run, manifest = _mix(tmp_path, inputs, by_source=weights, val_fraction=0.02)
    achieved = manifest["proportions"]["source"]["achieved"]
    for source, w in weights.items():
        assert abs(achieved[source] - w) < 0.02, (source, achieved)
    assert not manifest["warnings"]
    # the budget was set by the scarcest source (code, 20 %): no source had to repeat
    assert run.stats.extra["repeats"] == 0


def test_token_budget_upsamples_within_the_cap_and_warns_beyond_it(tmp_path):
    inputs = _multi_source(tmp_path)
    _, plain = _mix(tmp_path, inputs, label="a", by_source={"web": 0.5, "books": 0.3, "code": 0.2})
    budget = int(plain["planned_train_tokens"] * 3)  # code needs 3 copies: within the cap of 4
    run, m = _mix(tmp_path, inputs, label="b", by_source={"web": 0.5, "books": 0.3, "code": 0.2},
                  token_budget=budget, max_repeats=4)
    assert abs(m["totals"]["train"]["tokens"] - budget) / budget < 0.03 and not m["warnings"]
    copies = [r for f in (run.directory / "kept").glob("*.parquet") for r in pq.read_table(f, columns=["repeats"])["repeats"].to_pylist()]
    assert max(copies) <= 4 and run.stats.extra["repeats"] > 0
    run, m = _mix(tmp_path, inputs, label="c", by_source={"web": 0.5, "books": 0.3, "code": 0.2},
                  token_budget=budget * 3, max_repeats=2)
    assert any("capped at max_repeats=2" in w for w in m["warnings"])
    copies = [r for f in (run.directory / "kept").glob("*.parquet") for r in pq.read_table(f, columns=["repeats"])["repeats"].to_pylist()]
    assert max(copies) == 2


def test_shards_val_disjoint_accounting_and_determinism(tmp_path):
    inputs = _multi_source(tmp_path)
    run, m = _mix(tmp_path, inputs, label="a", by_period={"2019": 0.2, "2021": 0.3, "1999": 0.3, "2023": 0.2},
                  val_fraction=0.05)
    shards = run.directory / "shards"
    train = pa.concat_tables([pq.read_table(f) for f in sorted(shards.glob("train-*.parquet"))])
    val = pa.concat_tables([pq.read_table(f) for f in sorted(shards.glob("val-*.parquet"))])
    assert train.column_names[:2] == ["id", "text"] and "reject_reason" not in train.column_names
    assert not set(train["id"].to_pylist()) & set(val["id"].to_pylist())
    assert len(list(shards.glob("train-*.parquet"))) >= 2
    assert [s["rows"] for s in m["shards"]] == [pq.ParquetFile(run.directory / s["path"]).metadata.num_rows for s in m["shards"]]
    # in = kept + rejected; kept rows' copies = shard rows
    s = run.stats
    assert s.docs_in == s.kept + s.rejected_total and set(s.rejected) <= {"downsampled"}
    kept = pa.concat_tables([pq.read_table(f) for f in (run.directory / "kept").glob("*.parquet")])
    assert sum(kept["repeats"].to_pylist()) == train.num_rows + val.num_rows
    # shuffled: shard order is not input order
    assert train["id"].to_pylist()[:50] != sorted(train["id"].to_pylist()[:50])
    # same input, config and seed: identical bytes
    _mix(tmp_path, inputs, label="b", by_period={"2019": 0.2, "2021": 0.3, "1999": 0.3, "2023": 0.2}, val_fraction=0.05)
    assert tree_digest(tmp_path / "a", ("kept", "rejected", "shards")) == tree_digest(tmp_path / "b", ("kept", "rejected", "shards"))
    # opens with the loaders people use
    pd = pytest.importorskip("pandas")
    assert len(pd.read_parquet(shards / "train-00000.parquet")) > 0
    duckdb = pytest.importorskip("duckdb")
    assert duckdb.sql(f"select count(*) from read_parquet('{shards}/train-*.parquet')").fetchall()[0][0] == train.num_rows
    assert sum(m["proportions"]["period"]["train_tokens"].values()) == m["totals"]["train"]["tokens"]


def test_requested_value_without_data_is_a_warning(tmp_path):
    _, m = _mix(tmp_path, [str(SAMPLE / "wiki")], by_source={"wiki/wikitext.jsonl": 0.5, "nonexistent": 0.5})
    assert m["totals"]["train"]["rows"] > 0
    assert any("nonexistent" in w for w in m["warnings"])


def test_by_language_without_langid_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="langid"):
        _mix(tmp_path, [str(SAMPLE / "wiki")], by_language={"en": 1.0})
