"""Option strategies on real listed contracts (docs/domain.md, "Option strategies"; our design).

Three steps, each a pure function of the stored chain of one session:
  strategy_for(signal, iv_hv_diff)   the strategy by the table (direction from the signal)
  tradable_contracts(chain, date)    the real-strike rules: exact rows that pass the filters
  candidates(...)                    one candidate structure per listed expiration in the DTE
                                     window, legs at the nearest listed strike to the target
                                     delta (never interpolated); `rule_choice` picks one.
Structures carry every leg's OCC ticker, side, quantity and limit (mid rounded to the cent),
net debit (+) or credit (-) per position, max loss, max profit (None = unbounded), breakeven
and the capital a cash-secured put ties up. Amounts are dollars per one-lot position.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

LONG_CALL = "long_call"
LONG_PUT = "long_put"
CASH_SECURED_PUT = "cash_secured_put"
DEBIT_VERTICAL = "debit_vertical"
STRATEGIES = (LONG_CALL, LONG_PUT, CASH_SECURED_PUT, DEBIT_VERTICAL)

BULLISH = "bullish"
BEARISH = "bearish"
SIGNAL_DIRECTION = {  # docs/wyckoff.md "Signals": entries are bullish, exits bearish
    "STRONG_ENTRY": BULLISH,
    "ENTRY_SETUP": BULLISH,
    "EXIT_NOW": BEARISH,
    "PREPARE_EXIT": BEARISH,
    "REDUCE": BEARISH,
}

LONG_OPTION_MAX_IV_PREMIUM = 3.0  # long call / long put when IV - HV <= +3 vol points
CSP_MIN_IV_PREMIUM = 5.0  # cash-secured put when bullish and IV - HV > +5 points

# Real-strike rules (docs/domain.md)
STANDARD_SHARES = 100
MAX_SPREAD_OF_MID = 0.15
MIN_OPEN_INTEREST = 100
CHAIN_INPUT_COLUMNS = (
    "contract_ticker", "expiration", "strike", "contract_type", "delta", "bid", "ask",
    "open_interest", "implied_volatility", "shares_per_contract",
)  # fmt: skip


@dataclass(frozen=True)
class Band:
    """A DTE window or an |delta| band; `target` is its middle."""

    low: float
    high: float

    @property
    def target(self) -> float:
        return (self.low + self.high) / 2.0

    def contains(self, values: np.ndarray) -> np.ndarray:
        return (values >= self.low) & (values <= self.high)


LONG_DTE, LONG_DELTA = Band(45, 90), Band(0.50, 0.70)
CSP_DTE, CSP_DELTA = Band(30, 60), Band(0.20, 0.30)
VERTICAL_DTE = Band(30, 90)
VERTICAL_LONG_DELTA, VERTICAL_SHORT_DELTA = Band(0.55, 0.65), Band(0.25, 0.35)
VERTICAL_WIDTH_MOVES = Band(1.0, 1.5)  # width ~ 1-1.5 x S * IV * sqrt(DTE / 365)


def direction_of(signal: str | None) -> str | None:
    """bullish / bearish for an actionable signal, None otherwise."""
    return SIGNAL_DIRECTION.get(signal) if signal else None


def strategy_for(signal: str | None, iv_hv_diff: float | None) -> str | None:
    """The strategy of docs/domain.md's table for a signal and IV - HV (vol points).

    Bullish: long call when IV - HV <= +3, cash-secured put when > +5, a bull call debit
    vertical in between (IV neutral/high). Bearish: long put when IV - HV <= +3, else a bear
    put debit vertical (the long put's premium is rich). Unknown IV - HV (no chain): None.
    """
    direction = direction_of(signal)
    if direction is None or iv_hv_diff is None or not math.isfinite(iv_hv_diff):
        return None
    if iv_hv_diff <= LONG_OPTION_MAX_IV_PREMIUM:
        return LONG_CALL if direction == BULLISH else LONG_PUT
    if direction == BULLISH and iv_hv_diff > CSP_MIN_IV_PREMIUM:
        return CASH_SECURED_PUT
    return DEBIT_VERTICAL


def tradable_contracts(chain: pd.DataFrame, session: dt.date) -> pd.DataFrame:
    """Rows of the stored chain that may be a leg: standard deliverable, two-sided quote,
    spread <= 15% of mid, OI >= 100, IV and delta present. Adds mid, spread, dte, abs_delta."""
    missing = set(CHAIN_INPUT_COLUMNS) - set(chain.columns)
    if missing:
        raise ValueError(f"option chain is missing columns {sorted(missing)}")
    c = chain.copy()
    for col in ("strike", "bid", "ask", "delta", "implied_volatility", "open_interest"):
        c[col] = pd.to_numeric(c[col], errors="coerce").astype(float)
    c["mid"] = (c["bid"] + c["ask"]) / 2.0
    c["spread"] = c["ask"] - c["bid"]
    c["dte"] = (pd.to_datetime(c["expiration"]) - pd.Timestamp(session)).dt.days
    c["abs_delta"] = c["delta"].abs()
    ok = (
        (c["shares_per_contract"] == STANDARD_SHARES)
        & (c["bid"] > 0)
        & (c["ask"] >= c["bid"])
        & (c["spread"] <= MAX_SPREAD_OF_MID * c["mid"])
        & (c["open_interest"] >= MIN_OPEN_INTEREST)
        & c["implied_volatility"].notna()
        & c["delta"].notna()
        & (c["dte"] > 0)
    )
    return c[ok.fillna(False)].reset_index(drop=True)


@dataclass(frozen=True)
class Leg:
    contract_ticker: str
    side: str  # buy | sell
    quantity: int
    contract_type: str
    expiration: str
    strike: float
    limit: float
    bid: float
    ask: float
    delta: float
    implied_volatility: float
    open_interest: int


@dataclass(frozen=True)
class Candidate:
    """One complete, priced structure on listed contracts."""

    id: str
    strategy: str
    direction: str
    expiration: str
    dte: int
    legs: tuple[Leg, ...]
    net_debit: float  # dollars per position; negative = a credit received
    max_loss: float
    max_profit: float | None  # None: unbounded
    breakeven: float
    capital_required: float  # cash a cash-secured put ties up; the debit otherwise
    target_delta: float
    delta_distance: float  # |delta of the main leg| - target, the rule's ranking key
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_record(self) -> dict:
        record = asdict(self)
        record["legs"] = [asdict(leg) for leg in self.legs]
        record["notes"] = list(self.notes)
        return record


def limit_price(mid: float) -> float:
    """The limit of a leg: its mid rounded to the cent (penny increments assumed)."""
    return round(float(mid) + 1e-9, 2)


def _leg(row: pd.Series, side: str) -> Leg:
    return Leg(
        contract_ticker=str(row["contract_ticker"]),
        side=side,
        quantity=1,
        contract_type=str(row["contract_type"]),
        expiration=str(pd.Timestamp(row["expiration"]).date()),
        strike=float(row["strike"]),
        limit=limit_price(row["mid"]),
        bid=float(row["bid"]),
        ask=float(row["ask"]),
        delta=float(row["delta"]),
        implied_volatility=float(row["implied_volatility"]),
        open_interest=int(row["open_interest"]),
    )


def _nearest_delta(rows: pd.DataFrame, band: Band) -> pd.Series | None:
    """The listed contract inside the |delta| band nearest its middle (lower strike on ties)."""
    inside = rows[band.contains(rows["abs_delta"].to_numpy())]
    if inside.empty:
        return None
    key = (inside["abs_delta"] - band.target).abs()
    return inside.loc[key.sort_values(kind="stable").index[0]]


def _single(strategy: str, direction: str, row: pd.Series, band: Band) -> Candidate:
    leg = _leg(row, "sell" if strategy == CASH_SECURED_PUT else "buy")
    premium = leg.limit * STANDARD_SHARES
    strike = leg.strike
    expiration, dte = leg.expiration, int(row["dte"])
    common = dict(
        id=leg.contract_ticker, strategy=strategy, direction=direction, expiration=expiration,
        dte=dte, legs=(leg,), target_delta=band.target,
        delta_distance=abs(abs(leg.delta) - band.target),
    )  # fmt: skip
    if strategy == LONG_CALL:
        return Candidate(**common, net_debit=premium, max_loss=premium, max_profit=None,
                         breakeven=strike + leg.limit, capital_required=premium)  # fmt: skip
    if strategy == LONG_PUT:
        return Candidate(**common, net_debit=premium, max_loss=premium,
                         max_profit=(strike - leg.limit) * STANDARD_SHARES,
                         breakeven=strike - leg.limit, capital_required=premium)  # fmt: skip
    capital = strike * STANDARD_SHARES - premium  # cash-secured put: assigned at the strike
    return Candidate(**common, net_debit=-premium, max_loss=capital, max_profit=premium,
                     breakeven=strike - leg.limit, capital_required=capital)  # fmt: skip


def expected_move(spot: float, iv: float, dte: float) -> float:
    """One standard deviation of the underlying to expiration: S * IV * sqrt(DTE / 365)."""
    return spot * iv * math.sqrt(dte / 365.0)


def _vertical(direction: str, rows: pd.DataFrame, spot: float, wall: float | None):
    """A debit vertical in one expiration: long leg at the nearest delta to 0.60, short leg at
    |delta| 0.25-0.35 or at the wall, the width nearest 1.25 expected moves within 1-1.5."""
    long_row = _nearest_delta(rows, VERTICAL_LONG_DELTA)
    if long_row is None:
        return None
    move = expected_move(spot, float(long_row["implied_volatility"]), float(long_row["dte"]))
    sign = 1.0 if direction == BULLISH else -1.0  # short strike above (calls) / below (puts)
    width = sign * (rows["strike"] - float(long_row["strike"]))
    in_delta = VERTICAL_SHORT_DELTA.contains(rows["abs_delta"].to_numpy())
    at_wall = (rows["strike"] == wall).to_numpy() if wall is not None else False
    in_width = VERTICAL_WIDTH_MOVES.contains((width / move).to_numpy()) if move > 0 else False
    shorts = rows[(width > 0).to_numpy() & (in_delta | at_wall) & in_width]
    if shorts.empty:
        return None
    target = VERTICAL_WIDTH_MOVES.target * move
    short_row = shorts.loc[(width[shorts.index] - target).abs().sort_values(kind="stable").index[0]]
    buy, sell = _leg(long_row, "buy"), _leg(short_row, "sell")
    debit_per_share = buy.limit - sell.limit
    if debit_per_share <= 0:
        return None
    spread_width = abs(sell.strike - buy.strike)
    debit = debit_per_share * STANDARD_SHARES
    breakeven = buy.strike + sign * debit_per_share
    return Candidate(
        id=f"{buy.contract_ticker}/{sell.contract_ticker}", strategy=DEBIT_VERTICAL,
        direction=direction, expiration=buy.expiration, dte=int(long_row["dte"]),
        legs=(buy, sell), net_debit=debit, max_loss=debit,
        max_profit=spread_width * STANDARD_SHARES - debit, breakeven=breakeven,
        capital_required=debit, target_delta=VERTICAL_LONG_DELTA.target,
        delta_distance=abs(abs(buy.delta) - VERTICAL_LONG_DELTA.target),
        notes=("short leg at the wall",) if wall is not None and sell.strike == wall else (),
    )  # fmt: skip


def candidates(
    strategy: str,
    direction: str,
    tradable: pd.DataFrame,
    spot: float,
    support: float | None = None,
    put_wall: float | None = None,
    call_wall: float | None = None,
) -> list[Candidate]:
    """One candidate per listed expiration in the strategy's DTE window (may be empty)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    kind = (
        "call"
        if strategy == LONG_CALL or (strategy == DEBIT_VERTICAL and direction == BULLISH)
        else "put"
    )  # noqa: E501
    dte_band = {LONG_CALL: LONG_DTE, LONG_PUT: LONG_DTE, CASH_SECURED_PUT: CSP_DTE,
                DEBIT_VERTICAL: VERTICAL_DTE}[strategy]  # fmt: skip
    rows = tradable[(tradable["contract_type"] == kind)
                    & dte_band.contains(tradable["dte"].to_numpy())]  # fmt: skip
    if strategy == CASH_SECURED_PUT:
        ceilings = [level for level in (support, put_wall) if level is not None]
        if ceilings:
            rows = rows[rows["strike"] <= min(ceilings)]
    out: list[Candidate] = []
    for _, group in rows.sort_values(["expiration", "strike"]).groupby("expiration", sort=True):
        if strategy == DEBIT_VERTICAL:
            wall = call_wall if direction == BULLISH else put_wall
            candidate = _vertical(direction, group, spot, wall)
        else:
            band = CSP_DELTA if strategy == CASH_SECURED_PUT else LONG_DELTA
            row = _nearest_delta(group, band)
            candidate = None if row is None else _single(strategy, direction, row, band)
        if candidate is not None:
            out.append(candidate)
    return out


def rule_choice(found: list[Candidate], dte_target: float | None = None) -> Candidate | None:
    """The rule-based pick (our design): the main leg's delta nearest the target, then the
    expiration nearest the middle of the DTE window, then the smaller capital."""
    if not found:
        return None
    middle = {LONG_CALL: LONG_DTE, LONG_PUT: LONG_DTE, CASH_SECURED_PUT: CSP_DTE,
              DEBIT_VERTICAL: VERTICAL_DTE}[found[0].strategy].target  # fmt: skip
    middle = dte_target if dte_target is not None else middle
    return min(found, key=lambda c: (round(c.delta_distance, 2), abs(c.dte - middle),
                                     c.capital_required))  # fmt: skip
