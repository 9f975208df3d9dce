"""Ideas layer: `recommendations` on real listed contracts, `recommendation_skips` (why an
actionable signal got no idea), and their checks (docs/domain.md, "Option strategies").

For each scope ticker with an actionable signal on session D: the strategy by the table from
the signal and IV - HV; candidates from the stored chain of D by the real-strike rules (exact
rows, liquidity filters, nearest listed strike to the target delta); the rule-based choice and
a rationale written from the same facts. Without a chain of D, a forecast, IV - HV or a valid
contract there is no idea, and the reason is kept in `recommendation_skips`.
"""

import datetime as dt
import json
from functools import partial

import dagster as dg
import pandas as pd
from psycopg import sql

from kapman_assets import forecasts
from kapman_assets.analytics import option_strategies as strategies
from kapman_assets.analytics.rationale import rationale_text, rule_rationale
from kapman_assets.check_helpers import examples
from kapman_assets.llm_rationale import Budget, advise
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window, window_bounds
from kapman_resources.claude import ClaudeResource
from kapman_resources.database import watchlist_symbols
from kapman_resources.warehouse import PostgresResource

GROUP = forecasts.GROUP
RECOMMENDATIONS_LEGS_LISTED = "recommendations_legs_listed"
RECOMMENDATIONS_HAVE_A_SNAPSHOT = "recommendations_have_a_snapshot"
RECOMMENDATION_SKIPS_BY_REASON = "recommendation_skips_by_reason"
RECOMMENDATIONS_LLM_ANSWERS_ACCEPTED = "recommendations_llm_answers_accepted"
RECOMMENDATION_COLUMNS = (
    "date", "ticker", "strategy", "direction", "p_up", "horizon_sessions", "entry_close",
    "chain_date", "legs", "net_debit", "max_loss", "max_profit", "breakeven", "capital_required",
    "expiration", "dte", "signal", "rationale", "rationale_source", "candidate_id", "candidates",
    "model_fit_date", "facts_json",
)  # fmt: skip
DELETE_SKIPS = "DELETE FROM recommendation_skips WHERE date >= %s AND date < %s"
DELETE_LLM_CALLS = "DELETE FROM llm_calls WHERE date >= %s AND date < %s"
INSERT_LLM_CALL = ("INSERT INTO llm_calls (date, ticker, model, prompt, response, input_tokens,"
                   " output_tokens, cache_read_tokens, outcome) VALUES"
                   " (%s, %s, %s, %s, %s, %s, %s, %s, %s)")  # fmt: skip
INSERT_SKIP = ("INSERT INTO recommendation_skips (date, ticker, signal, strategy, reason,"
               " detail) VALUES (%s, %s, %s, %s, %s, %s)")  # fmt: skip
NO_CHAIN = "no option chain stored for the session"
NO_FORECAST = "no directional forecast for the session"
NO_IV = "IV - HV unknown (no options summary)"
NO_CONTRACT = "no listed contract passes the real-strike rules in the DTE window"
CHAIN_COLUMNS = ["date", "underlying", "contract_ticker", "expiration", "strike",
                 "contract_type", "open_interest", "implied_volatility", "delta", "bid", "ask",
                 "underlying_price", "shares_per_contract"]  # fmt: skip


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None


def _signals(conn, lo: dt.date, hi: dt.date) -> pd.DataFrame:
    """Actionable signals of the scope in [lo, hi), with everything the idea cites."""
    scope = watchlist_symbols(conn)
    rows = conn.execute(
        "SELECT w.date, w.ticker, w.signal, w.wyckoff_phase, w.range_type, w.range_support,"
        " w.range_resistance, w.events, w.bc_score, w.spring_score, w.composite_score,"
        " m.close, m.atr_14, m.iv_hv_diff, m.hv_20, f.p_up, f.horizon_sessions,"
        " f.model_fit_date, o.dealer_position, o.gamma_flip_level, o.call_wall_primary,"
        " o.put_wall_primary, o.iv_30, e.n AS edge_n, e.excess_return AS edge_excess_return,"
        " e.excess_ci_lo AS edge_ci_lo, e.excess_ci_hi AS edge_ci_hi, e.date AS edge_as_of"
        " FROM wyckoff_snapshots w"
        " JOIN ticker_metrics m ON m.ticker = w.ticker AND m.date = w.date"
        " LEFT JOIN directional_forecasts f ON f.ticker = w.ticker AND f.date = w.date"
        " LEFT JOIN options_daily_summary o ON o.ticker = w.ticker AND o.date = w.date"
        " LEFT JOIN LATERAL (SELECT * FROM signal_edge s WHERE s.kind = 'signal'"
        "  AND s.name = w.signal AND s.horizon = %s AND s.date <= w.date"
        "  ORDER BY s.date DESC LIMIT 1) e ON true"
        " WHERE w.date >= %s AND w.date < %s AND w.signal = ANY(%s) AND w.ticker = ANY(%s)"
        " ORDER BY w.date, w.ticker",
        (forecasts.HORIZON, lo, hi, list(strategies.SIGNAL_DIRECTION), scope),
    )
    columns = [c.name for c in rows.description]
    return pd.DataFrame(rows.fetchall(), columns=columns)


