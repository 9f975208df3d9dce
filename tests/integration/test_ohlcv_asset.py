"""The ohlcv asset through real Dagster materializations, including every kind of bad input."""

import datetime as dt
import gzip

import dagster as dg
import pytest
from helpers.flatfiles import HEADER, day_rows, write_day, write_mirror
from helpers.resources import local_resources as resources

from kapman_assets.ohlcv import OHLCV_CHECKS, ohlcv
from kapman_assets.retention import retention_log
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import DatabaseUnavailable, connect
from kapman_resources.flatfiles import day_aggs_key, new_york_midnight_ns

DAYS = nyse_sessions("2024-06-28", "2024-07-09")  # spans the July 4th holiday
TICKERS = ["AAPL", "MSFT", "NVDA", "ZZZT"]
RANGE_TAGS = {"dagster/asset_partition_range_start": str(DAYS[0]),
              "dagster/asset_partition_range_end": str(DAYS[-1])}  # fmt: skip
TARGET = DAYS[3]  # the session each bad-input case corrupts


def run(db_url, root, *, partition_key=None, tags=None, checks=False):
    assets = [ohlcv, retention_log, *OHLCV_CHECKS] if checks else [ohlcv]
    return dg.materialize(
        assets, resources=resources(db_url, root), partition_key=partition_key, tags=tags,
        raise_on_error=False,
    )  # fmt: skip


def table_rows(db_url):
    with connect(db_url) as conn:
        return conn.execute(
            "SELECT k.symbol, o.date, o.open, o.high, o.low, o.close, o.volume, o.transactions"
            " FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id ORDER BY o.date, k.symbol"
        ).fetchall()


def failure_message(result) -> str:
    events = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert events, "the run was expected to fail"
    return str(events[0].event_specific_data.error.to_string())


@pytest.fixture
def loaded(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS, TICKERS)
    result = run(db_url, root, tags=RANGE_TAGS)
    assert result.success
    return db_url, root


def test_single_run_range_backfill_loads_every_session(loaded):
    db_url, _ = loaded
    rows = table_rows(db_url)
    assert sorted({r[1] for r in rows}) == DAYS
    assert dt.date(2024, 7, 4) not in {r[1] for r in rows}
    assert len(rows) == len(DAYS) * len(TICKERS)


def test_rows_match_the_flat_file_values(loaded):
    db_url, _ = loaded
    expected = []
    for day in DAYS:
        for line in day_rows(day, TICKERS):
            t, v, o, c, h, lo, _, n = line.split(",")
            expected.append((t, day, float(o), float(h), float(lo), float(c), float(v), int(n)))
    assert table_rows(db_url) == sorted(expected, key=lambda r: (r[1], r[0]))


def test_rerunning_a_partition_is_idempotent_and_touches_only_its_day(loaded):
    db_url, root = loaded
    before = table_rows(db_url)
    write_day(root, TARGET, day_rows(TARGET, TICKERS, seed=99))
    assert run(db_url, root, partition_key=str(TARGET)).success
    after = table_rows(db_url)
    assert [r for r in after if r[1] != TARGET] == [r for r in before if r[1] != TARGET]
    assert [r for r in after if r[1] == TARGET] != [r for r in before if r[1] == TARGET]
    assert run(db_url, root, partition_key=str(TARGET)).success
    assert table_rows(db_url) == after


def _lines():
    return day_rows(TARGET, TICKERS)


def _replace_field(lines, row, col, value):
    fields = lines[row].split(",")
    fields[col] = value
    lines[row] = ",".join(fields)
    return lines


BAD_INPUTS = {
    "missing file": (None, "no flat file for"),
    "corrupt gzip": (b"\x1f\x8b\x08\x00garbage-not-deflate", "corrupt gzip"),
    "renamed column": ((HEADER.replace("close", "close_price"), _lines()), "missing column(s) ['close']"),
    "non-numeric price": ((HEADER, _replace_field(_lines(), 1, 2, "abc")), "unreadable values"),
    "negative price": ((HEADER, _replace_field(_lines(), 2, 4, "-3.5")), "row 3: prices must be positive"),
    "high below close": ((HEADER, _replace_field(_lines(), 0, 4, "0.01")),
                         "row 1: low <= open, close <= high violated"),
    "truncated second gzip member": (
        gzip.compress(("\n".join([HEADER, *_lines()[:2]]) + "\n").encode())
        + gzip.compress("\n".join(_lines()[2:]).encode())[:-9],
        "corrupt gzip"),
    "duplicate row": ((HEADER, _lines() + [_lines()[1]]), "duplicate row for ticker MSFT"),
    "wrong session date": ((HEADER, [ln.replace(str(new_york_midnight_ns(TARGET)),
                            str(new_york_midnight_ns(DAYS[0]))) for ln in _lines()]),
                           "window_start is not 00:00 New York"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_clearly_keeps_data_and_recovers(loaded, case):
    db_url, root = loaded
    before = table_rows(db_url)
    path = root / day_aggs_key(TARGET)
    content, expected = BAD_INPUTS[case]
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        header, lines = content
        path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode()))

    result = run(db_url, root, partition_key=str(TARGET))
    assert not result.success
    message = failure_message(result)
    assert expected in message
    assert str(TARGET) in message  # names the file
    assert table_rows(db_url) == before

    write_day(root, TARGET, day_rows(TARGET, TICKERS))  # the cause is fixed
    assert run(db_url, root, partition_key=str(TARGET)).success
    assert table_rows(db_url) == before


