"""Process start-up that a short command can feel.

pyarrow imports pandas, when it is installed, at its first conversion of Python values
(`pa.array`, `pa.table`, even of numpy arrays) only to ask whether they are pandas objects and
to learn pandas' missing-value sentinels. curate never hands pyarrow a pandas object, yet that
import costs ~0.3 s here and the interpreter's exit another ~0.15 s: a quarter of a one-document
`curate stage`. Asked once while pandas cannot be imported, pyarrow remembers "no pandas" for
those checks; pandas used explicitly later (`Table.to_pandas`, `pa.Table.from_pandas`) still
imports it, as pyarrow retries there.
"""
from __future__ import annotations

import ctypes
import sys


class _NoPandas:
    def find_spec(self, name: str, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not needed by curate's conversions")
        return None


def pyarrow_without_pandas() -> None:
    """Let pyarrow's conversions skip importing pandas in this process (call before any
    conversion and before threads start; a no-op where pandas or the check came first)."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array(["x"])  # the conversion that asks, once, for pandas and for its sentinels
    finally:
        sys.meta_path.remove(blocker)


# mallopt(3) parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest
_TRIM_THRESHOLD = 1 << 30


def reuse_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks for reuse instead of handing them back to the kernel.

    numpy takes its arrays from malloc; a batch's temporaries (a byte mask per character of 8,192
    documents is ~30 MB) are each a fresh mmap by default, or are trimmed off the heap when freed,
    so every batch faults its pages in again and the kernel zeroes them: 20 % of an exact-dedup
    run's CPU here (perf: clear_page_erms). Kept on the heap, the next batch reuses them. The peak
    is unchanged; a process just keeps it until it exits. A no-op where libc is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return  # musl and others: no mallopt
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
