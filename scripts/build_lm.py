#!/usr/bin/env python3
"""`make lm`: build KenLM's tools, then a 5-gram model of the bundled reference prose.

    python scripts/build_lm.py [--order 5] [--language en]

1. KenLM's `lmplz` and `build_binary` under build/kenlm/, from the kenlm 0.3.0 sdist on PyPI
   (it carries the full source, `lm/builder` included) with cmake; the boost dev headers come from
   apt-get when missing (root), else the error says which packages to install.
2. data/reference/reference-<language>.jsonl.zst minus the held-out part (a tenth of the books,
   documentation pages and speeches, each whole, and of the WikiText chunks) for training, normalised with the perplexity stage's own `normalize_for_lm`, one line per
   paragraph; `lmplz -o 5`, then `build_binary` into models/lm/<language>.bin.
3. The held-out part, scored like the stage does, gives the bucket cut-offs in
   models/lm/<language>.json, from each kind of clean text (books, documentation, speeches,
   Wikipedia; the id's first part) so that the least fluent kind sets the bar: head up to the
   30th percentile of all held-out documents; tail above the highest of the kinds' 95th
   percentiles (less fluent than 95 % of every kind of clean text the model never saw), or with a
   larger share of unknown words than the highest of the kinds' 99th percentiles. Skips every
   step whose output is already there and was made from the same reference file; only the
   cut-offs are recomputed when the stage scores differently (`SCORING`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.perplexity import SCORING, doc_perplexity, lm_lines, normalize_for_lm  # noqa: E402

KENLM = REPO / "build/kenlm"
SDIST = "kenlm-0.3.0.tar.gz"
HEAD_PERCENTILE, TAIL_PERCENTILE, OOV_PERCENTILE = 30, 95, 99
BOOST = ["libboost-program-options-dev", "libboost-system-dev", "libboost-thread-dev", "libboost-test-dev"]


def tools() -> Path:
    bin_dir = KENLM / "src/build/bin"
    if (bin_dir / "lmplz").is_file() and (bin_dir / "build_binary").is_file():
        return bin_dir
    if not Path("/usr/include/boost/program_options.hpp").is_file():
        if os.geteuid() != 0:
            raise SystemExit(f"KenLM needs the boost headers: apt-get install {' '.join(BOOST)}")
        subprocess.run(["apt-get", "install", "-y", "-q", *BOOST], check=True, stdout=subprocess.DEVNULL)
    KENLM.mkdir(parents=True, exist_ok=True)
    archive = KENLM / SDIST
    if not archive.is_file():
        index = urllib.request.urlopen("https://pypi.org/simple/kenlm/", timeout=60).read().decode()
        url = re.search(r'https://files\.pythonhosted\.org[^"#]*' + re.escape(SDIST), index).group(0)
        urllib.request.urlretrieve(url, archive)
    src = KENLM / "src"
    if not (src / "CMakeLists.txt").is_file():
        with tarfile.open(archive) as t:
            t.extractall(KENLM, filter="data")
        (KENLM / SDIST.removesuffix(".tar.gz")).rename(src)
    build = src / "build"
    build.mkdir(exist_ok=True)
    print("building lmplz and build_binary (about a minute) …", flush=True)
    subprocess.run(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release"], cwd=build, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["make", f"-j{os.cpu_count() or 2}", "lmplz", "build_binary"], cwd=build, check=True,
                   stdout=subprocess.DEVNULL)
    return bin_dir


def held_out(doc_id: str) -> bool:
    """Whole unseen texts, so the cut-offs describe text the model never saw: one book, one
    documentation page and one speech in ten, each whole (a chunk of a book whose other chunks were
    trained on would flatter the model), and one WikiText chunk in ten."""
    unit = doc_id if doc_id.startswith("wikitext/") else doc_id.rsplit("/", 1)[0]
    return hashlib.sha256(unit.encode()).digest()[0] < 26


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--language", default="en")
    ap.add_argument("--out", default=str(REPO / "models/lm"))
    args = ap.parse_args()
    out = Path(args.out)
    model, meta_path = out / f"{args.language}.bin", out / f"{args.language}.json"
    source = REPO / f"data/reference/reference-{args.language}.jsonl.zst"
    source_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    old = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    docs = [json.loads(l) for l in pa.input_stream(str(source), compression="zstd").read().decode().splitlines()]
    train = [d for d in docs if not held_out(d["id"])]
    test = [d for d in docs if held_out(d["id"])]
    if model.is_file() and old.get("source_sha256") == source_sha:
        if old.get("scoring") == SCORING:
            print(f"{model} is there, made from {source.name} as it is; delete it to rebuild")
            return
        write_meta(model, meta_path, args, source, source_sha, train, test)  # same model, new cut-offs
        model.touch()  # newer than this script: make has nothing left to do
        return
    bin_dir = tools()
    out.mkdir(parents=True, exist_ok=True)
    work = KENLM / "train"
    work.mkdir(exist_ok=True)
    text = work / f"{args.language}.txt"
    normalized = normalize_for_lm(pa.array([d["text"] for d in train], pa.string())).to_pylist()
    text.write_text("".join(line + "\n" for t in normalized for line in lm_lines(t)), encoding="utf-8")
    arpa = work / f"{args.language}.arpa"
    with open(text, "rb") as src, open(arpa, "wb") as dst:
        subprocess.run([str(bin_dir / "lmplz"), "-o", str(args.order), "-S", "20%", "-T", str(work),
                        "--discount_fallback"], stdin=src, stdout=dst, stderr=subprocess.DEVNULL, check=True)
    tmp = model.with_suffix(".bin.tmp")
    subprocess.run([str(bin_dir / "build_binary"), str(arpa), str(tmp)], check=True, stdout=subprocess.DEVNULL)
    write_meta(tmp, meta_path, args, source, source_sha, train, test)
    tmp.replace(model)
    arpa.unlink()


def write_meta(model: Path, meta_path: Path, args, source: Path, source_sha: str, train: list, test: list) -> None:
    """Score the held-out documents as the stage does; the cut-offs from each kind of them."""
    import kenlm

    lm = kenlm.Model(str(model))
    scored = normalize_for_lm(pa.array([d["text"] for d in test], pa.string())).to_pylist()
    ppl, oov, _ = np.array([doc_perplexity(lm, t) for t in scored]).T
    kind = np.array([d["id"].split("/")[0] for d in test])
    ok = ~np.isnan(ppl)
    per_kind = {k: {"documents": int((ok & (kind == k)).sum()),
                    f"p{TAIL_PERCENTILE}": float(np.percentile(ppl[ok & (kind == k)], TAIL_PERCENTILE)),
                    f"oov_p{OOV_PERCENTILE}": float(np.percentile(oov[ok & (kind == k)], OOV_PERCENTILE))}
                for k in sorted(set(kind[ok]))}
    tail_kind = max(per_kind, key=lambda k: per_kind[k][f"p{TAIL_PERCENTILE}"])
    oov_kind = max(per_kind, key=lambda k: per_kind[k][f"oov_p{OOV_PERCENTILE}"])
    meta = {"language": args.language, "order": args.order, "source": str(source.relative_to(REPO)),
            "source_sha256": source_sha, "scoring": SCORING,
            "held_out": "1 in 10 books, documentation pages, speeches and WikiText chunks",
            "train_documents": len(train), "held_out_documents": len(test),
            "cutoffs": {"head": float(np.percentile(ppl[ok], HEAD_PERCENTILE)), "head_percentile": HEAD_PERCENTILE,
                        "tail": per_kind[tail_kind][f"p{TAIL_PERCENTILE}"], "tail_percentile": TAIL_PERCENTILE,
                        "tail_from": tail_kind, "oov_tail": per_kind[oov_kind][f"oov_p{OOV_PERCENTILE}"],
                        "oov_percentile": OOV_PERCENTILE, "oov_tail_from": oov_kind},
            "held_out_by_kind": per_kind, "held_out_median_perplexity": float(np.median(ppl[ok]))}
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.replace(meta_path)
    c = meta["cutoffs"]
    print(f"{meta_path}: head up to {c['head']:.0f} (p{HEAD_PERCENTILE} of held-out documents); tail above "
          f"{c['tail']:.0f} (p{TAIL_PERCENTILE} of {tail_kind}) or {100 * c['oov_tail']:.1f} % unknown words "
          f"(p{OOV_PERCENTILE} of {oov_kind})")


if __name__ == "__main__":
    main()
