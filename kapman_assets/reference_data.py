"""Reference-data layer: the ticker dimension's attributes and the splits table."""

import dagster as dg
import pandas as pd

from kapman_assets.analytics.series import SPLIT_COLUMNS
from kapman_assets.ohlcv import ohlcv
from kapman_resources.providers import ReferenceProvider
from kapman_resources.tickers import apply_reference, refresh_active, refresh_seen
from kapman_resources.warehouse import PostgresResource

GROUP = "reference_data"


@dg.asset(deps=[ohlcv], group_name=GROUP, kinds={"postgres"})
def tickers(reference_data: ReferenceProvider, warehouse: PostgresResource) -> dg.MaterializeResult:
    """Every symbol ever loaded: first/last session seen, reference name/type, `active`.

    Ids are assigned by the ohlcv load; rows are upserted, never replaced (bars reference them).
    """
    reference = reference_data.tickers()
    with warehouse.connect() as conn:
        seen = refresh_seen(conn)
        updated = apply_reference(conn, reference)
        active, inactive = refresh_active(conn)
        total = conn.execute("SELECT count(*) FROM tickers").fetchone()[0]
    return dg.MaterializeResult(
        metadata={
            "dagster/table_name": "public.tickers",
            "dagster/row_count": total,
            "active": active,
            "inactive": inactive,
            "reference_rows": len(reference),
            "reference_updates": updated,
            "seen_dates_updated": seen,
        }
    )


def splits_frame(rows: list[dict]) -> pd.DataFrame:
    """Validated `/v3/reference/splits` rows, one per (ticker, execution_date).

    `split_from` -> `split_to`: a 2-for-1 split is from 1 to 2 (Massive's convention).
    """
    columns = list(SPLIT_COLUMNS)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"split rows lack {missing}")
    frame = frame[columns].copy()
    frame["execution_date"] = pd.to_datetime(frame["execution_date"]).dt.date
    bad = frame[(frame["split_from"] <= 0) | (frame["split_to"] <= 0)]
    if len(bad):
        raise ValueError(f"non-positive split ratio for {bad.iloc[0].to_dict()}")
    return frame.drop_duplicates(["ticker", "execution_date"], keep="last")


@dg.asset(deps=[ohlcv], io_manager_key="warehouse_io_manager", group_name=GROUP, kinds={"postgres"})
def splits(reference_data: ReferenceProvider) -> dg.Output[pd.DataFrame]:
    """Every known split: flat files carry raw prints, so the analytics adjust with this table."""
    frame = splits_frame(reference_data.splits())
    return dg.Output(
        frame,
        metadata={
            "tickers": int(frame["ticker"].nunique()),
            "latest": str(frame["execution_date"].max()) if len(frame) else "",
        },
    )
