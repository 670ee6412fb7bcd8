#!/usr/bin/env python3
"""Train the toxicity stage's fastText classifier on the bundled Davidson tweets (`make toxicity-model`).

    python scripts/build_toxicity_model.py

Davidson et al. 2017 (data/toxicity/davidson, MIT): 24,783 tweets labelled hate (0), offensive
(1) or neither (2); toxic = hate or offensive. Tweets are normalised as the stage normalises
documents (mentions -> @user, URLs -> http, `RT` dropped, lower case). Every 5th tweet (by row
number) is held out and never trained on: bench/toxicity_eval.py scores on it. One thread and a
fixed seed, so the model is the same on every run. Writes models/toxicity/davidson.bin.
"""
from __future__ import annotations

import csv
import gzip
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.toxicity import MODEL, normalize  # noqa: E402

DATA = REPO / "data/toxicity/davidson/labeled_data.csv.gz"


def load() -> list[tuple[int, str, bool]]:
    """(row, normalised text, toxic) for every tweet."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r[""]), normalize(r["tweet"]), r["class"] in ("0", "1")) for r in rows]


def split(rows):
    train = [r for r in rows if r[0] % 5 != 0]
    held_out = [r for r in rows if r[0] % 5 == 0]
    return train, held_out


def main() -> int:
    import fasttext

    train, held_out = split(load())
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for _, text, toxic in train:
            f.write(f"__label__{'toxic' if toxic else 'clean'} {text}\n")
        path = f.name
    model = fasttext.train_supervised(input=path, epoch=10, lr=0.5, wordNgrams=2, dim=50, minCount=2,
                                      thread=1, seed=13, verbose=0)
    tmp = MODEL.with_suffix(".tmp")
    model.save_model(str(tmp))
    tmp.replace(MODEL)
    Path(path).unlink()
    print(f"{MODEL}: trained on {len(train):,} tweets ({sum(t for *_, t in train):,} toxic); "
          f"{len(held_out):,} held out for bench/toxicity_eval.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
