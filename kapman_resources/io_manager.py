"""The Kapman IO manager: plain pandas frames in and out of the table named by the asset.

A write goes through the same `replace_slice` as a layer writing through the warehouse
resource (one transaction, columns checked first; see warehouse.py). Loads select only the
requested columns (`columns` in the input's metadata) and, with `ticker_scope: watchlist`,
only the analytical scope's tickers.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from kapman_resources.database import connect, watchlist_symbols
from kapman_resources.warehouse import Window, load_table, replace_slice


def _window(context) -> Window | None:
    if not context.has_asset_partitions:
        return None
    tw = context.asset_partitions_time_window
    return tw.start.date(), tw.end.date()


class KapmanIOManager(dg.ConfigurableIOManager):
    """Stores each asset's DataFrame in the PostgreSQL table of the same name."""

    database_url: str

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"KapmanIOManager stores pandas DataFrames, got {type(obj).__name__}")
        with connect(self.database_url) as conn:
            written = replace_slice(conn, context.asset_key.path[-1], obj, _window(context))
        context.add_output_metadata(written.metadata())

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = context.upstream_output.asset_key.path[-1]
        meta = context.definition_metadata or {}
        window = _window(context) if context.upstream_output.has_asset_partitions else None
        with connect(self.database_url) as conn:
            tickers = watchlist_symbols(conn) if meta.get("ticker_scope") == "watchlist" else None
            return load_table(
                conn, table, columns=meta.get("columns"), window=window, tickers=tickers
            )
