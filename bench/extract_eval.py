#!/usr/bin/env python3
"""Main-text extraction on trafilatura's labelled evaluation pages: precision, recall, F1, pages/s.

    python bench/extract_eval.py [--eval ../shared/data/web-html/trafilatura-eval]

Per page, evaldata.json lists snippets the main text must contain (`with`) and boilerplate it
must not (`without`). A `with` snippet found is a true positive, missed a false negative; a
`without` snippet found is a false positive (trafilatura's own evaluation). Pages are decoded
once (declared charset, UTF-8, detection, as the readers do) and handed to each extractor as
the same string; time is the extractor alone, one process, one core. Writes bench/EXTRACTION.md.
The pages are not ours to redistribute: they are read from ../shared/data and never copied.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.html import EXTRACTORS, declared_charset, decode  # noqa: E402

CONFIGS = {
    "`trafilatura` (fast=True, no comments; the default)": "trafilatura",
    "`trafilatura_full` (with its fallback extractors)": "trafilatura_full",
    "`resiliparse` (extract_plain_text, main_content=True)": "resiliparse",
}


def load_pages(root: Path) -> list[tuple[str, dict]]:
    spec = json.loads((root / "evaldata.json").read_text())
    files: dict[str, bytes] = {}
    with tarfile.open(root / "trafilatura-tests-eval-cache.tar.xz") as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".html"):
                files[Path(m.name).name] = tar.extractfile(m).read()
    pages = []
    for url, item in spec.items():
        raw = files.get(item["file"])
        if raw is None:
            continue
        pages.append((decode(raw, declared_charset(None, raw))[0], item))
    return pages


def score(pages, fn) -> dict:
    tp = fn_ = fp = tn = 0
    times = []
    for html, item in pages:
        t0 = time.perf_counter()
        try:
            text = fn(html) or ""
        except Exception:  # noqa: BLE001 - an extractor failing on a page scores as empty output
            text = ""
        times.append(time.perf_counter() - t0)
        for s in item.get("with", []):
            tp, fn_ = (tp + 1, fn_) if s in text else (tp, fn_ + 1)
        for s in item.get("without", []):
            fp, tn = (fp + 1, tn) if s in text else (fp, tn + 1)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn_, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9), "pages_per_s": len(times) / sum(times),
            "median_ms": 1000 * statistics.median(times), "tp": tp, "fn": fn_, "fp": fp, "tn": tn}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared/data/web-html/trafilatura-eval")
    ap.add_argument("--out", type=Path, default=REPO / "bench/EXTRACTION.md")
    args = ap.parse_args()
    if not (args.eval / "evaldata.json").is_file():
        print(f"skip: {args.eval} not available")
        return 0
    pages = load_pages(args.eval)
    rows = []
    for label, name in CONFIGS.items():
        s = score(pages, EXTRACTORS[name])
        rows.append((label, s))
        print(f"{label}: P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} {s['pages_per_s']:.1f} pages/s/core")
    lines = [
        "# Main-text extraction on trafilatura's evaluation set", "",
        f"`python bench/extract_eval.py`: {len(pages)} labelled pages from "
        "`../shared/data/web-html/trafilatura-eval`; one core; extractor time only.", "",
        "| extractor | precision | recall | F1 | pages/s/core | median ms/page |", "|---|---|---|---|---|---|",
    ]
    for label, s in rows:
        lines.append(f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                     f"{s['pages_per_s']:.1f} | {s['median_ms']:.1f} |")
    lines += ["", "Snippet counts (TP/FN/FP/TN): " + "; ".join(
        f"{label.split()[0].strip('`')} {s['tp']}/{s['fn']}/{s['fp']}/{s['tn']}" for label, s in rows), ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
