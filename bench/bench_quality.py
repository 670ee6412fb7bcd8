#!/usr/bin/env python3
"""langid + quality against datatrove's FineWeb filter chain, same corpus, same invocation.

    python bench/bench_quality.py [--repeats 3] [--workers 2] [--no-peer]

Ours: `read -> langid (languages [en], min_score 0.65) -> quality -> perplexity` (defaults; the
comparison with datatrove's chain uses langid + quality, its equivalent), `--repeats` runs,
medians of each stage's seconds. datatrove 0.10.1, one run through
../shared/tools/peer_bench/run_datatrove.py: LanguageFilter(en, 0.65) -> GopherRepetition ->
GopherQuality -> C4Quality(filter_no_terminal_punct=False) -> FineWebQuality, with the same
lid.176.ftz. Then the kept sets are compared, and every disagreement gets its reason on each
side: ours from our rejected rows, datatrove's by replaying its filters (in its venv) on those
documents. Writes bench/RESULTS-quality.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dedup import PEER_VENV  # noqa: E402
from bench.bench_io import SHARED, WORK, build_corpus, run_measured  # noqa: E402

CONFIG = """stages:
  - name: read
  - name: langid
    languages: [en]
    min_score: 0.65
  - name: quality
  - name: perplexity
"""

REPLAY = r"""
import json, sys
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter, LanguageFilter)
lid = sys.argv[1]
lang = LanguageFilter(languages=["en"], language_threshold=0.65)
lang.model.MODEL_URL = "file://" + lid
chain = [("language", lang), ("gopher_repetition", GopherRepetitionFilter()), ("gopher_quality", GopherQualityFilter()),
         ("c4", C4QualityFilter(filter_no_terminal_punct=False)), ("fineweb", FineWebQualityFilter())]
for line in sys.stdin:
    rec = json.loads(line)
    doc = Document(text=rec["text"], id=rec["id"])
    why = None
    for name, f in chain:
        r = f.filter(doc)
        ok, reason = (r, None) if isinstance(r, bool) else r
        if not ok:
            why = f"{name}:{reason}" if reason else name
            break
    print(json.dumps({"id": rec["id"], "datatrove": why}))
