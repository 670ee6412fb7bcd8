#!/usr/bin/env python3
"""line_dedup beside datatrove's sentence dedup, whole command against whole command, and what it
does to the quality stage's keep rate on web pages.

    python bench/bench_line_dedup.py [--mb 100] [--repeats 3] [--workers 2] [--no-peer]

Speed: the peer corpus (bench_io.py builds it), `curate run` of read + line_dedup against
datatrove 0.10.1's SentenceDedupSignature -> SentenceFindDedups -> SentenceDedupFilter through
../shared/tools/peer_bench/run_datatrove.py (`--pipelines sent`), both with `--workers` workers,
alternating, `--repeats` times; whole-command wall time (start-up included) of each, medians.
The two do related, not identical, work: datatrove drops spans of 3 sentences repeated anywhere
in the corpus; line_dedup drops lines found in more than `max_occurrences` (10) documents.

Effect on the web pages: read -> normalize -> [line_dedup] -> langid -> quality, inline, on the
Common Crawl WARC/WET samples of ../shared/data and the bundled sample's web, crawl and HTML
pages: documents and MB the quality stage keeps with and without line_dedup before it.
Writes bench/RESULTS-line-dedup.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dedup import peer_command  # noqa: E402
from bench.bench_io import SHARED, WORK, build_corpus, run_measured  # noqa: E402

CURATE = str(Path(sys.executable).parent / "curate")
WEB = [SHARED / "data/cc-warc-samples", *(REPO / "data/sample/corpus" / d
                                         for d in ("crawl", "web", "pydoc", "handbook-html", "handbook"))]


def ours(files: list[Path], workers: int) -> tuple[float, float, dict]:
    out, config = WORK / "curate-line-dedup", WORK / "line_dedup.yaml"
    shutil.rmtree(out, ignore_errors=True)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("stages:\n  - name: read\n  - name: line_dedup\n")
    wall, rss, _ = run_measured([CURATE, "-q", "run", str(config), "--output", str(out), "--workers", str(workers),
                                 "--input", *map(str, files)], env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    return wall, rss, json.loads((out / "01-line_dedup/stats.json").read_text())


def theirs(corpus: Path, workers: int) -> tuple[float, float, dict]:
    out = WORK / "datatrove-sent.json"
    wall, rss, _ = run_measured(peer_command(corpus, workers, "sent", out))
    return wall, rss, json.loads(out.read_text())["pipelines"][0]


def keep_rates(with_lines: bool) -> dict:
    """Per input directory: documents and MB in and kept by `quality`."""
    out = WORK / f"web-{'lines' if with_lines else 'plain'}"
    shutil.rmtree(out, ignore_errors=True)
    stages = "  - name: read\n  - name: normalize\n" + ("  - name: line_dedup\n" if with_lines else "") + \
        "  - name: langid\n  - name: quality\n"
    config = WORK / f"web-{with_lines}.yaml"
    config.write_text("input:\n" + "".join(f"  - {{path: {p}, source: {p.name}}}\n" for p in WEB if p.exists())
                      + "stages:\n" + stages)
    run_measured([CURATE, "-q", "run", str(config), "--output", str(out), "--inline"])
    import duckdb

    q = next(out.glob("*-quality"))
    first = next(out.glob("*-normalize"))
    con = duckdb.connect()
    rows = {}
    for name, where in (("in", first / "kept"), ("kept", q / "kept")):
        for src, n, mb in con.sql(f"select source, count(*), sum(strlen(text)) / 1e6 from read_parquet('{where}/*.parquet', "
                                  "union_by_name=true) group by source").fetchall():
            rows.setdefault(src, {})[name] = (n, mb)
    if with_lines:
        lines = next(out.glob("*-line_dedup"))
        for src, removed, changed in con.sql(
                f"select source, sum(line_dedup_lines_removed), count_if(line_dedup_lines_removed > 0) from "
                f"read_parquet('{lines}/*/*.parquet', union_by_name=true) group by source").fetchall():
            rows[src]["lines"] = (int(removed), int(changed))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    if not (SHARED / "data").is_dir():
        print(f"skipped: {SHARED}/data not found")
        return 0
    pq_files, _, docs, text_mb = build_corpus(args.mb)
    corpus = pq_files[0].parent
    runs: dict[str, list] = {"curate": [], "datatrove": []}
    for rep in range(args.repeats):
        runs["curate"].append(ours(pq_files, args.workers))
        print(f"  curate read + line_dedup run {rep + 1}: {runs['curate'][-1][0]:.1f} s", flush=True)
        if not args.no_peer:
            runs["datatrove"].append(theirs(corpus, args.workers))
            print(f"  datatrove sentence dedup run {rep + 1}: {runs['datatrove'][-1][0]:.1f} s", flush=True)
    plain, lines = keep_rates(False), keep_rates(True)
    shutil.rmtree(WORK, ignore_errors=True)

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in runs[name])

    c = runs["curate"][0][2]
    table = ["| tool | whole command (s) | docs/s/core (whole command) | MB/s/core | peak RSS MiB | documents changed or removed |",
             "|---|---:|---:|---:|---:|---|",
             f"| curate read + line_dedup | {med('curate', 0):.1f} | {docs / med('curate', 0) / args.workers:,.0f} | "
             f"{text_mb / med('curate', 0) / args.workers:.2f} | {med('curate', 1):,.0f} | "
             f"{c['extra']['frequent_lines']:,} frequent lines; {c['bytes_in'] - c['bytes_kept'] - c['bytes_rejected']:,} "
             f"bytes of lines removed; {c['rejected_total']:,} documents left empty |"]
    if runs["datatrove"]:
        d = runs["datatrove"][0][2]
        table.append(f"| datatrove sentence dedup | {med('datatrove', 0):.1f} | {docs / med('datatrove', 0) / args.workers:,.0f} | "
                     f"{text_mb / med('datatrove', 0) / args.workers:.2f} | {med('datatrove', 1):,.0f} | "
                     f"{d['docs_in'] - d['docs_out']:,} documents removed; {text_mb - d['text_mb_out']:.1f} MB of text removed |")
        table.append(f"\nSpeed ratio, whole command: **{med('datatrove', 0) / med('curate', 0):.1f}x**.")
    web = ["| input | documents in | lines removed (documents changed) | kept by quality without line_dedup | "
           "with line_dedup | MB kept without | MB kept with |", "|---|---:|---:|---:|---:|---:|---:|"]
    for src in sorted(plain):
        p, w = plain[src], lines.get(src, {})
        removed, changed = w.get("lines", (0, 0))
        web.append(f"| {src} | {p['in'][0]:,} | {removed:,} ({changed:,}) | {p.get('kept', (0, 0))[0]:,} | "
                   f"{w.get('kept', (0, 0))[0]:,} | {p.get('kept', (0, 0))[1]:.3f} | {w.get('kept', (0, 0))[1]:.3f} |")
    text = "\n".join([
        "# line_dedup beside datatrove's sentence dedup", "",
        f"`python bench/bench_line_dedup.py --mb {args.mb:g} --repeats {args.repeats} --workers {args.workers}` on "
        f"{datetime.date.today()}, {os.cpu_count()} cores; corpus {docs:,} documents, {text_mb:.1f} MB; medians of "
        f"{args.repeats}, alternating.", "", *table, "",
        "## Quality keep rate of web pages, with and without line_dedup before it", "", *web, ""])
    path = REPO / "bench/RESULTS-line-dedup.md"
    path.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
