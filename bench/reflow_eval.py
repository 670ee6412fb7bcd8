#!/usr/bin/env python3
"""What `normalize`'s re-flow of hard-wrapped paragraphs changes, with it on and off.

    python bench/reflow_eval.py

1. The bundled sample through the default pipeline (inline): documents of each source that
   `quality` keeps and that reach `mix` (the filters' verdict; `mix` then samples to its budget).
2. The 100 MB peer corpus (from ../shared, skipped where absent): read -> normalize -> langid ->
   quality, the `bench_quality.py` chain with `normalize` in front. By source (URL host), how many
   documents re-flow touches and how many `quality` decisions it flips: the agreement with
   datatrove's decisions (bench/RESULTS-quality.md) can move by at most that many documents.
Writes bench/REFLOW.md.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_io import CORPUS, SHARED  # noqa: E402
from pipeline.config import load_config, parse_config  # noqa: E402
from pipeline.runner import run_pipeline, stage_dirname  # noqa: E402


def _rows(directory: Path, columns: list[str]) -> list[dict]:
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return []
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files],
                            promote_options="permissive").to_pylist()


def _with_reflow(cfg, on: bool):
    for entry in cfg.stages:
        if entry.name == "normalize":
            entry.config = dataclasses.replace(entry.config, reflow=on)
    return cfg


def sample(work: Path) -> list[str]:
    counts = {}
    for on in (False, True):
        cfg = _with_reflow(load_config(REPO / "configs/default.yaml"), on)
        cfg.output, cfg.executor = str(work / f"sample-{on}"), "inline"
        for entry in cfg.stages:
            if entry.name == "decontaminate":
                entry.config.eval_sets = [str(REPO / p) for p in entry.config.eval_sets]
        cfg.input = [dataclasses.replace(i, path=str(REPO / i.path)) for i in cfg.input]
        run_pipeline(cfg)
        out = Path(cfg.output)
        # by name: a stage's directory number moves when a stage is added in front of it
        names = [entry.name for entry in cfg.stages]
        dirs = {name: out / stage_dirname(names.index(name), name) for name in ("normalize", "langid", "quality", "pii")}
        counts[on] = {name: Counter(r["source"] for r in _rows(dirs[name] / "kept", ["source"]))
                      for name in ("langid", "quality", "pii")}
        counts[on]["joined"] = Counter(r["source"] for r in _rows(dirs["normalize"] / "kept", ["source", "normalize_lines_joined"])
                                       if r["normalize_lines_joined"]) if on else Counter()
    lines = ["| source | documents after langid | kept by quality, re-flow off | on | reach mix, off | on | documents re-flowed |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for source in sorted(counts[True]["langid"]):
        n = counts[True]["langid"][source]
        lines.append(f"| {source} | {n} | {counts[False]['quality'][source]} | **{counts[True]['quality'][source]}** "
                     f"| {counts[False]['pii'][source]} | **{counts[True]['pii'][source]}** | {counts[True]['joined'][source]} |")
    return lines


WEB_STAGES = [{"name": "read"}, {"name": "normalize"}, {"name": "langid", "languages": ["en"], "min_score": 0.65},
              {"name": "quality"}]


HOSTS = {"www.gutenberg.org": "Gutenberg books", "manpages.debian.org": "man pages", "debian-handbook.info": "Debian handbook",
         "docs.python.org": "Python docs", "fortunes.example.org": "fortunes", "www.nltk.org": "NLTK webtext (forums, chat)",
         "unicode.org": "UDHR", "en.wikipedia.org": "Wikipedia"}


def _group(url: str | None) -> str:
    host = urlsplit(url or "").hostname or ""
    if host.startswith("mirror") and host.endswith(".example.net"):
        return "planted copies (mirror hosts)"
    return HOSTS.get(host, "web pages (other hosts)")


def web(work: Path) -> list[str]:
    files = sorted((CORPUS / "parquet").glob("*.parquet"))
    if not files:
        return [f"Peer corpus: skipped ({CORPUS}/parquet not built: run `python bench/bench_quality.py` once, "
                f"it needs {SHARED}/data)."]
    group = {r["id"]: _group(r["url"]) for f in files for r in pq.read_table(f, columns=["id", "url"]).to_pylist()}
    verdict, seconds, touched = {}, {}, Counter()
    for on in (False, True):
        stages = [dict(s) for s in WEB_STAGES]
        stages[1]["reflow"] = on
        cfg = parse_config({"input": [str(f) for f in files], "output": str(work / f"web-{on}"),
                            "executor": "inline", "stages": stages}, "reflow_eval")
        runs = run_pipeline(cfg)
        seconds[on] = runs[1].stats.seconds
        out = Path(cfg.output)
        verdict[on] = {r["id"]: None for r in _rows(out / "03-quality/kept", ["id"])}
        verdict[on].update({r["id"]: r["reject_reason"] for r in _rows(out / "03-quality/rejected", ["id", "reject_reason"])})
        if on:
            touched = Counter(group[r["id"]] for r in _rows(out / "01-normalize/kept", ["id", "normalize_lines_joined"])
                              if r["normalize_lines_joined"])
    scored = Counter(group[i] for i in verdict[True])
    flips: dict[str, Counter] = {}
    for i, v in verdict[True].items():
        if verdict[False].get(i, "x") != v:
            flips.setdefault(group[i], Counter())[(verdict[False][i] or "kept", v or "kept")] += 1
    lines = [f"The 100 MB peer corpus ({len(group):,} documents; `make_corpus.py` from ../shared), read -> normalize -> "
             "langid en -> quality (the `bench_quality.py` chain with `normalize` in front), inline. Documents "
             "re-flow touched and `quality` decisions it flipped, by source (the URL's host). Agreement with "
             "datatrove's decisions (bench/RESULTS-quality.md) can move by at most the flips of a source.", "",
             "| source | documents that reach quality | re-flowed | decisions flipped | flips |", "|---|---:|---:|---:|---|"]
    for g in sorted(set(group.values())):
        f = flips.get(g, Counter())
        lines.append(f"| {g} | {scored[g]:,} | {touched[g]:,} | {sum(f.values()):,} | "
                     + ", ".join(f"{a} → {b}: {n}" for (a, b), n in f.most_common()) + " |")
    lines += ["", f"`normalize` took {seconds[False]:.1f} s without re-flow and {seconds[True]:.1f} s with it "
                  "(stage seconds, a diagnostic)."]
    return lines


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        body = sample(Path(tmp)) + [""] + web(Path(tmp))
    text = "\n".join([
        "# bench/reflow_eval.py results", "",
        f"{datetime.date.today()} · `normalize` with `reflow: false` and `reflow: true` (the default). "
        f"Rerun: `python bench/reflow_eval.py` ({time.time() - t0:.0f} s).", "",
        "The bundled sample, default pipeline (inline):", "", *body, ""])
    (REPO / "bench/REFLOW.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
