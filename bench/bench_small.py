#!/usr/bin/env python3
"""Whole-command time of `curate stage` on small inputs: one document and 1 MB, with the default
executor (`auto`: in the driver below 4 MiB of stage input) against `--executor ray`.

    python bench/bench_small.py [--repeats 3] [--stage normalize]

Inputs come from the bundled sample (no ../shared needed): one fortune, and the first 1 MB of
man pages as JSONL. Medians of `--repeats`, alternating. Writes bench/RESULTS-small.md.
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
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench/work/small"
CURATE = str(Path(sys.executable).parent / "curate")


def inputs() -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    with pa.input_stream(str(REPO / "data/sample/corpus/manpages/manpages.jsonl.zst"), compression="zstd") as f:
        records = [json.loads(line) for line in f.read().decode().splitlines()]
    one, mb, size = WORK / "one.jsonl", WORK / "1mb.jsonl", 0
    one.write_text(json.dumps(records[0], ensure_ascii=False) + "\n")
    with open(mb, "w") as out:
        for r in records:
            line = json.dumps(r, ensure_ascii=False) + "\n"
            if size + len(line.encode()) > 1_000_000:
                break
            out.write(line)
            size += len(line.encode())
    return {"one document": one, "1 MB": mb}


def timed(stage: str, path: Path, executor: str) -> float:
    out = WORK / f"out-{executor}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([CURATE, "-q", "stage", stage, "--input", str(path), "--output", str(out), "--executor", executor],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stage", default="normalize")
    args = ap.parse_args()
    rows = []
    for name, path in inputs().items():
        times: dict[str, list[float]] = {"auto": [], "ray": []}
        for _ in range(args.repeats):
            for executor in times:
                times[executor].append(timed(args.stage, path, executor))
        auto, ray = (statistics.median(times[e]) for e in ("auto", "ray"))
        rows.append(f"| {name} ({path.stat().st_size:,} bytes) | {auto:.2f} | {ray:.2f} | {ray / auto:.1f}x |")
        print(rows[-1], flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    text = "\n".join([
        f"# `curate stage {args.stage}` on small inputs, whole command", "",
        f"`python bench/bench_small.py --repeats {args.repeats} --stage {args.stage}` on {datetime.date.today()}, "
        f"{os.cpu_count()} cores; medians of {args.repeats}, alternating; `read` then the stage.", "",
        "| input | default (`auto`: in the driver) s | `--executor ray` s | ratio |", "|---|---:|---:|---:|", *rows, ""])
    (REPO / "bench/RESULTS-small.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
