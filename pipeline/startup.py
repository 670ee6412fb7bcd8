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
