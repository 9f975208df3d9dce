"""The evening's trade ideas as the `kapman demo` summary prints them."""

import click


def print_ideas(conn, day) -> None:
    """The session's trade ideas, and why its other signals got none."""
    ideas = conn.execute(
        "SELECT ticker, signal, strategy, candidate_id, net_debit, max_loss, p_up,"
        " rationale_source FROM recommendations WHERE date = %s ORDER BY ticker",
        (day,),
    ).fetchall()
    skips = conn.execute("SELECT ticker, reason, detail FROM recommendation_skips WHERE date = %s"
                         " ORDER BY ticker", (day,)).fetchall()  # fmt: skip
    click.secho(f"\nIdeas on {day}", bold=True)
    for ticker, signal, strategy, legs, net, max_loss, p_up, source in ideas:
        side = f"debit ${net:,.2f}" if net >= 0 else f"credit ${-net:,.2f}"
        click.echo(f"  {ticker:<6} {signal:<13} {strategy:<17} {legs}  {side}, max loss"
                   f" ${max_loss:,.2f}, p_up {p_up:.2f} (rationale: {source})")  # fmt: skip
    for ticker, reason, detail in skips:
        click.echo(f"  {ticker:<6} no idea: {reason}" + (f" ({detail})" if detail else ""))
    if not ideas and not skips:
        click.echo("  none (no actionable signal)")


def print_edge(conn, day, horizon: int = 20) -> None:
    """What each signal has been worth on the liquid universe, as of the newest measurement."""
    rows = conn.execute(
        "SELECT date, name, n, excess_return, excess_ci_lo, excess_ci_hi FROM signal_edge"
        " WHERE kind = 'signal' AND horizon = %s AND date = (SELECT max(date) FROM signal_edge"
        " WHERE date <= %s) ORDER BY name", (horizon, day)).fetchall()  # fmt: skip
    if not rows:
        return
    click.secho(f"\nSignal edge over {horizon} sessions (liquid universe, as of {rows[0][0]})",
                bold=True)  # fmt: skip
    for _, name, n, excess, lo, hi in rows:
        ci = "no CI (< 5 events)" if lo is None or lo != lo else f"95% CI {lo:+.2%} .. {hi:+.2%}"
        click.echo(f"  {name:<13} n {n:>6,}  excess {excess:+.2%}  {ci}")


def print_scores(conn) -> None:
    """How good the past forecasts and ideas were (all time, as of the last report)."""
    rows = conn.execute(
        "SELECT subset, n, brier, brier_skill, ece, date FROM forecast_calibration"
        " WHERE period = 'all' AND date = (SELECT max(date) FROM forecast_calibration"
        " WHERE period = 'all') ORDER BY subset").fetchall()  # fmt: skip
    ideas = conn.execute("SELECT count(*), avg(outcome), sum(pnl) FROM recommendation_outcomes"
                         " WHERE pnl IS NOT NULL").fetchone()  # fmt: skip
    if not rows and not ideas[0]:
        return
    click.secho("\nTrack record", bold=True)

    def num(value, spec: str) -> str:  # BSS is undefined when every outcome is the same
        return "n/a" if value is None or value != value else format(value, spec)

    for subset, n, brier, bss, ece, day in rows:
        click.echo(f"  {subset:<12} n {n:>7,}  Brier {num(brier, '.4f')}  BSS {num(bss, '+.4f')}"
                   f"  ECE {num(ece, '.4f')}  (all time to {day})")  # fmt: skip
    if ideas[0]:
        click.echo(
            f"  ideas scored {ideas[0]}: {ideas[1] * 100:.0f}% up, P&L ${float(ideas[2]):,.2f}"
        )
