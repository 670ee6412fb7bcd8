"""Where the pipeline's files live: a local path, or a URI of any filesystem pyarrow knows
(`s3://bucket/prefix`, `gs://`, `abfs://`, `hdfs://`) or fsspec knows (any other `scheme://`).

Everything that reads or writes inputs, stage outputs, shuffle exchanges and manifests goes
through `Loc`, a small path object with pathlib's names, so one code path serves local disk and
object stores. What differs is renaming. On a local disk a file is written under a temporary
name and renamed, so it is whole or absent. An object store has no rename, but an object appears
only when its upload completes, so there files are written under their final names and a stage
directory is committed by its `_SUCCESS` alone (pipeline.runner).

Credentials and endpoints come from the usual environment variables (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers),
read by every process that touches the store: the driver and each Ray worker.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs

if TYPE_CHECKING:
    import numpy as np


def is_uri(where: str | os.PathLike) -> bool:
    s = str(where)
    return "://" in s and not s.startswith("file://")


@lru_cache(maxsize=None)
def _filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, its path for `root/`) for `root` = scheme://netloc; one per process."""
    try:
        fs, probe = pafs.FileSystem.from_uri(root + "/_")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        import fsspec  # a scheme pyarrow lacks (memory://, gcsfs/adlfs variants, ...)

        fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem(root.split("://", 1)[0])))
        probe = root.split("://", 1)[1] + "/_"
    return fs, probe[:-1]


