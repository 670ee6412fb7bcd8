#!/usr/bin/env python3
"""Read -> write throughput of a pass-through pipeline (`read` alone) against plain pyarrow.

    python bench/bench_io.py [--mb 100] [--repeats 3] [--workers 2]

Corpus: `../shared/tools/peer_bench/make_corpus.py` over `../shared/data` (the same files the
datatrove peer benchmark uses), ~100 MB of text in 8 Parquet files, plus the same rows as
JSONL.zst. Built once under bench/corpus/ and reused. Skips cleanly if ../shared is absent.

For each format, interleaved, `--repeats` times:
- floor: plain pyarrow in one process, one thread: read every file, write zstd Parquet;
- curate: `curate run` of a config with only the read stage, `--workers` Ray workers.
Reports medians: docs/s and MB/s per core (MB = 1e6 bytes of UTF-8 text), peak RSS of the
whole process tree (driver, Ray daemons and workers), and our ratio to the floor. The curate
figure per core uses the stage's own time (stats.json); end-to-end wall time, Ray start-up
included, is shown beside it. Writes bench/RESULTS-io.md.
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
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CURATE_SHARED", REPO.parent / "shared"))
CORPUS = REPO / "bench/corpus"
WORK = REPO / "bench/work"

FLOOR = r"""
import sys, time, pyarrow as pa, pyarrow.parquet as pq, pyarrow.json as pj
pa.set_cpu_count(1); pa.set_io_thread_count(1)
fmt, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.perf_counter(); docs = 0
for i, f in enumerate(files):
    if fmt == "parquet":
        t = pq.read_table(f, use_threads=False)
    else:
        t = pj.read_json(pa.input_stream(f, compression="zstd"), read_options=pj.ReadOptions(use_threads=False, block_size=16 << 20))
    pq.write_table(t, f"{out}/part-{i:05d}.parquet", compression="zstd", compression_level=3, row_group_size=1024)
    docs += t.num_rows
