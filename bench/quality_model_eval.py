#!/usr/bin/env python3
"""The quality classifier on sources it was never trained on: clean prose against raw web text.

    python bench/quality_model_eval.py

Needs `make quality-model` and ../shared/data (kinds whose data is absent are skipped).
Clean prose (expected high): passages of the 17 Gutenberg books scripts/build_reference.py keeps
out of the reference, and the sample's two books (bench/perplexity_eval.passages); the sample's
WikiText-2 *test* articles (the model saw validation articles only); ABC rural and science news
(NLTK `abc`, never in the repo). Raw web text (expected low): trafilatura's 990 evaluation pages
(news, blogs, shops, forums of many sites; main text as the read stage extracts it, English by
lid.176 as langid keeps it), NLTK `webtext` (Firefox forum, personal ads, overheard dialogue,
film scripts, wine reviews) in 40-line chunks and `nps_chat` in 60-post chunks. For reference,
not counted: the sample's Python and Debian handbook pages (other pages of sources the
positives came from). AUC = P(a clean document scores above a raw one), beside the same figure
for the perplexity stage's KenLM model (`make lm`). Writes
bench/QUALITY_MODEL.md.
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import random
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.perplexity_eval import SHARED, auc, kinds, passages, webtext_chunks  # noqa: E402
from stages.perplexity import Perplexity, PerplexityConfig  # noqa: E402
from stages.quality_model import QualityModel, QualityModelConfig  # noqa: E402


def _nltk(name: str) -> zipfile.ZipFile | None:
    path = SHARED / f"reference-prose/nltk/{name}.zip"
    return zipfile.ZipFile(path) if path.is_file() else None


def news() -> list[str]:
    z = _nltk("abc")
    if z is None:
        return []
    out = []
    for name in ("abc/rural.txt", "abc/science.txt"):
        raw = io.TextIOWrapper(io.BytesIO(z.read(name)), encoding="latin-1").read()
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw) if p.strip()]
        out += ["\n".join(paragraphs[i:i + 6]) for i in range(0, len(paragraphs), 6)][:150]
    return out


def forum_and_chat() -> dict[str, list[str]]:
    sets = {f"NLTK webtext {name}": chunks for name, chunks in webtext_chunks().items()}
    z = _nltk("nps_chat")
    if z is not None:
        posts = []
        for name in sorted(n for n in z.namelist() if n.endswith(".xml")):
            posts += [p.strip() for p in re.findall(r"<Post [^>]*>(.*?)<terminals>", z.read(name).decode("utf-8", "replace"), re.S)]
        sets["NLTK nps_chat (chat rooms)"] = ["\n".join(posts[i:i + 60]) for i in range(0, len(posts), 60)]
    return sets


def web_pages() -> list[str]:
    """trafilatura's evaluation pages, main text by the read stage's extractor, English only."""
    root = SHARED / "web-html/trafilatura-eval"
    if not root.is_dir():
        return []
    import fasttext

    from bench.extract_eval import load_pages
    from pipeline.html import extract_main_text
    from stages.langid import model_path

    lid = fasttext.load_model(str(model_path()))
    out = []
    for html, _ in load_pages(root):
        text = extract_main_text(html, "trafilatura")
        if text and lid.predict(" ".join(text.split())[:2000])[0][0] == "__label__en":
            out.append(text)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "bench/QUALITY_MODEL.md"))
    args = ap.parse_args()
    stage = QualityModel(QualityModelConfig())
    stage.setup()

    def score(texts: list[str]) -> np.ndarray:
        d = stage.process(pa.table({"text": pa.array(texts, pa.string())}))
        return d.table.column("quality_score").to_numpy(zero_copy_only=False)

    t0 = time.time()
    sample = kinds()
    clean = {"Gutenberg passages kept out of the reference": passages(random.Random(11)),
             "Wikipedia (the sample's WikiText-2 test articles)": sample["Wikipedia (sample WikiText-2 test articles)"],
             "ABC rural and science news (NLTK abc)": news()}
    raw = {"web pages, English (trafilatura's evaluation set)": web_pages(), **forum_and_chat()}
    other = {"Python documentation (the sample's pages; other pages trained on)": sample["Python documentation (the sample's pages)"],
             "Debian handbook, English (the sample's pages; other pages trained on)": sample["Debian handbook, English (the sample's pages)"],
             "fortunes (short quotes, English)": sample["fortunes (short quotes, English)"]}
    scores = {name: score(texts) for group in (clean, raw, other) for name, texts in group.items() if texts}
    web = raw["web pages, English (trafilatura's evaluation set)"]
    if not any(n in scores for n in raw) or not any(n in scores for n in clean):
        print("skipped: no raw web text or no clean text to contrast (is ../shared/data beside the repo?)")
        return 0

    def row(name: str, group: str) -> str:
        s = scores[name]
        return (f"| {name} | {group} | {len(s):,} | {np.median(s):.3f} | {100 * np.mean(s >= 0.5):.1f} % |")

    rows = [row(n, "clean") for n in clean if n in scores] + [row(n, "raw web") for n in raw if n in scores] + \
           [row(n, "not counted") for n in other if n in scores]
    # the perplexity stage's KenLM score on the same documents: what the classifier adds
    lm = Perplexity(PerplexityConfig())
    lm.setup()
    fluency = {name: -lm.process(pa.table({"text": pa.array(texts, pa.string())})).table.column("perplexity")
               .to_numpy(zero_copy_only=False) for group in (clean, raw) for name, texts in group.items() if texts}
    pairs = [("all clean vs all raw", list(clean), list(raw))]
    if web:
        pairs.append(("all clean vs web pages", list(clean), ["web pages, English (trafilatura's evaluation set)"]))
    contrast = []
    for label, pos, neg in pairs:
        p = np.concatenate([scores[n] for n in pos if n in scores])
        q = np.concatenate([scores[n] for n in neg if n in scores])
        fp = np.concatenate([fluency[n] for n in pos if n in fluency])
        fq = np.concatenate([fluency[n] for n in neg if n in fluency])
        contrast.append(f"| {label} | {len(p):,} vs {len(q):,} | **{auc(q, p):.4f}** | "
                        f"{np.mean(np.concatenate([p >= 0.5, q < 0.5])):.3f} | {auc(np.nan_to_num(fq, nan=-1e9), np.nan_to_num(fp, nan=-1e9)):.4f} |")
    meta = json.loads(Path(stage._path()).with_suffix(".json").read_text())
    text = "\n".join([
        "# bench/quality_model_eval.py results", "",
        f"{datetime.date.today()} · {stage.config.model}: trained on {meta['train_examples']['hq']:,} reference and "
        f"{meta['train_examples']['lq']:,} raw-web examples (scripts/build_quality_model.py); tuning split (same "
        f"sources as training, a tuning figure): AUC {meta['tuning_auc']}. Below, every kind is of a source the "
        f"model never saw. Rerun: `python bench/quality_model_eval.py` ({time.time() - t0:.0f} s).", "",
        "| contrast | documents | AUC of quality_score | accuracy at 0.5 | AUC of KenLM perplexity (lower = cleaner) |",
        "|---|---:|---:|---:|---:|", *contrast, "",
        "| text | group | documents | median quality_score | scored >= 0.5 |", "|---|---|---:|---:|---:|", *rows, ""])
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
