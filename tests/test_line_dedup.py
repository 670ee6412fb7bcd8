"""line_dedup on real pages: shared navigation and licence lines go, each page's own text stays."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.runner import run_pipeline
from tests.conftest import REPO, SAMPLE, make_config, tree_digest


def _rows(stage_dir: Path) -> dict[str, dict]:
    rows = {}
    for kind in ("kept", "rejected"):
        for p in sorted((stage_dir / kind).glob("*.parquet")):
            rows.update({r["id"]: r for r in pq.read_table(p).to_pylist()})
    return rows


def _run(out: Path, inputs: list, **options):
    cfg = make_config(out, inputs, [{"name": "read"}, {"name": "line_dedup", **options}], executor="inline")
    run_pipeline(cfg)
    return _rows(out / "00-read"), _rows(out / "01-line_dedup"), json.loads((out / "01-line_dedup/stats.json").read_text())


def test_navigation_on_every_handbook_page_goes_and_nothing_else(tmp_path):
    # 52 pages of the Debian handbook in 9 languages, navigation kept; at 12 only the link on
    # every page is boilerplate (untranslated paragraphs are shared by up to 11 locale copies)
    before, after, stats = _run(tmp_path / "out", [SAMPLE / "handbook"], max_occurrences=12)
    assert stats["in"] == stats["kept"] == 52 and stats["extra"]["frequent_lines"] == 1
    for i, r in after.items():
        lines = before[i]["text"].split("\n")
        expected = re.sub(r"\n{3,}", "\n\n", "\n".join(l for l in lines if l != "Download the ebook")).strip()
        assert r["text"] == expected, i
        assert r["line_dedup_lines_removed"] == lines.count("Download the ebook") >= 1


def test_exact_copies_count_once_and_a_page_of_boilerplate_only_is_rejected(tmp_path):
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    footer = "Share this story: Facebook | Twitter | E-mail"
    docs = [{"id": "copy-%02d" % i, "text": books[0]} for i in range(12)]        # 12 exact copies
    docs += [{"id": "page-%02d" % i, "text": books[i + 1] + "\n" + footer} for i in range(11)]
    docs += [{"id": "only-footer", "text": footer}]
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    _, after, stats = _run(tmp_path / "out", [src])
    assert after["copy-00"]["text"] == books[0] and after["copy-11"]["line_dedup_lines_removed"] == 0
    assert all(footer not in after[f"page-{i:02d}"]["text"] for i in range(11))
    assert after["page-03"]["text"] == books[4].strip()
    assert after["only-footer"]["reject_reason"] == "line_dedup_empty"
    assert stats["rejected"] == {"line_dedup_empty": 1}


def test_same_bytes_with_one_and_two_ray_workers_and_inline(tmp_path, ray_executor):
    # both text-rewriting global stages: line_dedup, then decontaminate (the wiki articles are eval text)
    stages = [{"name": "read", "unit_bytes": 1 << 20, "part_rows": 300}, {"name": "line_dedup", "max_occurrences": 3},
              {"name": "decontaminate", "eval_sets": [str(REPO / "data/eval/wikitext-2-test.jsonl.zst")]}]
    inputs = [SAMPLE / "handbook", SAMPLE / "manpages", SAMPLE / "pydoc", SAMPLE / "wiki"]
    digests = []
    for workers in (1, 2):
        run_pipeline(make_config(tmp_path / f"w{workers}", inputs, stages, workers=workers), executor=ray_executor)
        digests.append(tree_digest(tmp_path / f"w{workers}"))
    run_pipeline(make_config(tmp_path / "inline", inputs, stages, executor="inline"))
    digests.append(tree_digest(tmp_path / "inline"))
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) > 4
    assert json.loads((tmp_path / "inline/02-decontaminate/stats.json").read_text())["rejected"]["contamination"] > 40


def test_a_footer_in_crlf_and_lf_pages_is_one_line(tmp_path):
    # Windows exports end lines in \r\n: split at \n the line keeps its \r, which is whitespace
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    footer = "Share this story: Facebook | Twitter | E-mail"
    docs = [{"id": f"page-{i:02d}", "text": books[i] + "\n" + footer} for i in range(6)]
    docs += [{"id": f"crlf-{i:02d}", "text": (books[i] + "\n" + footer + " \t").replace("\n", "\r\n")}
             for i in range(6, 12)]
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    _, after, stats = _run(tmp_path / "out", [src])  # 6 + 6 pages: above the default 10 only as one line
    assert stats["extra"]["frequent_lines"] >= 1
    assert all(footer not in r["text"] and r["line_dedup_lines_removed"] >= 1 for r in after.values())
