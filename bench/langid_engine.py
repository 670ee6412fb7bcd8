#!/usr/bin/env python3
"""langid's two lid.176 engines side by side: `numpy` (stages/lid176.py, the default) and
`fasttext` (the fastText library), on the benchmark corpus, one process, batches of 1,024 as the
stage reads them.

    python bench/langid_engine.py [--mb 100]

Per engine: seconds in lid.176 alone (top 5 labels) and in the stage's whole `process` (script
check and Lingua included); between them: texts whose top label or top-5 list differ, the largest
probability difference, and the stage's keep/reject decisions and reasons under the filter-chain
config (`languages: [en]`, 0.65) and the default one (every language, 0.65). Writes
bench/RESULTS-langid-engine.md. Stage-internal seconds: a diagnostic, not a user's wait
(bench/bench_whole.py has that).
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_io import build_corpus  # noqa: E402
from stages.langid import Langid, LangidConfig  # noqa: E402

CONFIGS = {"filter chain (en, 0.65)": {"languages": ["en"], "min_score": 0.65}, "default (all, 0.65)": {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    args = ap.parse_args()
    files, _, docs, mb = build_corpus(args.mb)
    batches = [b for f in files for b in pq.read_table(f, columns=["id", "text"]).to_batches(1024)]
    stages = {(engine, name): Langid(LangidConfig(engine=engine, **cfg))
              for engine in ("numpy", "fasttext") for name, cfg in CONFIGS.items()}
    for stage in stages.values():
        stage.setup()
    seconds: dict[str, float] = {}
    top: dict[str, list] = {}
    for engine in ("numpy", "fasttext"):
        stage = stages[(engine, next(iter(CONFIGS)))]
        start = time.perf_counter()
        top[engine] = [stage.top_labels(b.column("text"), 5) for b in batches]
        seconds[f"{engine} lid.176"] = time.perf_counter() - start
    differ_top1 = differ_top5 = 0
    max_diff = 0.0
    for (nl, np_), (fl, fp) in zip(top["numpy"], top["fasttext"]):
        differ_top1 += int(np.sum(nl[:, 0] != fl[:, 0]))
        differ_top5 += int(np.sum((nl != fl).any(axis=1)))
        max_diff = max(max_diff, float(np.abs(np_ - fp).max()))
    rows = []
    for name in CONFIGS:
        outcome = {}
        for engine in ("numpy", "fasttext"):
            stage = stages[(engine, name)]
            start = time.perf_counter()
            decisions = [stage.process(pa.Table.from_batches([b])) for b in batches]
            seconds[f"{engine} process, {name}"] = time.perf_counter() - start
            outcome[engine] = ([r for d in decisions for r in d.reject.to_pylist()],
                               [l for d in decisions for l in d.table.column("language").to_pylist()])
        changed = sum(a != b for a, b in zip(outcome["numpy"][0], outcome["fasttext"][0]))
        relabelled = sum(a != b for a, b in zip(outcome["numpy"][1], outcome["fasttext"][1]))
        kept = sum(r is None for r in outcome["numpy"][0])
        rows.append(f"| {name} | {kept:,} | {changed} | {relabelled} |")
    text = "\n".join([
        "# langid: the numpy lid.176 beside fastText's", "",
        f"`python bench/langid_engine.py --mb {args.mb:g}` on {datetime.date.today()}: {platform.machine()}, "
        f"one process, {docs:,} documents ({mb:.1f} MB) of the benchmark corpus in batches of 1,024.", "",
        "| | seconds (stage-internal, one core) |", "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in seconds.items()], "",
        f"lid.176 speed-up: **{seconds['fasttext lid.176'] / seconds['numpy lid.176']:.1f}x**. "
        f"Texts whose top label differs: {differ_top1}; whose top-5 list differs: {differ_top5}; "
        f"largest probability difference: {max_diff:.1e}.", "",
        "| config | kept | decisions or reasons that differ | `language` values that differ |", "|---|---:|---:|---:|",
        *rows, "", *spelling_cost(batches, stages[("numpy", "default (all, 0.65)")])])
    (REPO / "bench/RESULTS-langid-engine.md").write_text(text)
    print(text)


def spelling_cost(batches: list, stage: Langid) -> list[str]:
    """Lines on what the spelling dictionaries cost the default config: the stage's `process` without
    them, with them in a process that has loaded none (as a fresh worker), and again (words remembered);
    then each dictionary's loading time alone."""
    from stages import langid_spelling

    plain = Langid(LangidConfig(dictionaries=False))
    plain.setup()
    langid_spelling.SPELLERS.__init__()  # a fresh process: nothing loaded, nothing remembered
    seconds, labels = {}, {}
    for name, st in (("without dictionaries", plain), ("with them, first pass (loads them)", stage),
                     ("with them, second pass", stage)):
        start = time.perf_counter()
        labels[name] = [l for b in batches for l in st.process(pa.Table.from_batches([b])).table.column("language").to_pylist()]
        seconds[name] = time.perf_counter() - start
    before, after = labels["without dictionaries"], labels["with them, second pass"]
    reached = sum(l in langid_spelling.GROUP_OF for l in before)
    changed = sum(a != b for a, b in zip(before, after))
    langid_spelling.SPELLERS.__init__()
    load = {}
    for code in langid_spelling.DICTIONARIES:
        start = time.perf_counter()
        langid_spelling.SPELLERS.dictionary(code)
        load[code] = time.perf_counter() - start
    return ["## Spelling dictionaries (default config, numpy engine)", "",
            f"{reached:,} documents reach the dictionaries (read as one of {', '.join(langid_spelling.GROUP_OF)}); "
            f"{changed} change language.", "", "| the stage's `process` | seconds |", "|---|---:|",
            *[f"| {k} | {v:.2f} |" for k, v in seconds.items()], "",
            "Loading each dictionary alone: " + ", ".join(f"{c} {v:.1f} s" for c, v in load.items())
            + f" ({sum(load.values()):.1f} s in all).", ""]


if __name__ == "__main__":
    main()