class Loc:
    """A file or directory, local or in a filesystem named by URI. Immutable; `/` joins."""

    __slots__ = ("uri", "fs", "path")

    def __init__(self, where: "str | os.PathLike | Loc") -> None:
        if isinstance(where, Loc):
            self.uri, self.fs, self.path = where.uri, where.fs, where.path
            return
        s = os.fspath(where)
        if s.startswith("file://"):
            s = s[len("file://"):]
        if not is_uri(s):
            self.uri, self.fs, self.path = s, None, s
            return
        s = s.rstrip("/")
        scheme, rest = s.split("://", 1)
        netloc, _, key = rest.partition("/")
        fs, base = _filesystem(f"{scheme}://{netloc}")
        self.uri, self.fs, self.path = s, fs, (base + key).rstrip("/") or base

    # ------------------------------------------------------------------ names
    @property
    def local(self) -> bool:
        """On a local disk: files can be renamed, memory-mapped, fsynced."""
        return self.fs is None

    def __truediv__(self, name: str) -> "Loc":
        if self.fs is None:
            return Loc(os.path.join(self.path, name))
        new = Loc.__new__(Loc)
        new.uri, new.fs, new.path = f"{self.uri}/{name}", self.fs, f"{self.path}/{name}"
        return new

    def __str__(self) -> str:
        return self.uri

    def __fspath__(self) -> str:
        if self.fs is not None:
            raise TypeError(f"{self.uri} is not a local path")
        return self.path

    def __repr__(self) -> str:
        return f"Loc({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loc) and self.uri == other.uri

    def __lt__(self, other: "Loc") -> bool:  # as pathlib orders: name by name
        return self.uri.split("/") < other.uri.split("/")

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1] if self.fs else Path(self.path).name

    @property
    def stem(self) -> str:
        n = self.name
        return n.rsplit(".", 1)[0] if "." in n.lstrip(".") else n

    @property
    def parent(self) -> "Loc":
        if self.fs is None:
            return Loc(str(Path(self.path).parent))
        new = Loc.__new__(Loc)
        new.uri, new.fs, new.path = self.uri.rsplit("/", 1)[0], self.fs, self.path.rsplit("/", 1)[0]
        return new

    def with_name(self, name: str) -> "Loc":
        return self.parent / name

    def relative_to(self, base: "Loc") -> str:
        if not self.uri.startswith(base.uri.rstrip("/") + "/"):
            raise ValueError(f"{self} is not under {base}")
        return self.uri[len(base.uri.rstrip("/")) + 1:]

    # ------------------------------------------------------------------ queries
    def _info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        return os.path.exists(self.path) if self.fs is None else self._info().type != pafs.FileType.NotFound

    def is_file(self) -> bool:
        return os.path.isfile(self.path) if self.fs is None else self._info().type == pafs.FileType.File

    def is_dir(self) -> bool:
        return os.path.isdir(self.path) if self.fs is None else self._info().type == pafs.FileType.Directory

    def size(self) -> int:
        if self.fs is None:
            return os.path.getsize(self.path)
        info = self._info()
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(2, "no such file", self.uri)
        return info.size

    def mtime_ns(self) -> int:
        if self.fs is None:
            return os.stat(self.path).st_mtime_ns
        return self._info().mtime_ns or 0

    def files(self, recursive: bool = False) -> list["Loc"]:
        """Files under this directory (all levels if `recursive`), sorted; none if it is absent."""
        if self.fs is None:
            if not os.path.isdir(self.path):
                return []
            root = Path(self.path)
            found = root.rglob("*") if recursive else root.iterdir()
            return sorted(Loc(str(p)) for p in found if p.is_file())
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=recursive, allow_not_found=True))
        return sorted(self._child(i.path) for i in infos if i.type == pafs.FileType.File)

    def dirs(self) -> list["Loc"]:
        """Directories right under this one, sorted."""
        if self.fs is None:
            return sorted(Loc(str(p)) for p in Path(self.path).iterdir() if p.is_dir()) \
                if os.path.isdir(self.path) else []
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        return sorted(self._child(i.path) for i in infos if i.type == pafs.FileType.Directory)

    def _child(self, fs_path: str) -> "Loc":
        # the path a listing gives, relative to this directory (fsspec's may carry a leading /)
        return self / fs_path.lstrip("/")[len(self.path.strip("/")):].lstrip("/")

    def glob(self, pattern: str) -> list["Loc"]:
        """Files whose path below this directory matches `pattern` level by level (`kept/*.parquet`,
        `*/manifest.json`), sorted."""
        if self.fs is None:
            return sorted(Loc(str(p)) for p in Path(self.path).glob(pattern) if p.is_file())
        levels = pattern.split("/")
        out = []
        for f in self.files(recursive=len(levels) > 1):
            rel = f.relative_to(self).split("/")
            if len(rel) == len(levels) and all(fnmatch.fnmatchcase(r, p) for r, p in zip(rel, levels)):
                out.append(f)
        return out

    # ------------------------------------------------------------------ reading
    def open_input(self) -> IO[bytes] | pa.NativeFile:
        """A seekable binary file: the builtin file locally, an Arrow random-access file remotely."""
        return open(self.path, "rb") if self.fs is None else self.fs.open_input_file(self.path)

    def arrow_source(self) -> str | pa.NativeFile:
        """What pyarrow readers take: the path locally (memory-mapped where they can), a file remotely."""
        return self.path if self.fs is None else self.fs.open_input_file(self.path)

    def read_bytes(self) -> bytes:
        if self.fs is None:
            with open(self.path, "rb") as f:
                return f.read()
        with self.fs.open_input_stream(self.path) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    # ------------------------------------------------------------------ writing
    def mkdir(self, parents: bool = True, exist_ok: bool = True) -> None:
        """Locally makes the directory; object stores have none to make."""
        if self.fs is None:
            Path(self.path).mkdir(parents=parents, exist_ok=exist_ok)

    def open_output(self) -> pa.NativeFile:
        """A new file under this exact name (write to `staged()` and `publish` for a whole file)."""
        if self.fs is None:
            return pa.OSFile(self.path, "wb")
        return self.fs.open_output_stream(self.path)

    def staged(self) -> "Loc":
        """Where to write this file so that it appears whole: a temporary name beside it on a local
        disk (`publish` renames it); the name itself in an object store, where an upload is seen
        only once it completes."""
        return self.with_name(f".{self.name}.tmp") if self.fs is None else self

    def publish(self, staged: "Loc") -> None:
        """Puts what was written to `staged()` in place."""
        if staged != self:
            staged.replace(self)

    def arrow_sink(self) -> str | pa.NativeFile:
        """What pyarrow writers take: the path locally, an output stream to close remotely."""
        return self.path if self.fs is None else self.fs.open_output_stream(self.path)

    def write_bytes(self, data: bytes) -> None:
        """Writes the whole file atomically: temp name, fsync, rename locally; one upload remotely."""
        if self.fs is None:
            tmp = self.staged()
            with open(tmp.path, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self.publish(tmp)
            return
        with self.fs.open_output_stream(self.path) as f:
            f.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def replace(self, target: "Loc") -> None:
        """Renames a local file or directory over `target` (object stores cannot rename)."""
        if self.fs is not None:
            raise OSError(f"{self}: object stores cannot rename")
        os.replace(self.path, target.path)

    def unlink(self, missing_ok: bool = True) -> None:
        try:
            os.unlink(self.path) if self.fs is None else self.fs.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """Deletes the directory and everything in it; nothing to delete is fine."""
        if self.fs is None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        if self._info().type == pafs.FileType.Directory:
            self.fs.delete_dir_contents(self.path, missing_dir_ok=True)
            try:
                self.fs.delete_dir(self.path)
            except (FileNotFoundError, OSError):
                pass  # a prefix with no marker object vanishes with its last object


def close_sink(sink: str | pa.NativeFile) -> None:
    """Completes what `arrow_sink` opened (pyarrow closes only the files it opened itself)."""
    if not isinstance(sink, str):
        sink.close()


def save_array(where: "Loc | str", array: "np.ndarray") -> None:
    """One numpy array as a .npy file, written whole (see Loc.write_bytes)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array)
    Loc(where).write_bytes(buf.getvalue())


def load_array(where: "Loc | str") -> "np.ndarray":
    import io

    import numpy as np

    return np.load(io.BytesIO(Loc(where).read_bytes()))