"""


def ours(files: list[Path], workers: int) -> dict:
    out = WORK / "curate-quality"
    shutil.rmtree(out, ignore_errors=True)
    config = WORK / "quality.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    _, rss, _ = run_measured([str(Path(sys.executable).parent / "curate"), "-q", "run", str(config), "--output",
                              str(out), "--workers", str(workers), "--input", *map(str, files)], env=env)
    stats = {d.name: json.loads((d / "stats.json").read_text()) for d in sorted(out.iterdir()) if d.is_dir()}
    return {"out": out, "rss": rss, "langid": stats["01-langid"], "quality": stats["02-quality"],
            "perplexity": stats["03-perplexity"]}


def ids(directory: Path) -> set[str]:
    return {i for f in directory.glob("*.parquet") for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    pq_files, _, docs, text_mb = build_corpus(100)
    corpus = pq_files[0].parent
    runs = []
    for rep in range(args.repeats):
        r = ours(pq_files, args.workers)
        runs.append(r)
        print(f"  run {rep + 1}: langid {r['langid']['seconds']:.1f} s, quality {r['quality']['seconds']:.1f} s, "
              f"perplexity {r['perplexity']['seconds']:.1f} s, "
              f"kept {r['quality']['kept']:,}", flush=True)
    last = runs[-1]
    sec = {s: statistics.median(r[s]["seconds"] for r in runs) for s in ("langid", "quality", "perplexity")}
    chain_s = sec["langid"] + sec["quality"]
    lines = ["| pipeline | docs in | kept | seconds | docs/s/core | MB/s/core | peak RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines.append(f"| curate langid | {docs:,} | {last['langid']['kept']:,} | {sec['langid']:.1f} | "
                 f"{docs / sec['langid'] / args.workers:,.0f} | {text_mb / sec['langid'] / args.workers:.2f} | |")
    lines.append(f"| curate quality (on langid's {last['quality']['in']:,}) | {last['quality']['in']:,} | "
                 f"{last['quality']['kept']:,} | {sec['quality']:.1f} | "
                 f"{last['quality']['in'] / sec['quality'] / args.workers:,.0f} | "
                 f"{last['quality']['bytes_in'] / 1e6 / sec['quality'] / args.workers:.2f} | |")
    lines.append(f"| curate perplexity (annotates; on quality's {last['perplexity']['in']:,}) | "
                 f"{last['perplexity']['in']:,} | {last['perplexity']['kept']:,} | {sec['perplexity']:.1f} | "
                 f"{last['perplexity']['in'] / sec['perplexity'] / args.workers:,.0f} | "
                 f"{last['perplexity']['bytes_in'] / 1e6 / sec['perplexity'] / args.workers:.2f} | |")
    lines.append(f"| curate chain langid + quality | {docs:,} | {last['quality']['kept']:,} | {chain_s:.1f} | "
                 f"{docs / chain_s / args.workers:,.0f} | {text_mb / chain_s / args.workers:.2f} | "
                 f"{statistics.median(r['rss'] for r in runs):,.0f} |")
    agreement = ""
    if not args.no_peer:
        lid = subprocess.run([sys.executable, "-c", "from stages.langid import model_path; print(model_path())"],
                             capture_output=True, text=True, check=True, cwd=REPO).stdout.strip()
        out = WORK / "datatrove.json"
        subprocess.run([str(PEER_VENV / "bin/python"), str(SHARED / "tools/peer_bench/run_datatrove.py"), "--input",
                        str(corpus), "--work", str(WORK / "dt"), "--out", str(out), "--pipelines", "filter", "--tasks",
                        str(args.workers), "--workers", str(args.workers), "--lid-model", lid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = json.loads(out.read_text())["pipelines"][0]
        lines.append(f"| datatrove chain | {dt['docs_in']:,} | {dt['docs_out']:,} | {dt['seconds']:.1f} | "
                     f"{dt['docs_per_s_per_core']:,.0f} | {dt['mb_per_s'] / args.workers:.2f} | {dt['peak_rss_mib']:,.0f} |")
        ratio = (docs / chain_s / args.workers) / dt["docs_per_s_per_core"]
        dt_kept = {i for f in (WORK / "dt" / "filter").rglob("*.parquet") for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}
        our_kept = ids(last["out"] / "02-quality" / "kept")  # perplexity only annotates
        only_ours, only_theirs = our_kept - dt_kept, dt_kept - our_kept
        our_reason = {}
        for stage in ("01-langid", "02-quality"):
            for f in (last["out"] / stage / "rejected").glob("*.parquet"):
                for r in pq.read_table(f, columns=["id", "reject_reason"]).to_pylist():
                    our_reason[r["id"]] = r["reject_reason"]
        texts = {}
        for f in pq_files:
            for r in pq.read_table(f, columns=["id", "text"]).to_pylist():
                if r["id"] in only_ours or r["id"] in only_theirs:
                    texts[r["id"]] = r["text"]
        replay = subprocess.run([str(PEER_VENV / "bin/python"), "-c", REPLAY, lid], capture_output=True, text=True,
                                input="".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in sorted(texts.items())),
                                check=True)
        their_reason = {j["id"]: j["datatrove"] for j in map(json.loads, replay.stdout.splitlines())}
        we_drop = Counter(f"ours {our_reason.get(i)} / datatrove keeps" for i in only_theirs)
        they_drop = Counter(f"datatrove {their_reason.get(i)} / ours keeps" for i in only_ours)
        agree = docs - len(only_ours) - len(only_theirs)
        agreement = (f"\nSame decision on {agree:,} of {docs:,} documents ({100 * agree / docs:.2f} %); kept by both "
                     f"{len(our_kept & dt_kept):,}, only by us {len(only_ours):,}, only by datatrove {len(only_theirs):,}. "
                     f"Speed ratio of the chain, docs/s per core: {ratio:.1f}x.\n\nDisagreements, by reason on each side:\n\n"
                     + "\n".join(f"- {k}: {v}" for k, v in (we_drop + they_drop).most_common(25)) + "\n")
    shutil.rmtree(WORK, ignore_errors=True)
    text = (f"# bench/bench_quality.py results\n\n{datetime.date.today().isoformat()} · {os.cpu_count()} cores · corpus "
            f"{docs:,} docs, {text_mb:.1f} MB · {args.workers} workers each side · ours: medians of {args.repeats} runs "
            f"(stage seconds from stats.json); datatrove 0.10.1: one run, same lid.176.ftz. "
            f"Rerun: `python bench/bench_quality.py`.\n\n" + "\n".join(lines) + "\n" + agreement)
    (REPO / "bench/RESULTS-quality.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