def _jsonable(value):
    """A fact as JSON: numbers (Decimal, numpy) as floats, dates as text, NaN as None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return str(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return _float(value)


def _facts(signal: pd.Series) -> dict:
    facts = {k: _jsonable(v) for k, v in signal.items()}
    facts["horizon"] = int(facts["horizon_sessions"] or forecasts.HORIZON)
    facts["events"] = facts["events"] or []
    edge = {k: facts.pop(f"edge_{k}") for k in ("n", "excess_return", "ci_lo", "ci_hi", "as_of")}
    facts["edge"] = {**edge, "horizon": facts["horizon"]} if edge["n"] else None
    return facts


def rules_only(facts: dict, found: list, pick) -> tuple:
    """The advisor without an LLM: the rule-based choice and rationale."""
    return pick, rule_rationale(pick, facts), "rules", None


def idea_for(
    signal: pd.Series, chain: pd.DataFrame, advisor=rules_only
) -> tuple[dict | None, tuple | None, dict | None]:
    """(recommendation row, None, audit) or (None, skip row, None) for one ticker-day.

    `advisor(facts, candidates, rule pick)` returns (choice, rationale parts, source, audit).
    """
    day, ticker, name = signal["date"], signal["ticker"], signal["signal"]
    strategy = strategies.strategy_for(name, _float(signal["iv_hv_diff"]))
    if chain.empty:
        return None, (day, ticker, name, strategy, NO_CHAIN, None), None
    if _float(signal["p_up"]) is None:
        return None, (day, ticker, name, strategy, NO_FORECAST, None), None
    if strategy is None:
        return None, (day, ticker, name, None, NO_IV, None), None
    direction = strategies.direction_of(name)
    spot = _float(chain["underlying_price"].dropna().iloc[0]) if chain["underlying_price"].notna(
        ).any() else _float(signal["close"])  # fmt: skip
    tradable = strategies.tradable_contracts(chain, day)
    found = strategies.candidates(
        strategy, direction, tradable, spot,
        support=_float(signal["range_support"]), put_wall=_float(signal["put_wall_primary"]),
        call_wall=_float(signal["call_wall_primary"]),
    )  # fmt: skip
    pick = strategies.rule_choice(found)
    if pick is None:
        detail = (f"{len(tradable)} of {len(chain)} contracts pass the liquidity and quote"
                  f" filters; none fits {strategy}'s DTE window, delta band and strike limits")  # fmt: skip
        return None, (day, ticker, name, strategy, NO_CONTRACT, detail), None
    facts = _facts(signal)
    choice, parts, source, audit = advisor(facts, found, pick)
    record = choice.as_record()
    row = {
        "date": day, "ticker": ticker, "strategy": strategy, "direction": direction,
        "p_up": float(signal["p_up"]), "horizon_sessions": facts["horizon"],
        "entry_close": float(signal["close"]), "chain_date": day,
        "legs": json.dumps(record["legs"]), "net_debit": choice.net_debit,
        "max_loss": choice.max_loss, "max_profit": choice.max_profit,
        "breakeven": choice.breakeven, "capital_required": choice.capital_required,
        "expiration": dt.date.fromisoformat(choice.expiration), "dte": choice.dte,
        "signal": name, "rationale": rationale_text(parts), "rationale_source": source,
        "candidate_id": choice.id, "candidates": len(found), "model_fit_date":
        signal["model_fit_date"],
        "facts_json": json.dumps({"facts": facts, "rationale": parts,
                                  "candidates": [c.as_record() for c in found]}, default=str),
    }  # fmt: skip
    return row, None, audit


def ideas_for_window(
    conn, lo: dt.date, hi: dt.date, advisor=rules_only
) -> tuple[pd.DataFrame, list[tuple], list[tuple]]:
    """The window's ideas, skips and LLM audit rows; the newest sessions are advised first
    (a capped LLM budget goes to the evening that matters)."""
    signals = _signals(conn, lo, hi)
    if signals.empty:
        return pd.DataFrame(columns=list(RECOMMENDATION_COLUMNS)), [], []
    pairs = signals.loc[:, ["ticker", "date"]]
    cursor = conn.execute(
        sql.SQL("SELECT {} FROM options_chains WHERE date >= %s AND date < %s"
                " AND (underlying, date) IN (SELECT * FROM unnest(%s::text[], %s::date[]))").format(
            sql.SQL(", ").join(map(sql.Identifier, CHAIN_COLUMNS))),
        (lo, hi, pairs["ticker"].tolist(), pairs["date"].tolist()))  # fmt: skip
    chains = pd.DataFrame(cursor.fetchall(), columns=CHAIN_COLUMNS)
    by_key = {key: rows for key, rows in chains.groupby(["underlying", "date"], sort=False)}
    empty = pd.DataFrame(columns=CHAIN_COLUMNS)
    ideas, skips, audits = [], [], []
    newest_first = signals.sort_values(["date", "ticker"], ascending=[False, True], kind="stable")
    for _, signal in newest_first.iterrows():
        chain = by_key.get((signal["ticker"], signal["date"]), empty)
        row, skip, audit = idea_for(signal, chain, advisor)
        if row is not None:
            ideas.append(row)
        else:
            skips.append(skip)
        if audit is not None:
            audits.append((signal["date"], signal["ticker"], audit))
    frame = pd.DataFrame(ideas, columns=list(RECOMMENDATION_COLUMNS))
    return frame.sort_values(["date", "ticker"], kind="stable"), skips, audits


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=[
        forecasts.directional_forecasts,
        "wyckoff_snapshots",
        "ticker_metrics",
        "options_chains",
        "options_daily_summary",
    ],  # fmt: skip
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=dg.AutomationCondition.eager(),
)
def recommendations(
    context: dg.AssetExecutionContext, warehouse: PostgresResource, claude: ClaudeResource
):
    """Option trade ideas for the scope's actionable signals, on listed contracts only."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    budget = Budget(calls=claude.max_calls, tokens=claude.max_tokens)
    advisor = partial(advise, claude, claude.client() if claude.available else None, budget)
    if not claude.available:
        context.log.info("no ANTHROPIC_API_KEY: rule-based rationales")
    with warehouse.connect() as conn:
        ideas, skips, audits = ideas_for_window(conn, lo, hi, advisor)
    with warehouse.write_slice("recommendations", (lo, hi)) as out:
        out.also(DELETE_SKIPS, [(lo, hi)])
        out.also(INSERT_SKIP, skips)
        out.also(DELETE_LLM_CALLS, [(lo, hi)])
        out.also(INSERT_LLM_CALL, [(day, ticker, claude.model, a["prompt"], a["response"],
                                    a["input_tokens"], a["output_tokens"],
                                    a["cache_read_tokens"], a["outcome"])
                                   for day, ticker, a in audits])  # fmt: skip
        out.write(ideas)
    rejected = [f"{t} {d}: {a['outcome']}" for d, t, a in audits if a["outcome"] != "accepted"]
    for line in rejected:
        context.log.warning(f"rule-based rationale kept for {line}")
    reasons = pd.Series([s[4] for s in skips], dtype=object).value_counts().to_dict()
    last = ideas[ideas["date"] == days[-1]] if not ideas.empty else ideas
    for _, idea in last.iterrows():
        context.log.info(f"{idea['ticker']} {idea['signal']}: {idea['strategy']}"
                         f" {idea['candidate_id']} net {idea['net_debit']:+.2f}")  # fmt: skip
    return dg.MaterializeResult(metadata={
        **out.result.metadata(), "sessions": len(days), "ideas": len(ideas),
        "skipped": len(skips), "skipped_by_reason": json.dumps(reasons),
        "llm_calls": budget.used_calls, "llm_tokens": budget.used_tokens,
        "llm_outcomes": json.dumps(budget.outcomes),
        "rationale_sources": json.dumps(ideas["rationale_source"].value_counts().to_dict()),
        "ideas_last_session": ", ".join(f"{r.ticker} {r.strategy}" for r in last.itertuples()),
    })  # fmt: skip


