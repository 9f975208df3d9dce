"""Forecasts and recommendations through real Dagster materializations on the demo market."""

import datetime as dt
import json

import dagster as dg
import pytest
from helpers.claude import answer, claude_with, message
from helpers.resources import local_resources

from kapman_assets import (
    calibration,
    forecasts,
    ohlcv,
    options,
    outcomes,
    recommendations,
    reference_data,
    ticker_analysis,
    universe,
)
from kapman_assets.analytics import option_strategies
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import connect
from kapman_resources.providers import DemoFlatFiles, DemoMassiveRest

SCOPE = ["AAPL", "NVDA", "MSFT"]
DAYS = nyse_sessions("2024-09-03", "2026-11-20")
ANALYSED = DAYS[-300:]
FORECAST_DAYS = DAYS[-45:]
CHAIN_DAYS = DAYS[-2:]
IDEA_DAY = DAYS[-21]  # an idea with a chain on its day and at its 20-session horizon


def rng(days):
    return {"dagster/asset_partition_range_start": str(days[0]),
            "dagster/asset_partition_range_end": str(days[-1])}  # fmt: skip


def rows(db_url, query, params=()):
    with connect(db_url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def analysed(db_url, tmp_path):
    """Bars of 30 demo tickers, chains of two sessions, 300 analysed sessions of the scope, the
    liquid universe's analytics and signal edge."""
    with connect(db_url) as conn:
        conn.execute("DELETE FROM portfolio_tickers WHERE symbol <> ALL(%s)", (SCOPE,))
        conn.commit()
    flat = DemoFlatFiles(directory=str(tmp_path / "mirror"), tickers=30, start=str(DAYS[0]))
    res = {**local_resources(db_url, tmp_path / "mirror"), "flat_files": flat,
           "market_rest": DemoMassiveRest(flat_files=flat)}  # fmt: skip
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=rng(DAYS)).success
    assert dg.materialize([reference_data.splits, reference_data.tickers], resources=res).success
    assert dg.materialize([options.options_chains, options.options_daily_summary],
                          resources=res, tags=rng(CHAIN_DAYS)).success  # fmt: skip
    assert dg.materialize([ticker_analysis.ticker_analysis], resources=res,
                          tags=rng(ANALYSED)).success  # fmt: skip
    assert dg.materialize([universe.universe_analysis], resources=res).success
    return db_url, res


def test_forecasts_are_walk_forward_and_reruns_touch_only_their_slice(analysed):
    url, res = analysed
    checks = dg.load_asset_checks_from_modules([forecasts])
    result = dg.materialize([forecasts.directional_forecasts, *checks], resources=res,
                            tags=rng(FORECAST_DAYS))  # fmt: skip
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    models = rows(url, "SELECT fit_date, training_end, training_rows, shrink_weight,"
                  " brier_out_of_sample FROM forecast_models ORDER BY fit_date")  # fmt: skip
    month_starts = sorted({forecasts.month_start(d) for d in FORECAST_DAYS})
    assert [m[0] for m in models] == month_starts
    for fit_date, training_end, n, weight, _ in models:
        # labels known on the fit date: the last training row is >= HORIZON sessions before it
        assert nyse_sessions(training_end, fit_date)[:-1][-forecasts.HORIZON :][0] == training_end
        assert n >= 200 and 0 <= weight <= 1
    stored = rows(url, "SELECT date, ticker, p_up, model_fit_date FROM directional_forecasts"
                  " ORDER BY date, ticker")  # fmt: skip
    assert {r[0] for r in stored} == set(FORECAST_DAYS)
    assert {r[1] for r in stored} == set(SCOPE)
    assert all(0 <= r[2] <= 1 and r[3] == forecasts.month_start(r[0]) for r in stored)

    one = FORECAST_DAYS[-3]
    with connect(url) as conn:  # tamper with one other session: a rerun must not touch it
        conn.execute("UPDATE directional_forecasts SET p_up = 0.5 WHERE date = %s",
                     (FORECAST_DAYS[0],))  # fmt: skip
        conn.commit()
    before = rows(url, "SELECT * FROM directional_forecasts ORDER BY date, ticker")
    assert dg.materialize([forecasts.directional_forecasts], resources=res,
                          partition_key=str(one)).success  # fmt: skip
    assert rows(url, "SELECT * FROM directional_forecasts ORDER BY date, ticker") == before


