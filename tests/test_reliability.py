"""Output storage failing under a run: disk full and a read-only output directory give a one-line
error naming the problem, commit nothing partial, and a later run resumes to the same bytes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, tree_digest

REPO = Path(__file__).resolve().parents[1]


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def mounts():
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs / a read-only bind mount")
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _run(config: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", "run", str(config), "--output", str(out),
                           "--inline"], capture_output=True, text=True, cwd=REPO)


@pytest.fixture
def config(tmp_path) -> Path:
    c = tmp_path / "c.yaml"
    c.write_text(f"input: [{SAMPLE / 'wiki'}, {SAMPLE / 'fortunes'}, {SAMPLE / 'books'}]\nstages:\n"
                 "  - {name: read, unit_bytes: 300000}\n  - {name: normalize}\n  - {name: exact_dedup}\n")
    return c


def test_disk_full_is_a_clear_error_and_a_later_run_resumes(tmp_path, config, mounts):
    reference = tmp_path / "ref"
    assert _run(config, reference).returncode == 0
    out = tmp_path / "small"
    out.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(out)):
        pytest.skip("cannot mount tmpfs here")
    mounts.append(out)
    p = _run(config, out)
    assert p.returncode == 1
    assert "No space left on device" in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert len(p.stderr.strip().splitlines()) == 1
    committed = [d.name for d in out.iterdir() if (d / "_SUCCESS").is_file()]
    assert "02-exact_dedup" not in committed  # the full disk stopped the run before the end
    for d in out.iterdir():  # whatever was committed is whole
        if (d / "_SUCCESS").is_file():
            assert (d / "stats.json").is_file()
    assert _mount("-o", "remount,size=64m", str(out))
    assert _run(config, out).returncode == 0
    assert tree_digest(out) == tree_digest(reference)


def test_read_only_output_directory_is_a_clear_error_and_a_later_run_resumes(tmp_path, config, mounts):
    out = tmp_path / "ro"
    out.mkdir()
    if not (_mount("--bind", str(out), str(out)) and _mount("-o", "remount,bind,ro", str(out))):
        pytest.skip("cannot make a read-only bind mount here")
    mounts.append(out)
    p = _run(config, out)
    assert p.returncode == 1
    assert "Read-only file system" in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert not any(out.rglob("_SUCCESS"))
    subprocess.run(["umount", str(out)], check=True)
    mounts.remove(out)
    assert _run(config, out).returncode == 0
    assert all((out / d / "_SUCCESS").is_file() for d in ("00-read", "01-normalize", "02-exact_dedup"))


def _bad_input_corpus(root: Path) -> None:
    """One directory holding every kind of bad input the readers know, next to good documents."""
    import gzip
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.test_web import good_records, page, record

    root.mkdir()
    lines = (SAMPLE / "wiki/wikitext.jsonl").read_bytes()
    blob = gzip.compress(lines)
    (root / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    zst = (SAMPLE / "manpages/manpages.jsonl.zst").read_bytes()
    (root / "cut.jsonl.zst").write_bytes(zst[: len(zst) // 3])
    mixed = ("Привет, world! 你好，世界。 こんにちは世界。 مرحبا بالعالم. Γειά σου κόσμε. " * 20).strip()
    records = [json.dumps({"id": "good", "text": "A perfectly ordinary sentence about Debian packages. " * 20}).encode(),
               b'{"id": "latin1", "text": "Gr\xfc\xdfe"}', json.dumps({"id": "nul", "text": "a\u0000b"}).encode(),
               json.dumps({"id": "ws", "text": " \n\t "}).encode(), json.dumps({"id": "empty", "text": ""}).encode(),
               json.dumps({"id": "mixed", "text": mixed}).encode(), b"{not json", json.dumps({"id": "no-text"}).encode()]
    (root / "records.jsonl").write_bytes(b"\n".join(records) + b"\n")
    warc = good_records(3) + [record("https://x.example/empty", b"<html><body><script>1</script></body></html>", n=9)]
    members = [gzip.compress(r, mtime=0) for r in warc]
    members[1] = members[1][: len(members[1]) // 2] + members[1][-8:]  # a broken gzip member
    (root / "crawl.warc.gz").write_bytes(b"".join(members))
    (root / "notext.html").write_text("<html><body><nav>x</nav><script>var a;</script></body></html>")
    (root / "page.html").write_text(page())
    pq.write_table(pa.table({"id": ["p1", "p2"], "body": ["x", "y"]}), root / "no-text-column.parquet")
    (root / "garbage.jsonl.gz").write_bytes(os.urandom(4096))


@pytest.mark.slow
def test_bad_input_through_every_stage_loses_nothing(tmp_path, ray_executor):
    import json

    import yaml

    from pipeline.config import parse_config
    from pipeline.runner import run_pipeline

    _bad_input_corpus(tmp_path / "bad")
    raw = yaml.safe_load((REPO / "configs/default.yaml").read_text())
    raw["input"] = [str(tmp_path / "bad")]
    raw["output"] = str(tmp_path / "out")
    raw["stages"] = [s for s in raw["stages"] if s["name"] != "mix"]
    run_pipeline(parse_config(raw, "gauntlet"), executor=ray_executor)
    stats = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*/stats.json"))]
    assert len(stats) == len(raw["stages"])
    for prev, cur in zip(stats, stats[1:]):
        assert cur["in"] == prev["kept"], (prev["stage"], cur["stage"])
    for s in stats:
        assert s["in"] == s["kept"] + sum(s["rejected"].values()), s["stage"]
    read = stats[0]["rejected"]
    for reason in ("truncated_input", "invalid_utf8", "nul_bytes", "empty", "invalid_json", "missing_text",
                   "corrupt_record", "no_text", "corrupt_input"):
        assert read.get(reason, 0) >= 1, (reason, read)
    assert read["missing_text"] >= 3 and read["empty"] >= 2  # the Parquet rows, the record without text