@dg.asset_check(asset=recommendations, name=RECOMMENDATIONS_LEGS_LISTED,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def recommendations_legs_listed(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Every leg is an exact (contract, expiration, type, strike) row of options_chains on the
    recommendation's chain date, standard-sized; p_up inside [0, 1]."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT r.date, r.ticker, leg->>'contract_ticker' FROM recommendations r,"
            " jsonb_array_elements(r.legs) leg WHERE r.date >= %s AND r.date < %s"
            " AND (r.p_up NOT BETWEEN 0 AND 1 OR NOT EXISTS (SELECT 1 FROM options_chains c"
            "  WHERE c.date = r.chain_date AND c.underlying = r.ticker"
            "  AND c.contract_ticker = leg->>'contract_ticker'"
            "  AND c.expiration = (leg->>'expiration')::date AND c.contract_type = leg->>'contract_type'"
            "  AND c.strike = (leg->>'strike')::numeric AND c.shares_per_contract = 100))"
            " ORDER BY 1, 2 LIMIT 100", (lo, hi)).fetchall()  # fmt: skip
        legs = conn.execute(
            "SELECT count(*) FROM recommendations r, jsonb_array_elements(r.legs) leg"
            " WHERE r.date >= %s AND r.date < %s", (lo, hi)).fetchone()[0]  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "legs": legs,
            "not_listed": len(bad),
            "examples (date ticker leg)": examples(bad),
        },
    )


