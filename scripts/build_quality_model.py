#!/usr/bin/env python3
"""Train the quality_model stage's fastText classifier from data the repo carries (`make quality-model`).

    python scripts/build_quality_model.py

Positives (`hq`): data/reference/reference-en.jsonl.zst, the KenLM reference (books, WikiText-2
validation, Debian handbook and Python documentation, US speeches; data/reference/SOURCES.md).
Each reference document
is an example, and so is one of its paragraphs alone (short is not bad).
Negatives (`lq`), the raw web text the repo may carry: the sample's Common Crawl pages (WARC
responses through the read stage's own extractor, WET records, CCNet-format WET text;
data/sample/SOURCES.md) in chunks of at most CHUNK_CHARS characters, and the Davidson tweets
(data/toxicity/davidson, MIT; the rows toxicity's build trains on, not its held-out fifth) in
pages of 1 to TWEETS_PER_DOC posts, one a line or run together, as a timeline or a comment.
Web chunks are repeated WEB_REPEATS times so they weigh about as much as the tweets.

A tenth of each side, by a hash of the example's id, is held out: its accuracy and AUC are a
tuning figure (same sources as training) written to models/quality/quality_en.json;
bench/quality_model_eval.py measures on sources the model never saw. One thread and a fixed
seed: the same model on every run.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.quality_model import MODEL, POSITIVE, features, positive_probability  # noqa: E402

REFERENCE = REPO / "data/reference/reference-en.jsonl.zst"
WEB = [REPO / "data/sample/corpus/crawl", REPO / "data/sample/corpus/web"]
TWEETS = REPO / "data/toxicity/davidson/labeled_data.csv.gz"
CHUNK_CHARS = 3000
TWEETS_PER_DOC = 20
WEB_REPEATS = 4
HELD_OUT = 10     # one example in HELD_OUT, by hash of its id
MAX_CHARS = 20_000
NEGATIVE = "__label__lq"


def _held_out(key: str) -> bool:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % HELD_OUT == 0


def reference() -> list[tuple[str, str]]:
    raw = pa.input_stream(str(REFERENCE), compression="zstd").read().decode("utf-8")
    return [(r["id"], r["text"]) for r in map(json.loads, raw.splitlines())]


def line_chunks(text: str, size: int) -> list[str]:
    """The text in pieces of at most `size` characters, cut at line ends (a longer line alone)."""
    out, current, length = [], [], 0
    for line in text.split("\n"):
        if current and length + len(line) > size:
            out.append("\n".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line) + 1
    if current:
        out.append("\n".join(current))
    return [c for c in out if c.strip()]


def web_pages() -> list[tuple[str, str]]:
    """Every readable document of the sample's web inputs, as the read stage makes it."""
    from pipeline.readers import ReadOptions, expand_inputs, read_file

    out = []
    for ref in expand_inputs([(str(p), "web") for p in WEB]):
        for table in read_file(ref, ReadOptions()):
            for doc_id, text, reason in zip(*(table.column(c).to_pylist() for c in ("id", "text", "reject_reason"))):
                if reason is None and text and text.strip():
                    out.append((doc_id, text))
    return out


def tweets() -> list[tuple[str, str]]:
    import html

    with gzip.open(TWEETS, "rt", encoding="utf-8", newline="") as f:
        rows = [(int(r[""]), html.unescape(r["tweet"])) for r in csv.DictReader(f)]
    train = [t for n, t in rows if n % 5 != 0]  # toxicity's held-out fifth stays unseen
    # pages of 1 to TWEETS_PER_DOC posts, one a line or run together: a short comment on one line
    # must not pass for prose because prose comes in long lines
    rng, out, i = random.Random(5), [], 0
    while i < len(train):
        k = rng.randint(1, TWEETS_PER_DOC)
        out.append((f"tweets/{i:05d}", ("\n" if rng.random() < 0.5 else " ").join(train[i:i + k])))
        i += k
    return out


def examples() -> list[tuple[str, str, str]]:
    """(id, label, text) for every training and held-out example, in a fixed order."""
    out = []
    rng = random.Random(3)
    for doc_id, text in reference():
        out.append((doc_id, POSITIVE, text))
        # and one paragraph of it alone: a short document is not bad for being short
        paragraphs = [p for p in text.split("\n") if len(p) > 200]
        if paragraphs:
            out.append((f"{doc_id}#p", POSITIVE, rng.choice(paragraphs)))
        # and written one sentence a line, as news wires and subtitles are: line breaks alone
        # must not make prose look like a list of posts
        out.append((f"{doc_id}#s", POSITIVE, re.sub(r"(?<=[.!?])\s+(?=[A-Z\"“])", "\n", text)))
    for doc_id, text in web_pages():
        for k, chunk in enumerate(line_chunks(text, CHUNK_CHARS)):
            out.append((f"{doc_id}#{k}", NEGATIVE, chunk))
    out += [(doc_id, NEGATIVE, text) for doc_id, text in tweets()]
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    import fasttext

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODEL, help="where the model goes (default %(default)s)")
    out = ap.parse_args(argv).out
    rows = examples()
    ids, labels, texts = zip(*rows)
    lines = features(pa.array(texts, pa.string()), MAX_CHARS)
    train, held = [], []
    for doc_id, label, line in zip(ids, labels, lines):
        if _held_out(doc_id.split("#")[0]):  # a page's chunks stay on one side
            held.append((doc_id, label, line))
        else:
            repeats = WEB_REPEATS if label == NEGATIVE and not doc_id.startswith("tweets/") else 1
            train += [(label, line)] * repeats
    random.Random(7).shuffle(train)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.writelines(f"{label} {line}\n" for label, line in train)
        path = f.name
    model = fasttext.train_supervised(input=path, epoch=8, lr=0.3, wordNgrams=2, dim=32, minCount=3,
                                      bucket=500_000, thread=1, seed=13, verbose=0)
    Path(path).unlink()
    tmp = out.with_suffix(".tmp")
    model.save_model(str(tmp))

    from sklearn.metrics import roc_auc_score

    score = positive_probability(model, [line for *_, line in held])
    is_pos = np.array([label == POSITIVE for _, label, _ in held])
    kinds = {"reference": is_pos, "tweets": np.array([i.startswith("tweets/") for i, *_ in held])}
    kinds["web"] = ~kinds["reference"] & ~kinds["tweets"]
    report = {
        "model": out.name,
        "train_examples": {"hq": sum(l == POSITIVE for l, _ in train), "lq": sum(l == NEGATIVE for l, _ in train)},
        "tuning_split": "1 in 10 examples by hash of the document id; same sources as training (a tuning figure)",
        "tuning_auc": round(float(roc_auc_score(is_pos, score)), 4),
        "tuning_accuracy_at_0.5": {k: round(float(np.mean((score[m] >= 0.5) == is_pos[m])), 4)
                                   for k, m in kinds.items()},
        "tuning_examples": {k: int(m.sum()) for k, m in kinds.items()},
    }
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{out}: {json.dumps(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