def _meta(result, key):
    events = result.asset_materializations_for_node("directional_forecasts")
    assert {repr(e.metadata[key]) for e in events} == {repr(events[0].metadata[key])}
    return events[0].metadata[key].value  # one value for every partition of the run


def test_a_months_model_is_fitted_once_and_a_refit_shows_until_the_month_is_rerun(analysed):
    url, res = analysed
    check = forecasts.directional_forecasts_model_current
    first = dg.materialize([forecasts.directional_forecasts], resources=res,
                           tags=rng(FORECAST_DAYS))  # fmt: skip
    assert first.success and _meta(first, "models_reused") == 0
    models = "SELECT fit_date, fitted_at, model_version FROM forecast_models ORDER BY 1"
    fitted = rows(url, models)
    assert {m[2] for m in fitted} == {forecasts.MODEL_VERSION}
    one = FORECAST_DAYS[-3]
    again = dg.materialize([forecasts.directional_forecasts, check], resources=res,
                           partition_key=str(one))  # fmt: skip
    assert _meta(again, "models_reused") == 1 and _meta(again, "models_fitted") == 0
    assert _meta(again, "training_rows_read") == 0  # tonight's run does not read the universe
    assert rows(url, models) == fitted
    assert again.get_asset_check_evaluations()[0].passed

    refit = dg.materialize(
        [forecasts.directional_forecasts, check], resources=res, partition_key=str(one),
        run_config={"ops": {"directional_forecasts": {"config": {"refit": True}}}})  # fmt: skip
    assert _meta(refit, "models_fitted") == 1
    (evaluation,) = refit.get_asset_check_evaluations()
    month = [d for d in FORECAST_DAYS if forecasts.month_start(d) == forecasts.month_start(one)]
    earlier = [str(d) for d in month if d != one]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["sessions_on_an_earlier_fit"].value == len(earlier)
    assert evaluation.metadata["rerun (ideas job) sessions"].value == ", ".join(earlier)
    rerun = dg.materialize([forecasts.directional_forecasts, check], resources=res,
                           tags=rng(month))  # fmt: skip
    assert rerun.get_asset_check_evaluations()[0].passed


def test_models_of_another_version_are_refitted(analysed):
    url, res = analysed
    day = FORECAST_DAYS[-1]
    assert dg.materialize([forecasts.directional_forecasts], resources=res,
                          partition_key=str(day)).success  # fmt: skip
    with connect(url) as conn:  # a model from before the current code
        conn.execute("UPDATE forecast_models SET model_version = 1, coefficients ="
                     " array_fill(0.0::float8, ARRAY[cardinality(coefficients)])")  # fmt: skip
        conn.commit()
    result = dg.materialize([forecasts.directional_forecasts], resources=res,
                            partition_key=str(day))  # fmt: skip
    assert _meta(result, "models_fitted") == 1 and _meta(result, "models_reused") == 0
    assert rows(url, "SELECT DISTINCT model_version FROM forecast_models") == [
        (forecasts.MODEL_VERSION,)]  # fmt: skip


