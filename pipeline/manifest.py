"""`_SUCCESS` manifests: what a committed stage holds and what it was made from.

A stage is skipped on re-run only when its manifest's config hash and input hash match the
current ones. The manifest holds no timestamps, so identical outputs give identical manifests,
and a downstream stage whose input hash is the upstream manifest's hash stays valid.
"""
from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.config import to_dict
from pipeline.parts import atomic_write_bytes

SUCCESS = "_SUCCESS"
_VERSIONED = ("curate", "pyarrow", "ray")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def config_hash(stage_name: str, config: Any, seed: int, batch_size: int) -> str:
    return sha256_bytes(canonical({
        "stage": stage_name, "config": to_dict(config), "seed": seed, "batch_size": batch_size,
        "versions": library_versions(),
    }))


def write_success(stage_dir: Path, manifest: dict) -> None:
    atomic_write_bytes(stage_dir / SUCCESS, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")


def read_success(stage_dir: Path) -> dict | None:
    p = stage_dir / SUCCESS
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def success_hash(stage_dir: Path) -> str | None:
    p = stage_dir / SUCCESS
    return sha256_bytes(p.read_bytes()) if p.is_file() else None
