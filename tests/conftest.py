from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipeline.config import parse_config

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/sample/corpus"
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared/data"))


def needs_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test cleanly where it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def make_config(output: Path, inputs: list, stages: list | None = None, **top):
    raw = {"input": [str(i) if isinstance(i, Path) else i for i in inputs], "output": str(output),
           "stages": stages or [{"name": "read"}], **top}
    return parse_config(raw, "test config")


def tree_digest(out: Path, kinds=("kept", "rejected")) -> dict[str, str]:
    """sha256 of every Parquet part under out/*/{kept,rejected}: what byte-identity compares."""
    digests = {}
    for p in sorted(out.glob("*/*/*.parquet")):
        if p.parent.name in kinds:
            digests[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return digests


@pytest.fixture(scope="session")
def ray_executor():
    """One local Ray instance for the whole session (starting Ray costs seconds)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from pipeline.executors import RayExecutor

    ex = RayExecutor(num_cpus=2)
    yield ex
    ex.shutdown()
