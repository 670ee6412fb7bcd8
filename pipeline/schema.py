"""The document schema every stage reads and writes.

A document is one row. The base columns come first, in this order, in every Parquet file the
pipeline writes; each stage appends its own annotation columns after them, and rejected rows
carry `reject_reason` last.
"""
from __future__ import annotations

import pyarrow as pa

BASE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        # ISO 8601 as found in the input: parsing is left to the stages that need it (mix),
        # so an odd date format is never a reason to lose a document at read time.
        pa.field("timestamp", pa.string()),
        # Input fields that are not base columns, as a JSON object with sorted keys.
        pa.field("metadata", pa.string()),
    ]
)
BASE_COLUMNS = tuple(BASE_SCHEMA.names)
REJECT_REASON = "reject_reason"


def conform(table: pa.Table) -> pa.Table:
    """Base columns first (cast to their types, missing ones as nulls), then the others in order."""
    n = table.num_rows
    columns, fields = [], []
    for field in BASE_SCHEMA:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                col = col.cast(field.type)
        else:
            col = pa.nulls(n, field.type)
        columns.append(col)
        fields.append(pa.field(field.name, field.type))
    for name in table.column_names:
        if name not in BASE_COLUMNS:
            columns.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def set_column(table: pa.Table, name: str, values) -> pa.Table:
    """`table` with column `name` replaced in place, or appended if it is new.

    A later stage that writes a column an earlier one wrote (`duplicate_of` after two dedup
    stages) replaces it: the column then says what the latest stage decided.
    """
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)
