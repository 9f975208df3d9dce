"""Stock splits: flat files carry raw prints, so the analytics adjust with this table."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from kapman_resources.resources import FlatFilesResource

SPLIT_COLUMNS = ["ticker", "execution_date", "split_from", "split_to"]


def read_reference_splits(root: Path) -> pd.DataFrame:
    """Rows of a `/v3/reference/splits` response saved at root/reference/splits.json."""
    path = Path(root) / "reference" / "splits.json"
    if not path.exists():
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    frame = pd.DataFrame(json.loads(path.read_text()).get("results", []))
    if frame.empty:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    missing = [c for c in SPLIT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: split rows lack {missing}")
    frame = frame[SPLIT_COLUMNS].copy()
    frame["execution_date"] = pd.to_datetime(frame["execution_date"]).dt.date
    bad = frame[(frame["split_from"] <= 0) | (frame["split_to"] <= 0)]
    if len(bad):
        raise ValueError(f"{path}: non-positive split ratio for {bad.iloc[0].to_dict()}")
    return frame.drop_duplicates(["ticker", "execution_date"], keep="last")


@dg.asset(
    io_manager_key="warehouse_io_manager", group_name="market_data", kinds={"postgres"},
    deps=["ohlcv"],
)  # fmt: skip
def splits(flat_files: FlatFilesResource) -> dg.Output[pd.DataFrame]:
    """Every known split (reference data of the mirror or demo market; REST comes later)."""
    frame = read_reference_splits(Path(flat_files.directory)) if flat_files.directory else (
        pd.DataFrame(columns=SPLIT_COLUMNS))  # fmt: skip
    return dg.Output(
        frame,
        metadata={
            "splits": len(frame),
            "tickers": int(frame["ticker"].nunique()),
            "latest": str(frame["execution_date"].max()) if len(frame) else "",
        },
    )
