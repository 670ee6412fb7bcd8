#!/usr/bin/env python3
"""Toxicity scorers on data kept apart from their training and from the combiner's tuning:
precision, recall, F1 per scorer and combined; clean prose rejected; speed on the benchmark corpus.

    python bench/toxicity_eval.py [--docs 0]

Test sets (the combiner is fitted on the other halves, scripts/build_toxicity_model.py):
- Davidson tweets, test half: the held-out tweets with row % 10 == 5 (fastText never trained on
  them, the combiner never tuned on them). Same source as fastText's training and, by its README,
  part of alt-profanity-check's: for those two a tuning-like figure. For the Jigsaw BiLSTM and
  the word lists a source they never saw.
- Written comments, test half: the odd lines of data/toxicity/comments (written for this project:
  insults, threats, harassment, and civil comments with the words that trip word lists). The
  even lines tune the combiner: same author, so a tuning figure too.
- Comments written later (data/toxicity/comments/README.md), nothing fitted on them: social-media
  replies (social_*.txt; read while choosing the combiner's weighting and writing the abuse
  patterns), forum and news comments (forum_*.txt; patterns revised after their first reading),
  comments sealed until the patterns were first fixed (sealed_*.txt; read once, then used to pick
  the threshold rule's margin and the combiner's two-step fit), comments written before the
  patterns' last change and scored once after it (blind_*.txt), comments written after every change
  and scored once (unseen_*.txt), and comments committed before a pattern change that, scored once
  with and without it, moved them not at all and was dropped (fresh_*.txt): the last three are the
  nearest to held-out figures, by the same author.
- Clean prose, where every rejection is a false positive: the bundled sample's books, WikiText
  and Debian handbook (9 languages, language from the langid stage), the 17 Gutenberg books kept
  out of the reference, the sample's Python documentation and English handbook pages. The
  combiner's clean side was the reference; none of this. The same English prose again in passages
  of 40-100 words (a book passage's or a comment's length), where one rough line weighs more.
Writes bench/TOXICITY.md. Needs `make toxicity-model`.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.readers import ReadOptions, expand_inputs, read_file  # noqa: E402
from scripts.build_toxicity_model import (LATER_COMMENTS, comments, later_comments, load, passages,  # noqa: E402
                                          raw_text, split, tuning)
from stages.toxicity import Scorers, ToxicityConfig  # noqa: E402

CLEAN = ["books", "wiki", "handbook"]
LABELS = {"tox_words": "LDNOOBW word fraction / 0.05", "tox_fasttext": "fastText (Davidson train split, reference passages)",
          "tox_profanity": "alt-profanity-check", "tox_jigsaw": "Jigsaw BiLSTM",
          "tox_abuse": "abuse patterns, any match (clean: texts with a match)",
          "max": "max of the four (the old rule; 0.9 was its default)", "toxicity_score": "**logistic combiner (the stage)**"}


def sample_clean() -> list[str]:
    out = []
    for part in CLEAN:
        for ref in expand_inputs([(str(REPO / "data/sample/corpus" / part), None)]):
            for t in read_file(ref, ReadOptions()):
                out += [x for x in t.column("text").to_pylist() if x]
    return out


def clean_prose() -> dict[str, list[str]]:
    from bench.pii_eval import clean_sets

    sets = {"sample: books, WikiText, Debian handbook (9 languages)": sample_clean()}
    sets.update(clean_sets())
    return sets


def prf(pred: np.ndarray, gold: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & gold).sum())
    p, r = tp / max(int(pred.sum()), 1), tp / max(int(gold.sum()), 1)
    return p, r, 2 * p * r / max(p + r, 1e-9)


def scores(scorers: Scorers, texts: list[str], langs: list[str | None]) -> dict[str, np.ndarray]:
    s = scorers.score(texts, langs)
    s["max"] = np.stack([s[k] for k in ("tox_words", "tox_fasttext", "tox_profanity", "tox_jigsaw")]).max(axis=0)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=0, help="documents of the benchmark corpus timed (0: all)")
    args = ap.parse_args()
    from stages.langid import Langid, LangidConfig

    scorers = Scorers(ToxicityConfig())
    langid = Langid(LangidConfig())
    langid.setup()
    _, held = split(load())
    _, test = tuning(held)
    raw = raw_text([r for r, *_ in test])
    labelled = {"Davidson tweets, test half": ([raw[r] for r, *_ in test], np.array([y for *_, y in test]))}
    _, comment_test = comments()
    labelled["written comments, test half"] = ([t for t, _ in comment_test], np.array([y for _, y in comment_test]))
    for name, label in LATER_COMMENTS.items():
        later = later_comments(name)
        labelled[label] = ([t for t, _ in later], np.array([y for _, y in later]))
    results = {name: (scores(scorers, texts, [None] * len(texts)), gold) for name, (texts, gold) in labelled.items()}
    clean, english = {}, []
    for name, texts in clean_prose().items():
        langs = list(langid.predict(pa.array(texts, pa.string()))[0])
        clean[name] = scores(scorers, texts, langs)
        english += [t for t, lang in zip(texts, langs) if lang == "en"]
    short = passages(english, random.Random(3))
    passage_scores = scores(scorers, short, ["en"] * len(short))
    n_clean = sum(len(s["max"]) for s in clean.values())
    lines = ["# Toxicity scorers", "", "`python bench/toxicity_eval.py` (needs `make toxicity-model`). "
             + ", ".join(f"{name}: {len(g):,} ({int(g.sum()):,} toxic)" for name, (_, g) in results.items())
             + f"; clean prose: {n_clean:,} documents (" + ", ".join(f"{k} {len(v['max'])}" for k, v in clean.items())
             + f"), and its English documents in {len(short):,} passages of 40-100 words.",
             "", "| scorer | threshold | " + " | ".join(f"{n}: P / R / F1" for n in results)
             + " | clean documents rejected | clean passages rejected |", "|---|---|" + "---|" * (len(results) + 2)]
    for name in ("tox_words", "tox_fasttext", "tox_profanity", "tox_jigsaw", "tox_abuse", "max", "toxicity_score"):
        # the patterns' score is a share of matched words, not a probability: any match is the row
        for th in [0.0] if name == "tox_abuse" else sorted({0.5, ToxicityConfig().max_toxicity, 0.8, 0.9}):
            cells = []
            for s, gold in results.values():
                p, r, f = prf(s[name] > th, gold)
                cells.append(f"{p:.3f} / {r:.3f} / **{f:.3f}**")
            fp = sum(int((s[name] > th).sum()) for s in clean.values()) / max(n_clean, 1)
            lines.append(f"| {LABELS[name]} | {th} | " + " | ".join(cells)
                         + f" | {100 * fp:.2f} % | {100 * (passage_scores[name] > th).mean():.2f} % |")
            print(lines[-1])
    default = ToxicityConfig().max_toxicity
    lines += ["", f"Clean documents the stage rejects at its default `max_toxicity: {default}`, by set:", ""]
    for name, s in clean.items():
        hit = np.flatnonzero(s["toxicity_score"] > default)
        lines.append(f"- {name}: {len(hit)} of {len(s['max'])}")
    lines.append(f"- passages of 40-100 words of the English ones: {int((passage_scores['toxicity_score'] > default).sum())} "
                 f"of {len(short):,}")
    import pyarrow.parquet as pq

    corpus = sorted((REPO / "bench/corpus/parquet").glob("*.parquet"))
    if corpus:
        texts = [t for p in corpus for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]
        texts = texts[: args.docs] if args.docs else texts
        mb = sum(len(t.encode()) for t in texts) / 1e6
        t0 = time.perf_counter()
        for i in range(0, len(texts), 512):
            scorers.score(texts[i:i + 512], [None] * len(texts[i:i + 512]))
        sec = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lines += ["", f"Speed, one core, every document scored as English (the models all run), {len(texts):,} documents "
                  f"({mb:.1f} MB) of `bench/corpus/parquet`: {len(texts) / sec:,.0f} docs/s, {mb / sec:.2f} MB/s per core; "
                  f"peak RSS {rss:.0f} MB."]
        print(lines[-1])
    (REPO / "bench/TOXICITY.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
