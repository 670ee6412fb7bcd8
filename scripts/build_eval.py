#!/usr/bin/env python3
"""Build the bundled evaluation set `data/eval/` that the default pipeline decontaminates against.

    python scripts/build_eval.py [--data ../shared/data]

WikiText-2's test split (pytorch/examples@77f55b9, CC-BY-SA-3.0): the held-out text that language
models report perplexity on, one record per article. Deterministic: re-running gives the same file.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from scripts.build_sample import write_jsonl

REPO = Path(__file__).resolve().parents[1]


def wikitext_articles(body: str, min_chars: int = 500) -> list[str]:
    """WikiText's articles: the text between top-level ` = Title = ` headings."""
    return [a.strip() for a in re.split(r"\n = [^=\n]+ = \n", body) if len(a.strip()) > min_chars]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO.parent / "shared/data"))
    args = p.parse_args(argv)
    source = Path(args.data) / "reference-prose/wikitext-2/test.txt"
    articles = wikitext_articles(source.read_text(encoding="utf-8"))
    records = [{"id": f"wikitext-2-test/{i}", "text": a, "source": "wikitext-2-test"} for i, a in enumerate(articles)]
    out = REPO / "data/eval/wikitext-2-test.jsonl.zst"
    write_jsonl(out, records)
    print(f"{out}: {len(records)} articles")


if __name__ == "__main__":
    main()