def test_a_bad_file_inside_a_range_backfill_writes_nothing(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS, TICKERS)
    (root / day_aggs_key(DAYS[-1])).write_bytes(b"not gzip at all")
    result = run(db_url, root, tags=RANGE_TAGS)
    assert not result.success
    assert table_rows(db_url) == []


def test_database_down_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://kapman:secret@127.0.0.1:{port}/kapman"
    with pytest.raises(DatabaseUnavailable) as err:
        connect(url)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "secret" not in str(err.value)
    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:1], TICKERS)
    result = run(url, root, partition_key=str(DAYS[0]))
    assert not result.success
    assert "cannot connect to the Kapman database" in failure_message(result)


def test_materialization_metadata_reports_rows_new_tickers_and_missing_watchlist(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:2], ["AAPL", "NEWCO"])
    result = run(db_url, root, partition_key=str(DAYS[1]))
    meta = result.asset_materializations_for_node("ohlcv")[0].metadata
    assert meta["dagster/partition_row_count"].value == 2
    assert meta["dagster/table_name"].value == "public.ohlcv"
    assert meta["new_tickers"].value == 2
    missing = meta["watchlist_missing"].value.split(", ")
    assert "AAPL" not in missing and "MSFT" in missing and "NVDA" in missing


def test_reference_assets_fill_splits_and_ticker_attributes(db_url, tmp_path):
    import json

    from kapman_assets.reference_data import splits, tickers

    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:2], ["AAPL", "NVDA"])
    (root / "reference").mkdir()
    (root / "reference" / "splits.json").write_text(
        json.dumps(
            {
                "results": [
                    {
                        "ticker": "NVDA",
                        "execution_date": "2024-06-10",
                        "split_from": 1,
                        "split_to": 10,
                    }
                ]
            }
        )
    )
    (root / "reference" / "tickers.json").write_text(
        json.dumps(
            {"results": [{"ticker": "NVDA", "name": "NVIDIA Corp", "type": "CS", "active": True}]}
        )
    )
    assert run(db_url, root, partition_key=str(DAYS[0])).success
    result = dg.materialize([splits, tickers], resources=resources(db_url, root))
    assert result.success
    with connect(db_url) as conn:
        assert conn.execute("SELECT ticker, execution_date, split_to FROM splits").fetchall() == [
            ("NVDA", dt.date(2024, 6, 10), 10)
        ]
        rows = dict(conn.execute("SELECT symbol, name FROM tickers").fetchall())
    assert rows == {"AAPL": None, "NVDA": "NVIDIA Corp"}


def test_a_multi_member_gzip_file_is_read_whole(db_url, tmp_path):
    """Concatenated gzip members are one valid file: every member's rows must load."""
    root = tmp_path / "mirror"
    lines = day_rows(TARGET, TICKERS)
    path = root / day_aggs_key(TARGET)
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(("\n".join([HEADER, *lines[:2]]) + "\n").encode())
                     + gzip.compress(("\n".join(lines[2:]) + "\n").encode()))  # fmt: skip
    assert run(db_url, root, partition_key=str(TARGET)).success
    assert len(table_rows(db_url)) == len(TICKERS)


def test_seen_dates_come_from_stored_bars_not_from_a_failed_load(db_url, tmp_path):
    from kapman_assets.reference_data import tickers

    root = tmp_path / "mirror"
    write_mirror(root, DAYS[:3], ["AAPL"])
    assert run(
        db_url,
        root,
        tags={
            "dagster/asset_partition_range_start": str(DAYS[0]),
            "dagster/asset_partition_range_end": str(DAYS[2]),
        },
    ).success
    write_day(root, DAYS[3], day_rows(DAYS[3], ["AAPL"]))
    with connect(db_url) as conn:  # the write itself fails, after ticker ids were resolved
        # a trigger, not a CHECK constraint: TimescaleDB refuses ADD CONSTRAINT on a hypertable
        # with compression enabled
        conn.execute(
            "CREATE FUNCTION refuse_day() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused %', NEW.date; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_day BEFORE INSERT ON ohlcv FOR EACH ROW"
            f" WHEN (NEW.date = '{DAYS[3]}') EXECUTE FUNCTION refuse_day()"
        )
        conn.commit()
    assert not run(db_url, root, partition_key=str(DAYS[3])).success
    assert dg.materialize([tickers], resources=resources(db_url, root)).success
    with connect(db_url) as conn:
        seen = dict((r[0], r[1:]) for r in conn.execute(
            "SELECT symbol, first_seen, last_seen, active FROM tickers"))  # fmt: skip
    assert seen["AAPL"] == (DAYS[0], DAYS[2], True)
