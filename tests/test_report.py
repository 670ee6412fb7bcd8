"""The statistics a person reads: terminal, JSON and the self-contained HTML report."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
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
                      "  - name: exact_dedup\n  - name: quality_model\n  - name: pii\n  - name: mix\n    shard_rows: 200\n"
                      "    token_budget: 60000\n")
    subprocess.run([CURATE, "-q", "run", str(config), "--output", str(tmp / "out"), "--inline"], check=True)
    return tmp / "out"


def test_terminal_report_shows_funnel_shards_and_distributions(run_dir):
    r = subprocess.run([CURATE, "stats", str(run_dir)], capture_output=True, text=True, check=True)
    for text in ("00-read", "01-exact_dedup", "02-quality_model", "03-pii", "04-mix", "too_long", "exact_duplicate", "downsampled",
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
    # and the scores a stage wrote on every row, with their distribution
    assert 0 <= data["final"]["columns"]["quality_score"]["p50"] <= 1


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


# Injected into a copy of the report (the report itself has no scripts): what the laid-out page shows.
_MEASURE = """<script>
const box = el => { const r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
const svgs = [...document.querySelectorAll('svg')].map(s => ({
  label: s.getAttribute('aria-label') || '', size: box(s),
  bars: [...s.querySelectorAll('rect')].filter(r => box(r)[0] > 0 && box(r)[1] > 0).length}));
const h2 = [...document.querySelectorAll('h2')].filter(h => box(h)[1] > 0).map(h => h.textContent);
const samples = [...document.querySelectorAll('details')].map(d => box(d.querySelector('summary'))[1]);
const pre = document.createElement('pre'); pre.id = 'measured';
pre.textContent = JSON.stringify({svgs, h2, samples, width: document.body.scrollWidth});
document.body.appendChild(pre);
</script>"""


def test_html_report_renders_in_headless_chromium(run_dir, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI: `make test` installs it (`make browser`, as root)")
        pytest.skip("chromium not installed (make browser)")
    page = tmp_path / "report.html"
    subprocess.run([CURATE, "stats", str(run_dir), "--html", str(page)], check=True, capture_output=True)
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(page.read_text().replace("</body>", _MEASURE + "</body>"))
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=1200,900"]
    r = subprocess.run(flags + ["--dump-dom", measured_page.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measured">(.*?)</pre>', r.stdout, re.S)
    assert found, f"chromium rendered no page: {r.stderr[-2000:]}"
    seen = json.loads(unescape(found.group(1)))
    assert seen["h2"][0] == "Funnel" and "What was rejected, and why" in seen["h2"]
    assert any(h.startswith("Mixture") for h in seen["h2"]) and any(h.startswith("Final documents") for h in seen["h2"])
    funnel = next(s for s in seen["svgs"] if s["label"] == "funnel")
    assert funnel["size"][0] > 300 and funnel["size"][1] > 50 and funnel["bars"] >= 4  # 4 stages, kept bars at least
    histograms = [s for s in seen["svgs"] if s["label"].startswith("histogram of")]
    assert len(histograms) >= 2 and all(h["bars"] >= 2 and h["size"][1] > 40 for h in histograms)
    assert len(seen["samples"]) >= 3 and all(h > 0 for h in seen["samples"])  # rejected documents to open
    assert seen["width"] <= 1200  # nothing runs off the side of the window
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_html_report_links_the_training_curves(run_dir, tmp_path):
    from trainer.curves import write_curves

    lm = run_dir / "lm"
    lm.mkdir(exist_ok=True)
    rows = [{"step": 0, "train_eval_loss": 8.3, "val_loss": 8.3}, {"step": 5, "loss": 7.0},
            {"step": 10, "loss": 6.0, "train_eval_loss": 5.9, "val_loss": 6.4}]
    (lm / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    svg = write_curves(lm / "train_log.jsonl", lm / "train_curves.svg").read_text()
    assert svg.count("<polyline") == 3 and "<script" not in svg
    page = tmp_path / "report.html"
    subprocess.run([CURATE, "stats", str(run_dir), "--html", str(page)], check=True, capture_output=True)
    assert "href='lm/train_curves.svg'" in page.read_text()
