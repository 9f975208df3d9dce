"""The options and analytics layers through real Dagster materializations on the demo market."""

import dagster as dg
import pytest
from helpers.resources import local_resources

from kapman_assets import ohlcv, options, reference_data, ticker_analysis
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import connect
from kapman_resources.providers import DemoFlatFiles, DemoMassiveRest, MassiveRest

SCOPE = ["AAPL", "NVDA", "MSFT", "ZZZNOTATICKER"]
DAYS = nyse_sessions("2026-06-01", "2026-11-20")
CHAIN_DAYS = DAYS[-2:]


def resources(db_url, root):
    flat = DemoFlatFiles(directory=str(root), tickers=30, start=str(DAYS[0]))
    return {**local_resources(db_url, root), "flat_files": flat,
            "market_rest": DemoMassiveRest(flat_files=flat)}  # fmt: skip


def rng(days):
    return {"dagster/asset_partition_range_start": str(days[0]),
            "dagster/asset_partition_range_end": str(days[-1])}  # fmt: skip


def table(db_url, name, order="ticker, date"):
    with connect(db_url) as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()  # noqa: S608


@pytest.fixture
def layer(db_url, tmp_path):
    with connect(db_url) as conn:
        conn.execute("DELETE FROM portfolio_tickers WHERE symbol <> ALL(%s)", (SCOPE,))
        conn.execute("INSERT INTO portfolio_tickers (portfolio_id, symbol)"
                     " SELECT id, 'ZZZNOTATICKER' FROM portfolios LIMIT 1")  # fmt: skip
        conn.commit()
    res = resources(db_url, tmp_path / "mirror")
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=rng(DAYS)).success
    assert dg.materialize([reference_data.splits, reference_data.tickers], resources=res).success
    return db_url, res


def test_chains_summary_metrics_and_wyckoff_fill_for_the_scope(layer):
    db_url, res = layer
    chains = dg.materialize(
        [options.options_chains, options.options_daily_summary,
         *dg.load_asset_checks_from_modules([options])],
        resources=res, tags=rng(CHAIN_DAYS))  # fmt: skip
    assert chains.success
    meta = chains.asset_materializations_for_node("options_chains")[0].metadata
    assert meta["tickers_not_in_tickers"].value == "ZZZNOTATICKER"
    assert meta["chains_failed (ticker-sessions)"].value == 0
    assert all(e.passed for e in chains.get_asset_check_evaluations())
    with connect(db_url) as conn:
        per = conn.execute("SELECT date, underlying, count(*) FROM options_chains GROUP BY 1, 2"
                           " ORDER BY 1, 2").fetchall()  # fmt: skip
        fetches = conn.execute("SELECT underlying, status FROM options_chain_fetches"
                               " WHERE date = %s ORDER BY 1", (CHAIN_DAYS[-1],)).fetchall()  # fmt: skip
    assert {(d, u) for d, u, _ in per} == {(d, u) for d in CHAIN_DAYS for u in SCOPE[:3]}
    assert all(n > 100 for *_, n in per)
    assert ("ZZZNOTATICKER", "unknown") in fetches
    summary = table(db_url, "options_daily_summary")
    assert len(summary) == len(CHAIN_DAYS) * 3

    window = DAYS[-5:]
    analysis = dg.materialize(
        [ticker_analysis.ticker_analysis, *dg.load_asset_checks_from_modules([ticker_analysis])],
        resources=res, tags=rng(window))  # fmt: skip
    assert analysis.success
    assert all(e.passed for e in analysis.get_asset_check_evaluations())
    metrics = table(db_url, "ticker_metrics")
    assert len(metrics) == len(window) * 3
    with connect(db_url) as conn:
        iv = conn.execute("SELECT date, count(iv_hv_diff), count(options_date) FROM ticker_metrics"
                          " GROUP BY date ORDER BY date").fetchall()  # fmt: skip
        snap = conn.execute("SELECT technical_indicators_json, dealer_metrics_json,"
                            " volatility_metrics_json, price_metrics_json FROM daily_snapshots"
                            " WHERE date = %s", (CHAIN_DAYS[-1],)).fetchall()  # fmt: skip
    assert [r[1] for r in iv] == [0, 0, 0, 3, 3]  # IV-HV only where a chain was stored
    assert len(snap) == 3 and all(all(group is not None for group in row) for row in snap)
    assert all(len(row[0]) >= 84 for row in snap)


def test_rerunning_a_partition_leaves_identical_rows(layer):
    db_url, res = layer
    day = {"dagster/partition": str(DAYS[-1])}
    assets = [
        options.options_chains,
        options.options_daily_summary,
        ticker_analysis.ticker_analysis,
    ]
    assert dg.materialize(assets, resources=res, tags=day).success
    before = {t: table(db_url, t) for t in ("options_daily_summary", "ticker_metrics",
                                             "wyckoff_snapshots")}  # fmt: skip
    chains = table(db_url, "options_chains", "date, contract_ticker")
    assert dg.materialize(assets, resources=res, tags=day).success
    assert table(db_url, "options_chains", "date, contract_ticker") == chains
    for name, rows in before.items():
        assert table(db_url, name) == rows, name


def test_the_live_api_refuses_a_past_session_and_writes_nothing(layer):
    db_url, res = layer
    live = {**res, "market_rest": MassiveRest(key="k", base_url="http://127.0.0.1:9")}
    result = dg.materialize([options.options_chains], resources=live,
                            partition_key=str(DAYS[-3]), raise_on_error=False)  # fmt: skip
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "only returns the chain as of now" in str(failure.event_specific_data.error.to_string())
    assert table(db_url, "options_chains", "date") == []


