"""Table introspection shared by the slice writer and COPY: columns, keys and storage kind."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg

PARTITION_COLUMN = "date"  # every time-partitioned Kapman table is partitioned by this column


class SchemaMismatch(ValueError):
    """A frame's columns do not fit its table; raised before anything is deleted."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, str]  # column -> data type
    required: frozenset[str]  # NOT NULL without default
    storage: str  # 'plain' | 'partitioned' | 'hypertable'
    primary_key: tuple[str, ...] = ()


def table_info(conn: psycopg.Connection, table: str) -> TableInfo:
    """Columns, required columns and storage kind of a table in the public schema."""
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS NULL"
        " AND is_identity = 'NO' FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    if not rows:
        raise SchemaMismatch(f"table {table!r} does not exist: run `kapman db migrate`")
    kind = conn.execute(
        "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", (table,)
    ).fetchone()[0]
    storage = "partitioned" if kind == "p" else "plain"
    if (
        storage == "plain"
        and conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    ):
        is_hyper = conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            (table,),
        ).fetchone()
        storage = "hypertable" if is_hyper else "plain"
    pk = conn.execute(
        "SELECT a.attname FROM pg_index i"
        " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.pos",
        (table,),
    ).fetchall()
    return TableInfo(
        table,
        {r[0]: r[1] for r in rows},
        frozenset(r[0] for r in rows if r[2]),
        storage,
        tuple(r[0] for r in pk),
    )


def check_columns(frame: pd.DataFrame, info: TableInfo) -> None:
    """Raise SchemaMismatch naming extra and missing columns."""
    extra = [c for c in frame.columns if c not in info.columns]
    missing = sorted(info.required - set(frame.columns))
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"columns not in table {info.name!r}: {extra}")
        if missing:
            parts.append(f"required columns missing from the frame: {missing}")
        raise SchemaMismatch("; ".join(parts) + f". Table columns: {list(info.columns)}")