def test_ideas_on_listed_contracts_and_skips_with_reasons(analysed):
    url, res = analysed
    assert dg.materialize([forecasts.directional_forecasts], resources=res,
                          tags=rng(FORECAST_DAYS)).success  # fmt: skip
    day, no_chain_day = CHAIN_DAYS[-1], FORECAST_DAYS[-10]
    with connect(url) as conn:  # crafted signals: the layer's input, not its output
        conn.execute("UPDATE wyckoff_snapshots SET signal = NULL WHERE date >= %s",
                     (FORECAST_DAYS[0],))  # fmt: skip
        for ticker, signal, when in [("AAPL", "ENTRY_SETUP", day), ("NVDA", "EXIT_NOW", day),
                                     ("MSFT", "STRONG_ENTRY", no_chain_day)]:  # fmt: skip
            conn.execute("UPDATE wyckoff_snapshots SET signal = %s WHERE ticker = %s AND date = %s",
                         (signal, ticker, when))  # fmt: skip
        conn.commit()
    checks = dg.load_asset_checks_from_modules([recommendations])
    result = dg.materialize([recommendations.recommendations, *checks], resources=res,
                            tags=rng(FORECAST_DAYS))  # fmt: skip
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations[recommendations.RECOMMENDATIONS_LEGS_LISTED].passed
    assert evaluations[recommendations.RECOMMENDATIONS_HAVE_A_SNAPSHOT].passed
    assert not evaluations[recommendations.RECOMMENDATION_SKIPS_BY_REASON].passed  # MSFT: warn

    skips = rows(url, "SELECT date, ticker, reason FROM recommendation_skips ORDER BY ticker")
    assert (no_chain_day, "MSFT", recommendations.NO_CHAIN) in skips
    ideas = rows(url, "SELECT r.ticker, r.strategy, r.direction, r.legs, r.rationale_source,"
                 " r.rationale, m.iv_hv_diff, r.chain_date, r.net_debit, r.max_loss"
                 " FROM recommendations r JOIN ticker_metrics m ON m.ticker = r.ticker"
                 " AND m.date = r.date ORDER BY r.ticker")  # fmt: skip
    accounted = {r[0] for r in ideas} | {s[1] for s in skips if s[0] == day}
    assert accounted == {"AAPL", "NVDA"}
    for (
        ticker,
        strategy,
        direction,
        legs,
        source,
        rationale,
        iv_hv,
        chain_date,
        _net,
        loss,
    ) in ideas:
        signal = {"AAPL": "ENTRY_SETUP", "NVDA": "EXIT_NOW"}[ticker]
        assert strategy == option_strategies.strategy_for(signal, iv_hv)
        assert direction == option_strategies.direction_of(signal)
        assert chain_date == day and source == "rules"
        assert "The idea is wrong on a close" in rationale
        assert rationale.count("\n") == 4  # thesis, evidence, dealers, risks, invalidation
        assert loss > 0
        for leg in legs:  # every leg is an exact stored contract of that session's chain
            (listed,) = rows(url, "SELECT strike, expiration, contract_type FROM options_chains"
                             " WHERE date = %s AND contract_ticker = %s",
                             (day, leg["contract_ticker"]))  # fmt: skip
            assert float(listed[0]) == leg["strike"]
            assert listed[1] == dt.date.fromisoformat(leg["expiration"])
    assert ideas, f"no idea on the demo chains: {skips}"


def test_claude_writes_the_rationale_through_the_sdk_and_every_call_is_audited(analysed):
    import httpx2

    url, res = analysed
    assert dg.materialize([forecasts.directional_forecasts], resources=res,
                          partition_key=str(CHAIN_DAYS[-1])).success  # fmt: skip
    with connect(url) as conn:
        conn.execute(
            "UPDATE wyckoff_snapshots SET signal = NULL WHERE date = %s", (CHAIN_DAYS[-1],)
        )
        conn.execute("UPDATE wyckoff_snapshots SET signal = 'ENTRY_SETUP' WHERE date = %s",
                     (CHAIN_DAYS[-1],))  # fmt: skip
        conn.commit()
    chosen = []

    def handler(request: httpx2.Request):
        ideas = json.loads(json.loads(request.content)["messages"][0]["content"])
        last = ideas["candidates"][-1]  # not necessarily the rules' pick
        chosen.append(last["id"])
        close = ideas["facts"]["close"]
        return message(answer(last["id"], level=round(close * 0.9, 2)))

    claude = {**res, "claude": claude_with(handler)}
    result = dg.materialize([recommendations.recommendations,
                             *dg.load_asset_checks_from_modules([recommendations])],
                            resources=claude, partition_key=str(CHAIN_DAYS[-1]))  # fmt: skip
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[recommendations.RECOMMENDATIONS_LEGS_LISTED]
    assert evaluations[recommendations.RECOMMENDATIONS_LLM_ANSWERS_ACCEPTED]
    ideas = rows(url, "SELECT ticker, candidate_id, rationale_source, rationale FROM"
                 " recommendations WHERE date = %s ORDER BY ticker", (CHAIN_DAYS[-1],))  # fmt: skip
    calls = rows(url, "SELECT ticker, model, outcome, input_tokens, response FROM llm_calls"
                 " WHERE date = %s ORDER BY ticker", (CHAIN_DAYS[-1],))  # fmt: skip
    assert ideas and len(calls) == len(ideas) == len(chosen)
    assert all(source == "llm" for _, _, source, _ in ideas)
    assert sorted(c for _, c, _, _ in ideas) == sorted(chosen)
    assert all(r.startswith("A spring held support") for *_, r in ideas)
    assert all(o == "accepted" and n == 900 and m == "claude-sonnet-4-5" for _, m, o, n, _ in calls)