@dg.asset_check(asset=recommendations, name=RECOMMENDATIONS_HAVE_A_SNAPSHOT,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def recommendations_have_a_snapshot(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """No recommendation on a ticker without that session's Wyckoff snapshot and chain."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT r.date, r.ticker FROM recommendations r WHERE r.date >= %s AND r.date < %s"
            " AND (r.chain_date <> r.date OR NOT EXISTS (SELECT 1 FROM wyckoff_snapshots w"
            "  WHERE w.ticker = r.ticker AND w.date = r.date AND w.signal = r.signal))"
            " ORDER BY 1, 2 LIMIT 100", (lo, hi)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad, metadata={"without_snapshot": len(bad), "examples": examples(bad)}
    )


@dg.asset_check(asset=recommendations, name=RECOMMENDATION_SKIPS_BY_REASON,
                partitions_def=TRADING_DAYS)  # fmt: skip
def recommendation_skips_by_reason(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Warns when an actionable signal got no idea; the reasons are counted."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT reason, count(*), min(date::text || ' ' || ticker) FROM recommendation_skips"
            " WHERE date >= %s AND date < %s GROUP BY reason ORDER BY 2 DESC", (lo, hi)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "skipped": sum(r[1] for r in rows),
            "by_reason (reason count first)": examples(rows),
        },  # fmt: skip
    )


@dg.asset_check(asset=recommendations, name=RECOMMENDATIONS_LLM_ANSWERS_ACCEPTED,
                partitions_def=TRADING_DAYS)  # fmt: skip
def recommendations_llm_answers_accepted(
    context, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """Warns when a Claude answer was rejected or failed (the rules' choice stood)."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT split_part(outcome, ':', 1), count(*), min(date::text || ' ' || ticker"
            " || ' ' || outcome) FROM llm_calls WHERE date >= %s AND date < %s GROUP BY 1"
            " ORDER BY 2 DESC", (lo, hi)).fetchall()  # fmt: skip
    counts = {kind: n for kind, n, _ in rows}
    return dg.AssetCheckResult(
        passed=set(counts) <= {"accepted"},
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "calls": sum(counts.values()),
            **{f"outcome_{k}": n for k, n in counts.items()},
            "examples (kind count first)": examples(rows),
        },  # fmt: skip
    )
