"""The statistics a person reads: terminal, JSON and the self-contained HTML report."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

CURATE = str(Path(sys.executable).parent / "curate")


class _Check(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "rect"}

    def __init__(self) -> None:
        super().__init__()
        self.stack, self.tags, self.text, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v and "://" in v:
                self.external.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> (open: {self.stack[-3:]})"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    bad = tmp / "bad.jsonl"
    bad.write_text('{"id": "x<script>", "text": "<b>not bold</b> & friends"}\n{"text": ""}\n'
                   '{"id": "mail", "text": "Write to maria.garcia@posteo.net or call +44 20 7946 0958 today."}\n'
                   + (SAMPLE / "wiki/wikitext.jsonl").read_text())
    config = tmp / "c.yaml"
    config.write_text(f"input: [{bad}, {SAMPLE / 'fortunes'}]\nstages:\n  - name: read\n    max_bytes: 20000\n"
                      "  - name: exact_dedup\n  - name: pii\n  - name: mix\n    shard_rows: 200\n"
                      "    token_budget: 60000\n")
    subprocess.run([CURATE, "-q", "run", str(config), "--output", str(tmp / "out"), "--inline"], check=True)
    return tmp / "out"


def test_terminal_report_shows_funnel_shards_and_distributions(run_dir):
    r = subprocess.run([CURATE, "stats", str(run_dir)], capture_output=True, text=True, check=True)
    for text in ("00-read", "01-exact_dedup", "02-pii", "03-mix", "too_long", "exact_duplicate", "downsampled",
                 "shards/train-00000.parquet", "final documents", "length"):
        assert text in r.stdout, text


def test_json_has_the_same_numbers(run_dir):
    data = json.loads(subprocess.run([CURATE, "stats", str(run_dir), "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    read = data["stages"]["00-read"]
    assert read["in"] == read["kept"] + read["rejected_total"]
    assert data["mixture"]["totals"]["train"]["rows"] == sum(s["rows"] for s in data["mixture"]["shards"]
                                                             if s["path"].startswith("shards/train"))
    assert data["rejected_samples"]["00-read"]["too_long"]
    # pii_counts (JSON per document) is summarised as spans per document
    assert "pii_counts" in data["final"]["columns"]


def test_html_report_is_self_contained_escaped_and_well_formed(run_dir, tmp_path):
    page = tmp_path / "report.html"
    subprocess.run([CURATE, "stats", str(run_dir), "--html", str(page)], check=True, capture_output=True)
    source = page.read_text()
    checker = _Check()
    checker.feed(source)
    checker.close()
    assert not checker.stack and not checker.external and "script" not in checker.tags
    assert checker.tags.count("svg") >= 3  # funnel, mixture, histograms
    text = "".join(checker.text)
    assert "<b>not bold</b> & friends" in text or "too_long" in text
    assert "x<script>" not in source
    for words in ("Funnel", "requested vs achieved", "What was rejected, and why", "exact_duplicate"):
        assert words in text


def test_html_report_renders_in_headless_chromium(run_dir, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("chromium not installed")
    page = tmp_path / "report.html"
    subprocess.run([CURATE, "stats", str(run_dir), "--html", str(page)], check=True, capture_output=True)
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                        "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "What was rejected, and why" in r.stdout and "<svg" in r.stdout