def test_outcomes_resolve_at_the_horizon_with_marks_and_calibration(analysed):
    url, res = analysed
    assert dg.materialize([options.options_chains, options.options_daily_summary],
                          resources=res, partition_key=str(IDEA_DAY)).success  # fmt: skip
    assert dg.materialize(
        [ticker_analysis.ticker_analysis], resources=res, partition_key=str(IDEA_DAY)
    ).success  # IV - HV from that chain
    assert dg.materialize([forecasts.directional_forecasts], resources=res,
                          tags=rng(FORECAST_DAYS)).success  # fmt: skip
    with connect(url) as conn:
        conn.execute("UPDATE wyckoff_snapshots SET signal = NULL WHERE date >= %s", (IDEA_DAY,))
        conn.execute("UPDATE wyckoff_snapshots SET signal = 'ENTRY_SETUP' WHERE date = %s",
                     (IDEA_DAY,))  # fmt: skip
        conn.commit()
    assert dg.materialize([recommendations.recommendations], resources=res,
                          partition_key=str(IDEA_DAY)).success  # fmt: skip
    ideas = rows(url, "SELECT ticker, legs, entry_close, capital_required FROM recommendations")
    assert ideas, "no idea on the demo chain of the idea day"

    window = DAYS[-20:]  # resolves forecasts of DAYS[-40] .. DAYS[-21]
    checks = [*dg.load_asset_checks_from_modules([outcomes, calibration])]
    result = dg.materialize([outcomes.scored_outcomes, calibration.forecast_calibration, *checks],
                            resources=res, tags=rng(window))  # fmt: skip
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    scored = rows(url, "SELECT date, forecast_date, ticker, p_up, outcome FROM forecast_outcomes")
    starts = set(FORECAST_DAYS) & set(DAYS[-40:-20])
    assert {r[1] for r in scored} == starts
    close = dict(((t, d), c) for t, d, c in rows(
        url, "SELECT k.symbol, o.date, o.close FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
        " WHERE k.symbol = ANY(%s)", (SCOPE,)))  # fmt: skip
    for end, start, ticker, _, outcome in scored:
        assert DAYS.index(end) - DAYS.index(start) == forecasts.HORIZON
        assert outcome == int(close[(ticker, end)] > close[(ticker, start)])  # no demo splits here

    marked = rows(url, "SELECT ticker, date, recommendation_date, outcome, pnl, mark_source,"
                  " legs_marked, entry_value FROM recommendation_outcomes ORDER BY ticker")  # fmt: skip
    assert {r[0] for r in marked} == {i[0] for i in ideas}
    for ticker, end, start, _outcome, pnl, source, legs_marked, _entry in marked:
        assert (end, start) == (DAYS[-1], IDEA_DAY)
        legs = next(i[1] for i in ideas if i[0] == ticker)
        expected = 0.0
        for leg, mark in zip(legs, legs_marked, strict=True):
            # the horizon's mid, else the last stored mid (the strike left the listed grid)
            (when, bid, ask) = rows(url, "SELECT date, bid, ask FROM options_chains WHERE"
                                    " date <= %s AND contract_ticker = %s AND bid > 0 AND ask > 0"
                                    " ORDER BY date DESC LIMIT 1", (end, leg["contract_ticker"]))[0]  # fmt: skip
            assert mark["source"] == ("mid" if when == end else "stale")
            assert mark["price"] == pytest.approx(float(bid + ask) / 2)
            sign = 1 if leg["side"] == "buy" else -1
            expected += sign * 100 * (mark["price"] - leg["limit"])
        assert source in ("mid", "stale", "mixed") and float(pnl) == pytest.approx(expected)

    reports = rows(url, "SELECT date, period, subset, n, brier FROM forecast_calibration"
                   " ORDER BY date, period, subset")  # fmt: skip
    alltime = [r for r in reports if r[1] == "all" and r[2] == "forecasts"]
    assert len(alltime) == 1 and alltime[0][0] == window[-1] and alltime[0][3] == len(scored)
    p = [r[3] for r in scored]
    y = [r[4] for r in scored]
    assert alltime[0][4] == pytest.approx(
        sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / len(p)
    )
    weeks = {r[1] for r in reports if r[2] == "forecasts"} - {"all"}
    assert weeks == {f"week:{calibration.week_end(d)}" for d in window}
