"""BPE tokenizer and token files: lossless, trained on train shards only, checked by the trainer."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.readers import ReadOptions, expand_inputs, read_file
from tests.conftest import SAMPLE
from tests.lm_fixtures import TRAIN_ONLY_WORD, VAL_ONLY_WORD, write_run_config, write_shards
from tokenizer import bpe
from tokenizer.encode import tokenize_shards
from trainer.config import load_run_config
from trainer.data import TokenData, TokenFileMismatch


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    cfg = load_run_config(write_run_config(root, write_shards(root / "shards", markers=True)))
    tok = bpe.train_tokenizer(bpe.shard_paths(cfg.shards, "train"), cfg.tokenizer.vocab_size)
    bpe.save(tok, cfg.tokenizer_path)
    return cfg


def _sample_texts() -> list[str]:
    texts = []
    for ref in expand_inputs([(str(SAMPLE), None)]):
        for table in read_file(ref, ReadOptions()):
            texts += [t for t in table.column("text").to_pylist() if t]
    return texts


def test_round_trip_is_lossless_on_all_sample_text(run):
    tok = bpe.load(run.tokenizer_path)
    tok.encode_special_tokens = True
    texts = _sample_texts() + ["a literal <|endoftext|> inside a document", "\x00\ttabs\r\n  \u200b emoji 🦀"]
    assert len(texts) > 1000
    bad = [t[:60] for t in texts if tok.decode(tok.encode(t).ids) != t]
    assert bad == []
    # the literal separator inside text is ordinary text, never the separator id
    assert bpe.eot_id(tok) not in tok.encode("x <|endoftext|> y").ids


def test_merges_come_from_train_shards_only(run):
    tok = bpe.load(run.tokenizer_path)
    assert len(tok.encode(" " + TRAIN_ONLY_WORD).ids) <= 2
    assert len(tok.encode(" " + VAL_ONLY_WORD).ids) >= 4
    assert tok.get_vocab_size() == run.tokenizer.vocab_size


def test_loads_with_transformers(run):
    transformers = pytest.importorskip("transformers")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(run.tokenizer_path), eos_token=bpe.EOT)
    text = "The Debian handbook explains apt-get install 42 times."
    assert fast(text)["input_ids"] == bpe.load(run.tokenizer_path).encode(text).ids
    assert fast.decode(fast(text)["input_ids"]) == text
    assert fast.eos_token_id == bpe.eot_id(bpe.load(run.tokenizer_path))


def test_token_files_are_identical_inline_and_on_ray(run, tmp_path, ray_executor):
    inline = tokenize_shards(run.shards, run.tokenizer_path, tmp_path / "inline", inline=True)
    on_ray = tokenize_shards(run.shards, run.tokenizer_path, tmp_path / "ray", workers=2)
    assert inline == on_ray
    for name in ("train.bin", "val.bin", "train.idx.npy", "val.idx.npy", "meta.json"):
        assert (tmp_path / "inline" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    tok = bpe.load(run.tokenizer_path)
    tokens = np.fromfile(tmp_path / "inline/train.bin", dtype=inline["dtype"])
    starts = np.load(tmp_path / "inline/train.idx.npy")
    texts = pq.read_table(run.shards + "/train-00000.parquet").column("text").to_pylist()
    assert inline["dtype"] == "uint16" and len(starts) == len(texts) + 1 == inline["splits"]["train"]["docs"] + 1
    assert starts[-1] == len(tokens) == inline["splits"]["train"]["tokens"]
    # every document ends with the separator and decodes back to its text
    assert (tokens[starts[1:] - 1] == bpe.eot_id(tok)).all()
    for i in (0, 57, len(texts) - 1):
        assert tok.decode(tokens[starts[i]:starts[i + 1] - 1].tolist()) == texts[i]


def test_tokenize_skips_when_up_to_date_and_redoes_when_tokenizer_changes(run, tmp_path):
    dest = tmp_path / "tokens"
    first = tokenize_shards(run.shards, run.tokenizer_path, dest, inline=True)
    mtime = (dest / "train.bin").stat().st_mtime_ns
    tokenize_shards(run.shards, run.tokenizer_path, dest, inline=True)
    assert (dest / "train.bin").stat().st_mtime_ns == mtime
    other = tmp_path / "other.json"
    bpe.save(bpe.train_tokenizer(bpe.shard_paths(run.shards, "train"), 600), other)
    second = tokenize_shards(run.shards, other, dest, inline=True)
    assert second["vocab_size"] == 600 != first["vocab_size"]


def test_trainer_refuses_token_files_that_do_not_match(run, tmp_path):
    dest = tmp_path / "tokens"
    meta = tokenize_shards(run.shards, run.tokenizer_path, dest, inline=True)
    sha = meta["tokenizer_sha256"]
    TokenData(dest, meta["vocab_size"], sha, block_size=64, seed=0)  # matches: no error
    with pytest.raises(TokenFileMismatch, match="vocab_size"):
        TokenData(dest, 70000, sha, block_size=64, seed=0)
    with pytest.raises(TokenFileMismatch, match="tokenizer sha256"):
        TokenData(dest, meta["vocab_size"], "0" * 64, block_size=64, seed=0)
    broken = tmp_path / "broken"
    shutil.copytree(dest, broken)
    m = json.loads((broken / "meta.json").read_text())
    m["dtype"] = "uint32"
    (broken / "meta.json").write_text(json.dumps(m))
    with pytest.raises(TokenFileMismatch, match="dtype uint32"):
        TokenData(broken, meta["vocab_size"], sha, block_size=64, seed=0)
    with pytest.raises(FileNotFoundError, match="make tokenize"):
        TokenData(tmp_path / "missing", meta["vocab_size"], sha, block_size=64, seed=0)
