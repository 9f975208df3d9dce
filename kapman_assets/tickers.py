"""The ticker dimension: ids are assigned by the ohlcv load; this adds reference attributes."""

from pathlib import Path

import dagster as dg

from kapman_resources.resources import FlatFilesResource, PostgresResource
from kapman_resources.tickers import (
    apply_reference,
    read_reference_tickers,
    refresh_active,
    refresh_seen,
)


@dg.asset(deps=["ohlcv"], group_name="market_data", kinds={"postgres"})
def tickers(flat_files: FlatFilesResource, warehouse: PostgresResource) -> dg.MaterializeResult:
    """Every symbol ever loaded: first/last session seen, reference name/type, `active`.

    Upserted, never replaced: ohlcv rows reference these ids.
    """
    reference = read_reference_tickers(Path(flat_files.directory)) if flat_files.directory else []
    with warehouse.connect() as conn:
        seen = refresh_seen(conn)
        updated = apply_reference(conn, reference)
        active, inactive = refresh_active(conn)
        total = conn.execute("SELECT count(*) FROM tickers").fetchone()[0]
    return dg.MaterializeResult(
        metadata={
            "tickers": total,
            "active": active,
            "inactive": inactive,
            "reference_rows": len(reference),
            "reference_updates": updated,
            "seen_dates_updated": seen,
        }
    )
