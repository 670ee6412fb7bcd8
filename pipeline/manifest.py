"""`_SUCCESS` manifests: what a committed stage holds and what it was made from.

A stage is skipped on re-run only when its manifest's config hash and input hash match the
current ones. The manifest holds no timestamps, so identical outputs give identical manifests,
and a downstream stage whose input hash is the upstream manifest's hash stays valid.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import pkgutil
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.config import to_dict
from pipeline.storage import Loc

SUCCESS = "_SUCCESS"
_VERSIONED = ("curate", "pyarrow", "ray")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=None)  # installed versions do not change under a running process
def _versions() -> tuple[tuple[str, str], ...]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return tuple(out.items())


def library_versions() -> dict[str, str]:
    return dict(_versions())


# Packages whose modules count as the project's code: an edit to one a stage uses redoes the stage.
_PROJECT = ("pipeline", "stages")


# module -> (its source's size and mtime, the project modules it imports): every stage of a run
# hashes pipeline.work and its imports again, and reading each source once is enough
_IMPORTS_SEEN: dict[str, tuple[tuple[int, int], set[str]]] = {}


def _imports(name: str) -> tuple[Path | None, set[str]]:
    """(source file, project modules it imports anywhere: at the top or inside functions)."""
    spec = importlib.util.find_spec(name)
    path = Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None
    if path is None:
        return None, set()
    st = path.stat()
    stamp = (st.st_size, st.st_mtime_ns)
    seen = _IMPORTS_SEEN.get(name)
    if seen is None or seen[0] != stamp:
        seen = _IMPORTS_SEEN[name] = (stamp, _parse_imports(name, path))
    return path, set(seen[1])


# An import statement at the start of a line (any indentation): `import a.b as c, d` or
# `from .x import (a, b)`. A line of a string that looks like one only adds a module to the hash.
_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(?P<base>[.\w]+)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n]*)"
                          r"|import[ \t]+(?P<modules>[^\n]*))", re.M)


def _parse_imports(name: str, path: Path) -> set[str]:
    """The project modules `path` imports anywhere, found line by line: twenty times faster than
    `ast.parse` (the whole module's tree for a handful of statements; ~0.08 s a command), and the
    same on every module of the project (tests/test_pipeline.py checks it against the ast)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    source = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for m in _IMPORT_LINE.finditer(source):
        if m["modules"] is not None:
            found.update(w.split()[0] for w in _code(m["modules"]).split(";")[0].split(",") if w.split())
            continue
        base = m["base"]
        if base.startswith("."):
            try:
                base = importlib.util.resolve_name(base, package)
            except ImportError:  # a line of a string in a top-level module: nothing imported
                continue
        found.add(base)
        for piece in _code(m["names"]).strip("()").split(","):  # `from pipeline.readers import jsonl` imports a module
            words = piece.split()
            if words and _in_project(base) and _is_module(f"{base}.{words[0]}"):
                found.add(f"{base}.{words[0]}")
    return {m for m in found if _in_project(m)}


def _code(text: str) -> str:
    """`text` without its comments, on one line."""
    return " ".join(line.split("#")[0] for line in text.split("\n"))


def _is_module(name: str) -> bool:
    """Whether `name` is a module file, found without importing (and so running) its parent."""
    parent, _, child = name.rpartition(".")
    spec = importlib.util.find_spec(parent)
    if spec is None or not spec.submodule_search_locations:  # no such parent, or not a package
        return False
    return any((Path(d) / f"{child}.py").is_file() or (Path(d) / child / "__init__.py").is_file()
               for d in spec.submodule_search_locations)


def _in_project(name: str) -> bool:
    return name.split(".")[0] in _PROJECT


def code_hash(*modules: str) -> str:
    """sha256 of the source of `modules` and of every project module they import, transitively
    (read from the files: the same code gives the same hash, whatever else is loaded)."""
    seen: set[str] = set()
    sources: dict[str, bytes] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path, imported = _imports(name)
        sources[name] = path.read_bytes() if path else b""
        if path is not None and path.name == "__init__.py" and "." in name:
            # a subpackage (pipeline.readers) may load its modules by name: all of them count
            imported |= {f"{name}.{m.name}" for m in pkgutil.iter_modules([str(path.parent)])}
        todo += sorted(imported - seen)
    h = hashlib.sha256()
    for name in sorted(sources):
        h.update(f"{name}\0".encode() + sources[name])
    return h.hexdigest()


def config_hash(stage_name: str, config: Any, seed: int, batch_size: int, rejected_text: str = "keep") -> str:
    """What a committed stage was made with: options, seed, batch size, library versions, and the
    code of the stage and of the unit runner (their modules and the project modules they use)."""
    from pipeline.stage import stage_class

    return sha256_bytes(canonical({
        "stage": stage_name, "config": to_dict(config), "seed": seed, "batch_size": batch_size,
        **({"rejected_text": rejected_text} if rejected_text != "keep" else {}),
        "versions": library_versions(), "code": code_hash(stage_class(stage_name).__module__, "pipeline.work"),
    }))


def write_success(stage_dir: Loc, manifest: dict) -> None:
    (Loc(stage_dir) / SUCCESS).write_bytes(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")


def read_success(stage_dir: Loc) -> dict | None:
    try:
        return json.loads((Loc(stage_dir) / SUCCESS).read_bytes())
    except (OSError, ValueError):  # absent (FileNotFoundError is an OSError) or unreadable
        return None


def success_hash(stage_dir: Loc) -> str | None:
    try:
        return sha256_bytes((Loc(stage_dir) / SUCCESS).read_bytes())
    except OSError:
        return None
