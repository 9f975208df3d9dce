"""The evening of session D: D's bars from the grouped daily endpoint (a real local HTTP server),
recorded as provisional in ohlcv_loads; the flat file replaces them when the sensor sees it, and
a republished file (new ETag) is loaded again."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pandas as pd
import pytest
from helpers.flatfiles import day_rows, write_day, write_mirror
from helpers.resources import local_resources

from kapman_assets import ohlcv
from kapman_assets.definitions import defs
from kapman_assets.jobs import ohlcv_final_files
from kapman_resources.calendar import last_completed_session, nyse_sessions
from kapman_resources.database import connect
from kapman_resources.flatfiles import day_aggs_key
from kapman_resources.grouped_daily import GroupedDailyEmpty, grouped_daily_bars
from kapman_resources.massive_rest import MalformedResponse
from kapman_resources.providers import LocalFlatFiles, MassiveRest
from kapman_resources.warehouse import PostgresResource

TICKERS = ["AAPL", "MSFT", "NVDA"]
LAST = last_completed_session()
DAYS = nyse_sessions(LAST - dt.timedelta(days=14), LAST)[-6:]


def grouped_body(day: dt.date, tickers=TICKERS, seed: int = 0) -> dict:
    """The grouped-daily JSON of the same bars `day_rows` writes to a flat file."""
    results = []
    for line in day_rows(day, tickers, seed):
        t, v, o, c, h, lo, start, n = line.split(",")
        results.append({"T": t, "v": float(v), "o": float(o), "c": float(c), "h": float(h),
                        "l": float(lo), "t": int(start) // 1_000_000, "n": int(n)})  # fmt: skip
    return {"status": "OK", "adjusted": False, "resultsCount": len(results), "results": results}


@pytest.fixture
def rest():
    """A local server answering /v2/aggs/grouped/... for any date with `grouped_body`."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Authorization")))
            day = dt.date.fromisoformat(self.path.split("?")[0].rsplit("/", 1)[-1])
            data = json.dumps(grouped_body(day)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield MassiveRest(key="k", base_url=f"http://127.0.0.1:{httpd.server_address[1]}"), seen
    httpd.shutdown()


def loads(db_url):
    with connect(db_url) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT date, source, etag, rows FROM ohlcv_loads ORDER BY date")}  # fmt: skip


def bars(db_url, day):
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT k.symbol, o.open, o.high, o.low, o.close, o.volume FROM ohlcv o"
            " JOIN tickers k ON k.id = o.ticker_id WHERE o.date = %s ORDER BY 1",
            (day,),
        ).fetchall()


def sensor_requests(db_url, root):
    context = dg.build_sensor_context(
        resources={"flat_files": LocalFlatFiles(directory=str(root)),
                   "warehouse": PostgresResource(database_url=db_url)},
        repository_def=defs.get_repository_def(),
    )  # fmt: skip
    return ohlcv_final_files(context)


def test_tonight_from_grouped_daily_then_the_final_file_replaces_it(db_url, tmp_path, rest):
    provider, seen = rest
    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:-1], TICKERS)  # tonight's file is not published yet
    res = {**local_resources(db_url, root), "market_rest": provider}
    tags = {"dagster/asset_partition_range_start": str(DAYS[0]),
            "dagster/asset_partition_range_end": str(DAYS[-1])}  # fmt: skip
    result = dg.materialize([ohlcv.ohlcv], resources=res, tags=tags)
    assert result.success
    stored = loads(db_url)
    assert stored[DAYS[-1]][0] == "grouped_daily" and stored[DAYS[-1]][2] == len(TICKERS)
    assert all(stored[d][0] == "flat_file" and stored[d][1] for d in DAYS[:-1])
    assert [p for p, _ in seen] == [f"/v2/aggs/grouped/locale/us/market/stocks/{DAYS[-1]}"
                                    "?adjusted=false"]  # fmt: skip
    assert all(auth == "Bearer k" for _, auth in seen)
    provisional = bars(db_url, DAYS[-1])
    assert len(provisional) == len(TICKERS)

    assert isinstance(sensor_requests(db_url, root), dg.SkipReason)  # nothing new yet
    write_day(root, DAYS[-1], day_rows(DAYS[-1], TICKERS))  # published the next morning
    requests = sensor_requests(db_url, root)
    assert [r.partition_key for r in requests] == [str(DAYS[-1])]
    etag = requests[0].run_key.split(":", 1)[1]

    assert dg.materialize([ohlcv.ohlcv], resources=res, partition_key=str(DAYS[-1])).success
    assert loads(db_url)[DAYS[-1]][:2] == ("flat_file", etag)
    assert bars(db_url, DAYS[-1]) == provisional  # same bars, now final
    assert isinstance(sensor_requests(db_url, root), dg.SkipReason)

    write_day(root, DAYS[-1], day_rows(DAYS[-1], TICKERS, seed=1))  # republished
    again = sensor_requests(db_url, root)
    assert [r.partition_key for r in again] == [str(DAYS[-1])] and again[0].run_key != requests[
        0
    ].run_key


def test_without_a_rest_key_tonight_waits_for_the_file(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:-1], TICKERS)
    res = local_resources(db_url, root)  # MassiveRest without a key
    result = dg.materialize([ohlcv.ohlcv], resources=res, partition_key=str(DAYS[-1]))
    assert result.success
    assert result.asset_materializations_for_node("ohlcv") == []
    observed = result.asset_observations_for_node("ohlcv")
    assert observed and "MASSIVE_API_KEY" in observed[0].metadata["reason"].value
    assert loads(db_url) == {}
    # an older session without a file is an error, not a wait
    (root / day_aggs_key(DAYS[-2])).unlink()
    failed = dg.materialize([ohlcv.ohlcv], resources=res, partition_key=str(DAYS[-2]),
                            raise_on_error=False)  # fmt: skip
    assert not failed.success


