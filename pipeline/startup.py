"""Process-wide settings made at start-up: what a short command can feel, and how memory is reused.

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
import os
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


def keep_freed_memory() -> None:
    """Let this process reuse the memory it frees instead of handing it back to the kernel.

    A stage allocates and frees a batch's worth of buffers per batch (Arrow's, from mimalloc;
    numpy's, from glibc's malloc: a byte mask over 8,192 documents' text is ~30 MB). By default
    both return freed pages to the kernel (mimalloc after 10 ms, with madvise and the TLB
    shootdowns it brings; glibc by mmap per large block and by trimming the heap), so the next
    batch faults them in again and the kernel zeroes them: ~20 % of an exact-dedup run's CPU
    here (perf: clear_page_erms), half its system time. Kept, they are reused. The peak is
    unchanged; a process holds it until it exits. A setting already in the environment wins;
    call before pyarrow is imported (mimalloc reads its options when it loads).
    """
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")  # Ray workers started here inherit it
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return  # musl and others: no mallopt
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def one_blas_thread() -> None:
    """numpy's OpenBLAS on one thread, unless the environment says otherwise.

    Its thread pool starts when numpy is imported and spins waiting for work: ~0.15 s of CPU
    per process here, a tenth of a 2-core exact-dedup run, for nothing - a stage's parallelism is
    its workers (Ray sets OMP_NUM_THREADS=1 in its workers, which OpenBLAS honours too) and its
    threads, and the matrices stages multiply (lid.176's output layer) are small. Call before
    numpy is imported.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
