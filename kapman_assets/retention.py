"""The retention step of the market-data layer: 730 sessions of ohlcv, 90 days of chains."""

import dagster as dg

from kapman_assets import ohlcv
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window
from kapman_resources.retention import apply_retention, ohlcv_cutoff, options_cutoff
from kapman_resources.tickers import refresh_seen
from kapman_resources.warehouse import PostgresResource

GROUP = ohlcv.GROUP  # retention is the market-data layer's last step


@dg.asset(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[ohlcv.ohlcv],
    group_name=GROUP,
    kinds={"postgres"},
)
def retention_log(
    context: dg.AssetExecutionContext, warehouse: PostgresResource
) -> dg.MaterializeResult:
    """Drops ohlcv older than 730 sessions and option chains older than 90 days; logs what went."""
    latest = max(sessions_in_window(context.partition_time_window))
    context.log.info(f"applying retention as of session {latest} or the newest stored")
    with warehouse.connect() as conn:
        stored_max = conn.execute("SELECT max(date) FROM ohlcv").fetchone()[0]
        as_of = max(latest, stored_max) if stored_max else latest
        cutoff = ohlcv_cutoff(as_of)
        refresh_seen(conn, before=cutoff)  # keep the seen dates of the bars about to go
        results = [apply_retention(conn, "ohlcv", cutoff)]
        results.append(apply_retention(conn, "options_chains", options_cutoff(as_of)))
    for r in results:
        context.log.info(
            f"retention {r['table']}: kept >= {r['cutoff']}, dropped {r['partitions_dropped']}"
            f" partition(s), {r['rows_deleted']:,} row(s)"
        )
    meta = {"dagster/table_name": "public.retention_log"}
    for r in results:
        meta[f"{r['table']}_cutoff"] = str(r["cutoff"])
        meta[f"{r['table']}_rows_deleted"] = r["rows_deleted"]
        meta[f"{r['table']}_partitions_dropped"] = r["partitions_dropped"]
    return dg.MaterializeResult(metadata=meta)