print(docs, time.perf_counter() - t0)
"""


def status_mib(pid: str, field: str) -> float:
    """A memory field of /proc/PID/status (`VmRSS`, `VmHWM`) in MiB; 0 where the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def session_rss_mib(sid: int) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) != sid:
                continue
        except (OSError, IndexError, ValueError):
            continue
        total += status_mib(entry, "VmRSS")
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB of the process session, stdout) of `cmd`."""
    peak = 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, session_rss_mib(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, peak, out


def build_corpus(mb: float) -> tuple[list[Path], list[Path], int, float]:
    pq_dir, js_dir = CORPUS / "parquet", CORPUS / "jsonl"
    maker = SHARED / "tools/peer_bench/make_corpus.py"
    if not (pq_dir / "manifest.json").is_file():
        if not maker.is_file() or not (SHARED / "data").is_dir():
            print(f"skipped: {SHARED}/data or {maker} not found")
            raise SystemExit(0)
        print(f"building the {mb:g} MB corpus with {maker} …", flush=True)
        subprocess.run([sys.executable, str(maker), "--data", str(SHARED / "data"), "--out", str(pq_dir),
                        "--mb", str(mb)], check=True, stdout=subprocess.DEVNULL)
    built = json.loads((pq_dir / "manifest.json").read_text()).get("args", {}).get("mb")
    if built is not None and float(built) != float(mb):
        raise SystemExit(f"{pq_dir} holds the {built:g} MB corpus, not {mb:g} MB: remove {CORPUS} to build "
                         f"another size (every benchmark shares it)")
    pq_files = sorted(pq_dir.glob("*.parquet"))
    js_dir.mkdir(parents=True, exist_ok=True)
    js_files = []
    for f in pq_files:
        target = js_dir / (f.stem + ".jsonl.zst")
        if not target.is_file():
            tmp = target.with_suffix(".tmp")
            with pa.output_stream(str(tmp), compression="zstd") as out:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=4096):
                    for row in batch.to_pylist():
                        out.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
            tmp.rename(target)
        js_files.append(target)
    docs = sum(pq.ParquetFile(f).metadata.num_rows for f in pq_files)
    text_mb = sum(pc.sum(pc.binary_length(pq.read_table(f, columns=["text"]).column("text"))).as_py()
                  for f in pq_files) / 1e6
    return pq_files, js_files, docs, text_mb


def floor_run(fmt: str, files: list[Path]) -> dict:
    out = WORK / "floor"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    wall, rss, stdout = run_measured([sys.executable, "-c", FLOOR, fmt, str(out), *map(str, files)])
    docs, secs = stdout.split()
    return {"docs": int(docs), "seconds": float(secs), "busy": float(secs), "wall": wall, "rss": rss, "cores": 1}


def curate_run(files: list[Path], workers: int) -> dict:
    out = WORK / "curate"
    shutil.rmtree(out, ignore_errors=True)
    config = WORK / "passthrough.yaml"
    config.write_text("stages:\n  - name: read\n")
    curate = str(Path(sys.executable).parent / "curate")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    wall, rss, _ = run_measured([curate, "-q", "run", str(config), "--output", str(out), "--workers",
                                 str(workers), "--input", *map(str, files)], env=env)
    stats = json.loads((out / "00-read/stats.json").read_text())
    assert stats["in"] == stats["kept"] + stats["rejected_total"]
    return {"docs": stats["in"], "seconds": stats["seconds"], "busy": stats["worker_seconds"], "wall": wall,
            "rss": rss, "cores": workers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    pq_files, js_files, docs, text_mb = build_corpus(args.mb)
    print(f"corpus: {docs:,} docs, {text_mb:.1f} MB text, {len(pq_files)} files per format", flush=True)
    results: dict[tuple[str, str], list[dict]] = {}
    for fmt, files in (("parquet", pq_files), ("jsonl.zst", js_files)):
        for rep in range(args.repeats):
            for tool, fn in (("pyarrow floor", lambda: floor_run("parquet" if fmt == "parquet" else "jsonl", files)),
                             ("curate read", lambda: curate_run(files, args.workers))):
                r = fn()
                results.setdefault((fmt, tool), []).append(r)
                print(f"  {fmt:<9} {tool:<13} run {rep + 1}: {r['seconds']:.2f} s work, {r['wall']:.2f} s wall, "
                      f"{r['rss']:.0f} MiB", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)

    rows = []
    for (fmt, tool), runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        busy = statistics.median(r["busy"] for r in runs)
        cores = runs[0]["cores"]
        rows.append({"format": fmt, "tool": tool, "docs": runs[0]["docs"], "seconds": secs, "wall": wall,
                     "docs_s_core": runs[0]["docs"] / secs / cores, "mb_s_core": text_mb / secs / cores,
                     "busy_docs_s": runs[0]["docs"] / busy, "busy_mb_s": text_mb / busy,
                     "rss": rss, "cores": cores})
    for r in rows:
        floor = next(f for f in rows if f["format"] == r["format"] and f["tool"] == "pyarrow floor")
        r["ratio"] = r["docs_s_core"] / floor["docs_s_core"]

    header = ("| format | pipeline | cores | docs | work s | wall s | docs/s/core | MB/s/core | busy MB/s/core | peak RSS MiB | per-core vs floor |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [header] + [
        f"| {r['format']} | {r['tool']} | {r['cores']} | {r['docs']:,} | {r['seconds']:.2f} | {r['wall']:.2f} | "
        f"{r['docs_s_core']:,.0f} | {r['mb_s_core']:.1f} | {r['busy_mb_s']:.1f} | {r['rss']:,.0f} | {r['ratio']:.2f} |" for r in rows]
    table = "\n".join(lines)
    print()
    print(table)
    import pyarrow, ray  # noqa: E401 - versions for the record

    machine = f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    (REPO / "bench/RESULTS-io.md").write_text(
        f"# bench/bench_io.py results\n\n"
        f"{datetime.date.today().isoformat()} · {machine} · {platform.processor() or platform.machine()} · "
        f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}, ray {ray.__version__}\n\n"
        f"Corpus: {docs:,} docs, {text_mb:.1f} MB of text (`make_corpus.py --mb {args.mb:g}`), {len(pq_files)} files. "
        f"Medians of {args.repeats} interleaved runs. `work s`: the floor's own loop, or the read stage's time "
        f"in stats.json; `wall s`: the whole command (Ray start-up included for curate). Per-core figures divide by "
        f"the cores used (floor: 1 thread; curate: {args.workers} Ray workers). `busy MB/s/core`: text MB over the time "
        f"spent inside units summed over workers (stats.json `worker_seconds`): the steady-state speed once workers "
        f"are up, without actor start-up. Rerun: `make bench`.\n\n{table}\n")
    print(f"\nwritten to {REPO / 'bench/RESULTS-io.md'}")


if __name__ == "__main__":
    main()
