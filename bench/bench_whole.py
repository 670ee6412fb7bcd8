#!/usr/bin/env python3
"""What a user waits for: whole-command wall time of curate beside datatrove, job by job.

    python bench/bench_whole.py [--mb 100] [--repeats 3] [--workers 2] [--jobs filter,minhash,exact,url] [--out F]

Each job on the peer corpus (`make_corpus.py --mb MB` from ../shared/tools/peer_bench, built once
under bench/corpus by bench_io.py), both tools with `--workers` workers, the whole process timed
from launch to exit (interpreter and Ray or pool start-up, reading, writing included), run after
run alternating which tool goes first, `--repeats` times; medians. curate runs as a user would:
`curate run CONFIG --input corpus/*.parquet` with the job's stages after `read` (the default
executor: Ray for inputs this size). datatrove 0.10.1 runs through
../shared/tools/peer_bench/run_datatrove.py in bench/peer-venv (made on first use). NeMo Curator
and Dolma are not run here (their venvs are not made by this script; their figures on this
machine are in ../shared/tools/peer_bench/PEERS.md). Writes bench/RESULTS-whole.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dedup import peer_command  # noqa: E402
from bench.bench_io import WORK, build_corpus, run_measured  # noqa: E402

CURATE = str(Path(sys.executable).parent / "curate")
JOBS = {  # our stages after read, and what they are beside datatrove's pipeline of the same name
    "filter": ("  - {name: langid, languages: [en], min_score: 0.65}\n  - {name: quality}\n",
               "langid en >= 0.65 + Gopher, C4, FineWeb rules"),
    "minhash": ("  - {name: minhash_dedup}\n", "MinHash dedup, word 5-grams, 14 x 8"),
    "exact": ("  - {name: exact_dedup}\n", "exact dedup of the text"),
    "url": ("  - {name: url_dedup}\n", "URL dedup"),
}


def ours(job: str, files: list[Path], workers: int) -> tuple[float, float, int]:
    out, config = WORK / f"whole-{job}", WORK / f"whole-{job}.yaml"
    shutil.rmtree(out, ignore_errors=True)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("stages:\n  - name: read\n" + JOBS[job][0])
    wall, rss, _ = run_measured([CURATE, "-q", "run", str(config), "--output", str(out), "--workers", str(workers),
                                 "--input", *map(str, files)], env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    last = sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))[-1]
    return wall, rss, json.loads((last / "stats.json").read_text())["kept"]


def theirs(job: str, corpus: Path, workers: int) -> tuple[float, float, int]:
    out = WORK / f"whole-datatrove-{job}.json"
    wall, rss, _ = run_measured(peer_command(corpus, workers, job, out))
    return wall, rss, json.loads(out.read_text())["pipelines"][0]["docs_out"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--out", default=str(REPO / "bench/RESULTS-whole.md"), help="where the table goes")
    args = ap.parse_args()
    jobs = args.jobs.split(",")
    files, _, docs, mb = build_corpus(args.mb)
    corpus = files[0].parent
    runs: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    for r in range(args.repeats):
        for job in jobs:
            order = ("curate", "datatrove") if r % 2 == 0 else ("datatrove", "curate")
            for tool in order:
                res = ours(job, files, args.workers) if tool == "curate" else theirs(job, corpus, args.workers)
                runs.setdefault((job, tool), []).append(res)
                print(f"{job:8s} {tool:10s} run {r + 1}: {res[0]:6.1f} s, {res[1]:,.0f} MiB, {res[2]:,} kept", flush=True)

    def med(job: str, tool: str, k: int) -> float:
        return statistics.median(x[k] for x in runs[(job, tool)])

    versions = {p: metadata.version(p) for p in ("curate", "ray", "pyarrow")}
    lines = ["# Whole command, beside datatrove", "",
             f"`python bench/bench_whole.py --mb {args.mb:g} --repeats {args.repeats} --workers {args.workers}` on "
             f"{datetime.date.today()}: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + ", datatrove 0.10.1 (bench/peer-venv). "
             f"Corpus: {docs:,} documents, {mb:.1f} MB of text, Parquet (`make_corpus.py --mb {args.mb:g}`). Both tools "
             f"{args.workers} workers; wall time of the whole process from launch to exit, medians of {args.repeats} "
             "alternating runs; peak RSS summed over the process tree.", "",
             "| job | curate command | curate s | datatrove s | ratio (datatrove / curate) | curate kept | datatrove kept "
             "| peak RSS MiB curate / datatrove |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for job in jobs:
        c, d = med(job, "curate", 0), med(job, "datatrove", 0)
        lines.append(f"| {JOBS[job][1]} | `curate run` read + {job} stages | {c:.1f} | {d:.1f} | **{d / c:.1f}x** | "
                     f"{runs[(job, 'curate')][0][2]:,} | {runs[(job, 'datatrove')][0][2]:,} | "
                     f"{med(job, 'curate', 1):,.0f} / {med(job, 'datatrove', 1):,.0f} |")
    lines += ["", "Every run: " + "; ".join(f"{job} {tool} " + ", ".join(f"{x[0]:.1f}" for x in runs[(job, tool)])
                                              for job in jobs for tool in ("curate", "datatrove")) + " s.", "",
              "The two tools do related, not identical, work: our filter chain keeps documents datatrove's Gopher "
              "alphabetic-words rule rejects (bench/RESULTS-quality.md); our URL dedup drops `#fragments` and "
              "tracking parameters before comparing, so it removes more; curate's commands include the `read` "
              "stage, which copies the Parquet input into its own parts."]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
