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
