"""Watchlist facts: rough start levels, ETF parameters, real event dates, scripted structures."""

from __future__ import annotations

import datetime as dt

# Dates are those of real events; the prices are synthetic (rough early-2023 values).
WATCH_KNOWN = {  # symbol: (rough early-2023 price, annual vol)
    "AAPL": (125.0, 0.28), "MSFT": (240.0, 0.27), "NVDA": (143.0, 0.50), "AMZN": (85.0, 0.35),
    "GOOG": (89.0, 0.30), "META": (125.0, 0.40), "TSLA": (108.0, 0.60), "AMD": (64.0, 0.50),
    "AVGO": (560.0, 0.40), "NFLX": (295.0, 0.40), "CRM": (133.0, 0.35), "ADBE": (336.0, 0.35),
    "ORCL": (82.0, 0.30), "INTC": (26.0, 0.40), "QCOM": (110.0, 0.35), "TSM": (75.0, 0.35),
    "ASML": (545.0, 0.40), "PLTR": (6.4, 0.65), "SOFI": (4.9, 0.60), "SMCI": (82.0, 0.80),
    "CMG": (1400.0, 0.30), "WMT": (143.0, 0.18), "LLY": (360.0, 0.28), "XOM": (110.0, 0.25),
    "JNJ": (177.0, 0.16), "PG": (151.0, 0.16), "HD": (315.0, 0.22), "MCD": (264.0, 0.17),
    "IBM": (141.0, 0.22), "UBER": (25.0, 0.40), "CRWD": (105.0, 0.50), "NET": (40.0, 0.60),
    "GE": (66.0, 0.30), "GEV": (140.0, 0.45), "SPY": (380.0, 0.17), "QQQ": (261.0, 0.23),
    "GLD": (171.0, 0.14), "UVXY": (7.0, 0.85), "JNUG": (40.0, 0.95),
}  # fmt: skip
ETF_SPECS = {  # symbol: (annual vol, beta, annual drift, dollar volume)
    "SPY": (0.17, 1.0, 0.0, 3.0e10), "QQQ": (0.23, 1.2, 0.02, 1.5e10),
    "GLD": (0.14, 0.05, 0.06, 1.5e9), "UVXY": (0.85, -3.0, -0.45, 5.0e8),
    "JNUG": (0.95, 0.5, 0.0, 5.0e7), "LDSF": (0.04, 0.05, 0.03, 2.0e6),
}  # fmt: skip
ADRS = frozenset({"ASML", "BIDU", "TSM", "STM", "IFNNY"})
WATCH_LISTINGS = {"CORZ": dt.date(2024, 1, 24), "GEV": dt.date(2024, 4, 2)}
WATCH_ACQUISITIONS = {  # symbol: last trading session
    "WORK": dt.date(2021, 7, 20), "NEWR": dt.date(2023, 11, 7), "SWAV": dt.date(2024, 5, 30),
    "MTTR": dt.date(2025, 2, 28), "JNPR": dt.date(2025, 7, 1), "BPMC": dt.date(2025, 7, 17),
    "WBA": dt.date(2025, 8, 27),
}  # fmt: skip
WATCH_SPLITS = (  # (symbol, execution date, split_from, split_to)
    ("WMT", dt.date(2024, 2, 26), 1, 3), ("NVDA", dt.date(2024, 6, 10), 1, 10),
    ("CMG", dt.date(2024, 6, 26), 1, 50), ("AVGO", dt.date(2024, 7, 15), 1, 10),
    ("SMCI", dt.date(2024, 10, 1), 1, 10),
)  # fmt: skip
ACCUMULATIONS = {  # symbol: session offset of the structure's first bar (SC at + SC_BAR)
    "AAPL": 232, "AMD": 300, "PLTR": 400, "SOFI": 520, "CRWD": 640, "TSLA": 760, "NET": 860,
}  # fmt: skip
DISTRIBUTIONS = {  # symbol: session offset of the structure's first bar (BC at + SC_BAR)
    "META": 270, "NFLX": 350, "SMCI": 530, "AVGO": 580, "UBER": 700, "NVDA": 820,
}  # fmt: skip
