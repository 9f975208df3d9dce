"""Massive's grouped daily bars (`/v2/aggs/grouped/locale/us/market/stocks/{date}`) as the same
table a day-aggregate flat file gives.

Results carry `T` (ticker), `o h l c v`, `t` (the bar's timestamp in ms; its New York date is
the session) and `n` (transactions, sometimes absent: NULL). The same rules as a flat file apply
(`flatfiles.validated_bars`); a response for another date, an empty one (a holiday, or not yet
published) and strings where numbers belong are errors that name the date and the result.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from kapman_resources.calendar import NEW_YORK
from kapman_resources.flatfiles import FlatFileError, new_york_midnight_ns, validated_bars
from kapman_resources.massive_rest import MalformedResponse

NUMBER_FIELDS = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}


class GroupedDailyEmpty(MalformedResponse):
    """The endpoint has no bars for that date (yet)."""


def grouped_daily_bars(body: dict, day: dt.date, where: str) -> pa.Table:
    """The response's bars for `day` (ticker, date, OHLCV, transactions), validated."""
    results = body.get("results")
    if (results is None and body.get("resultsCount") == 0) or results == []:
        raise GroupedDailyEmpty(f"{where}: no bars for {day} (not a session, or not published yet)")
    if not isinstance(results, list):
        raise MalformedResponse(f"{where}: results is not a list")
    columns: dict[str, list] = {c: [] for c in ("ticker", *NUMBER_FIELDS.values(), "t", "n")}
    for i, r in enumerate(results, start=1):
        if not isinstance(r, dict) or not isinstance(r.get("T"), str):
            raise MalformedResponse(f"{where} result {i}: no ticker (T)")
        columns["ticker"].append(r["T"])
        for key, name in (*NUMBER_FIELDS.items(), ("t", "t")):
            value = r.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MalformedResponse(
                    f"{where} result {i} ({r['T']}): {key} is {value!r}, not a number"
                )
            columns[name].append(value)
        n = r.get("n")
        columns["n"].append(
            int(n) if isinstance(n, int | float) and not isinstance(n, bool) else None
        )
    # `t` is the bar's timestamp in ms (Massive's examples put daily bars at 16:00 New York,
    # the flat files at 00:00): its New York date must be the session's
    dates = pd.to_datetime(np.asarray(columns["t"], dtype=np.int64), unit="ms", utc=True)
    local = dates.tz_convert(NEW_YORK).date
    wrong = np.flatnonzero(local != day)
    if len(wrong):
        i = int(wrong[0])
        raise MalformedResponse(
            f"{where} result {i + 1} ({columns['ticker'][i]}): the bar is for {local[i]}, not {day}"
        )
    table = pa.table({
        "ticker": pa.array(columns["ticker"], pa.string()),
        **{name: pa.array(columns[name], pa.float64()) for name in NUMBER_FIELDS.values()},
        "window_start": pa.array(np.full(len(local), new_york_midnight_ns(day)), pa.int64()),
        "transactions": pa.array(columns["n"], pa.int64()),
    })  # fmt: skip
    try:
        return validated_bars(table, day, where, what="result")
    except FlatFileError as exc:  # the same rules; a REST error to its callers
        raise MalformedResponse(str(exc)) from None