def test_grouped_daily_parses_like_a_flat_file():
    day = dt.date(2024, 7, 3)
    table = grouped_daily_bars(grouped_body(day), day, "test")
    assert table.column("ticker").to_pylist() == TICKERS
    assert table.column("date").to_pylist() == [day] * 3
    body = grouped_body(day)
    del body["results"][1]["n"]
    assert grouped_daily_bars(body, day, "test").column("transactions").null_count == 1


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b["results"][0].update(c="12.5"), "c is '12.5', not a number"),
        (lambda b: b["results"][0].update(l=1e9), "low <= open, close <= high"),
        (lambda b: b["results"][0].pop("T"), "no ticker"),
        (lambda b: b.update(results="nope"), "results is not a list"),
    ],
)  # fmt: skip
def test_a_malformed_grouped_daily_names_the_result(mutate, message):
    day = dt.date(2024, 7, 3)
    body = grouped_body(day)
    mutate(body)
    with pytest.raises(MalformedResponse, match=message):
        grouped_daily_bars(body, day, "grouped daily 2024-07-03")


def test_a_response_for_the_wrong_date_or_an_empty_one_is_refused():
    with pytest.raises(MalformedResponse, match="is for 2024-07-02, not 2024-07-03"):  # bar date
        grouped_daily_bars(grouped_body(dt.date(2024, 7, 2)), dt.date(2024, 7, 3), "gd")
    with pytest.raises(GroupedDailyEmpty, match="no bars for 2024-07-04"):
        grouped_daily_bars({"status": "OK", "resultsCount": 0}, dt.date(2024, 7, 4), "gd")


def test_tonights_grouped_daily_not_published_yet_asks_for_a_retry(tmp_path):
    """An empty grouped daily for tonight retries later; for an older session it is an error."""

    class NotYet(MassiveRest):
        def grouped_daily(self, session):
            raise GroupedDailyEmpty(f"grouped daily {session}: no bars for {session}")

    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:-1], TICKERS)
    files, rest = LocalFlatFiles(directory=str(root)), NotYet(key="k")
    with pytest.raises(dg.RetryRequested):
        ohlcv._read_month(files, rest, [DAYS[-1]])
    (root / day_aggs_key(DAYS[-2])).unlink()
    with pytest.raises(dg.Failure, match="no bars for"):
        ohlcv._read_month(files, rest, [DAYS[-2]])


def test_the_sensor_at_a_fixed_clock_the_morning_after_a_holiday(db_url, tmp_path, monkeypatch):
    """Friday 2024-07-05 09:00 New York (Thursday was July 4th): the sensor looks at the five
    sessions through Wednesday 07-03 (Friday has not closed) and loads 07-03's new file."""
    import pandas as pd

    from kapman_assets import jobs
    from kapman_resources import calendar

    clock = pd.Timestamp("2024-07-05 09:00", tz="America/New_York")
    monkeypatch.setattr(
        jobs, "last_completed_session", lambda: calendar.last_completed_session(clock)
    )
    days = nyse_sessions("2024-06-26", "2024-07-03")
    root = tmp_path / "mirror"
    write_mirror(root, days[:-1], TICKERS)
    res = local_resources(db_url, root)
    tags = {"dagster/asset_partition_range_start": str(days[0]),
            "dagster/asset_partition_range_end": str(days[-2])}  # fmt: skip
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=tags).success
    assert isinstance(sensor_requests(db_url, root), dg.SkipReason)
    write_day(root, days[-1], day_rows(days[-1], TICKERS))
    assert [r.partition_key for r in sensor_requests(db_url, root)] == ["2024-07-03"]


def test_retention_trims_the_bookkeeping_with_its_table(db_url):
    from kapman_resources.retention import apply_retention

    with connect(db_url) as conn:
        conn.execute("INSERT INTO ohlcv_loads (date, source, rows) VALUES ('2024-01-02',"
                     " 'flat_file', 1), ('2024-03-01', 'grouped_daily', 1)")  # fmt: skip
        conn.execute("INSERT INTO options_chain_fetches (date, underlying, status) VALUES"
                     " ('2024-01-02', 'AAPL', 'ok'), ('2024-03-01', 'AAPL', 'ok')")  # fmt: skip
        conn.commit()
        apply_retention(conn, "ohlcv", dt.date(2024, 2, 1))
        assert [r[0] for r in conn.execute("SELECT date FROM ohlcv_loads")] == [dt.date(2024, 3, 1)]
        assert conn.execute("SELECT count(*) FROM options_chain_fetches").fetchone()[0] == 2
        apply_retention(conn, "options_chains", dt.date(2024, 2, 1))
        assert conn.execute("SELECT count(*) FROM options_chain_fetches").fetchone()[0] == 1


def test_grouped_daily_bars_stamped_at_the_close_are_that_session():
    """Massive's examples stamp daily bars at 16:00 New York; the date is what counts."""
    day = dt.date(2024, 7, 3)
    body = grouped_body(day)
    close_ms = int(pd.Timestamp("2024-07-03 16:00", tz="America/New_York").value // 1_000_000)
    for r in body["results"]:
        r["t"] = close_ms
    table = grouped_daily_bars(body, day, "gd")
    assert table.column("date").to_pylist() == [day] * 3