def test_an_unclosed_session_is_refused(layer, monkeypatch):
    from kapman_assets import partitions

    db_url, res = layer
    monkeypatch.setattr(partitions, "session_closed", lambda day, now=None: day < DAYS[-1])
    result = dg.materialize([ohlcv.ohlcv], resources=res, partition_key=str(DAYS[-1]),
                            raise_on_error=False)  # fmt: skip
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "has not closed yet" in str(failure.event_specific_data.error.to_string())


class TonightMassiveRest(MassiveRest):
    """The live client, with the replayed pages standing for tonight's snapshot (the "only
    tonight" guard has its own tests)."""

    def refuse_unavailable(self, sessions):
        return None


def test_a_rejected_key_fails_clearly_writes_nothing_and_a_rerun_recovers(layer):
    from helpers.rest_server import Server, contract

    db_url, res = layer
    server = Server()
    try:
        for symbol in SCOPE[:3]:
            server.script[symbol] = [(401, {"status": "ERROR"}, None)]
        bad = {**res, "market_rest": TonightMassiveRest(key="wrong", base_url=server.url)}
        day = str(CHAIN_DAYS[-1])
        result = dg.materialize([options.options_chains], resources=bad, partition_key=day,
                                raise_on_error=False)  # fmt: skip
        assert not result.success
        failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert "MASSIVE_API_KEY was rejected" in failure.event_specific_data.error.message
        assert len(server.requests) == 1  # no storm
        assert table(db_url, "options_chains", "date") == []
        for n, symbol in enumerate(SCOPE[:3]):  # distinct OCC tickers per underlying
            server.paged(symbol, [contract(10 * n + i) for i in range(3)], per_page=2)
        good = {**res, "market_rest": TonightMassiveRest(key="right", base_url=server.url,
                                                         backoff_seconds=0.01)}  # fmt: skip
        assert dg.materialize([options.options_chains], resources=good, partition_key=day).success
        assert len(table(db_url, "options_chains", "date")) == 3 * 3
    finally:
        server.httpd.shutdown()


def test_migration_007_moves_stored_rows_into_monthly_partitions(fresh_db_url, tmp_path):
    import shutil

    from kapman_resources.database import SQL_DIR, migrate

    before = tmp_path / "sql"
    before.mkdir()
    for path in SQL_DIR.glob("*.sql"):
        if path.name < "007":
            shutil.copy(path, before / path.name)
    with connect(fresh_db_url) as conn:
        migrate(conn, before)
        conn.execute(
            "INSERT INTO ticker_metrics (ticker, date, close) VALUES ('AAPL', '2026-11-30', 1.5)"
        )
        conn.execute(
            "INSERT INTO wyckoff_snapshots (ticker, date, bc_score) VALUES ('AAPL', '2026-11-30', 3)"
        )
        conn.commit()
        assert "007" in migrate(conn)
        kinds = dict(conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname IN ('ticker_metrics',"
            " 'wyckoff_snapshots', 'options_daily_summary')").fetchall())  # fmt: skip
        assert set(kinds.values()) <= {"p"} or conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()  # fmt: skip
        assert conn.execute("SELECT close FROM ticker_metrics").fetchall() == [(1.5,)]
        assert conn.execute("SELECT bc_score FROM daily_snapshots").fetchall() == [(3,)]


def test_a_one_session_rerun_writes_the_rows_the_backfill_wrote(db_url, tmp_path):
    """The Wyckoff state depends on where its series starts: the evening's one-session run
    and the backfill must both start at the first stored session, or a range opened before a
    fixed-length warm-up is seen by one and not the other (phase, scores and signal differ)."""
    days = nyse_sessions("2024-06-03", "2026-11-20")
    flat = DemoFlatFiles(directory=str(tmp_path / "mirror"), tickers=60, start=str(days[0]))
    res = {**local_resources(db_url, tmp_path / "mirror"), "flat_files": flat}
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=rng(days)).success
    assert dg.materialize([reference_data.splits, reference_data.tickers], resources=res).success
    with connect(db_url) as conn:  # the scope: every demo ticker
        conn.execute("DELETE FROM portfolio_tickers")
        conn.execute("INSERT INTO portfolio_tickers (portfolio_id, symbol)"
                     " SELECT (SELECT min(id) FROM portfolios), symbol FROM tickers"
                     " WHERE id IN (SELECT DISTINCT ticker_id FROM ohlcv)")  # fmt: skip
        conn.commit()
    backfill = days[ticker_analysis.WARMUP_SESSIONS :]
    assert dg.materialize([ticker_analysis.ticker_analysis], resources=res,
                          tags=rng(backfill)).success  # fmt: skip
    reruns = backfill[-3:]
    query = "SELECT * FROM {} WHERE date = ANY(%s) ORDER BY ticker, date"
    with connect(db_url) as conn:
        before = {t: conn.execute(query.format(t), (reruns,)).fetchall()
                  for t in ("wyckoff_snapshots", "ticker_metrics")}  # fmt: skip
    assert len(before["wyckoff_snapshots"]) >= 3 * 50
    for day in reruns:
        assert dg.materialize([ticker_analysis.ticker_analysis], resources=res,
                              tags={"dagster/partition": str(day)}).success  # fmt: skip
    with connect(db_url) as conn:
        for name, rows in before.items():
            assert conn.execute(query.format(name), (reruns,)).fetchall() == rows, name
