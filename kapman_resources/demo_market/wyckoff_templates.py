"""The scripted Wyckoff accumulation template (distribution is its mirror) and its bars."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# --- Wyckoff accumulation template, in units u = the daily sigma (clipped to 0.9%..5%) of log
# price relative to the close before the structure; distribution is its mirror image.
STRUCTURE_UNIT = (0.009, 0.05)
TEMPLATE_LENGTH = 90
SC_BAR, SOS_BAR = 20, 76  # the climax and the sign of strength (filler bars between stay inside)
CLOSE_WAYPOINTS = (
    (0, -0.5), (19, -12.0), (20, -14.0), (21, -12.6), (25, -8.2), (26, -9.5), (34, -15.5),
    (38, -12.0), (42, -10.0), (46, -12.5), (52, -15.3), (56, -11.5), (58, -10.5), (61, -14.8),
    (62, -15.6), (64, -15.7), (70, -12.0), (75, -9.0), (76, -6.0), (80, -7.0), (89, -3.0),
)  # fmt: skip
VOLUME_WAYPOINTS = (  # multiples of the ticker's base volume
    (0, 1.1), (19, 2.0), (20, 6.5), (21, 3.0), (25, 1.6), (26, 1.2), (33, 0.8), (34, 0.55),
    (38, 0.9), (42, 0.8), (46, 0.7), (52, 0.5), (56, 0.7), (61, 0.7), (62, 0.9), (63, 0.7),
    (64, 0.45), (65, 0.8), (75, 1.2), (76, 3.2), (77, 1.8), (80, 0.7), (89, 1.3),
)  # fmt: skip
KEY_BARS = {  # bar: (open, high, low, close)
    SC_BAR: (-12.3, -12.0, -16.5, -14.0),  # selling climax: wide, lowest low, 6.5x volume
    25: (-8.9, -7.8, -9.0, -8.2),  # automatic rally high (resistance)
    26: (-8.4, -8.2, -9.7, -9.5),  # closes below the AR bar's low: AR confirmed
    34: (-15.1, -14.9, -16.0, -15.5),  # secondary test, half the volume, narrow
    52: (-15.0, -14.8, -15.9, -15.3),  # second secondary test
    62: (-15.1, -15.0, -17.3, -15.6),  # spring: 0.8u under support, closes back inside
    64: (-15.6, -15.5, -16.3, -15.7),  # test of the spring on low volume
    SOS_BAR: (-8.8, -5.8, -9.0, -6.0),  # sign of strength: wide bar closing above resistance
}  # fmt: skip
FILLER_NOISE, FILLER_NOISE_CLIP = 0.1, 2.0  # close noise of non-key bars (u), clipped in sd
FILLER_GAP_SHARE = 0.25
FILLER_WICK, FILLER_WICK_BASE, FILLER_WICK_CAP = 0.35, 0.4, 2.5  # wick = 0.35 (0.4 + min(w, 2.5))
SUPPORT, RESISTANCE = -16.5, -7.8  # the SC low and the AR high
MARKDOWN_FLOOR = -15.7  # no markdown filler bar undercuts the SC's low by design
RANGE_MARGIN = 0.2  # range filler bars stay this far inside support and resistance
FILLER_VOLUME_NOISE = 0.1


@lru_cache(maxsize=1)
def _template() -> dict[str, np.ndarray]:
    """The accumulation template (u units): open/high/low/close, volume, key-bar mask."""
    k = np.arange(TEMPLATE_LENGTH)
    close = np.interp(k, *zip(*CLOSE_WAYPOINTS, strict=True))
    volume = np.interp(k, *zip(*VOLUME_WAYPOINTS, strict=True))
    ohlc = np.full((TEMPLATE_LENGTH, 4), np.nan)
    for bar, values in KEY_BARS.items():
        ohlc[bar] = values
        close[bar] = values[3]
    return {"ohlc": ohlc, "close": close, "volume": volume, "key": ~np.isnan(ohlc[:, 0])}


def structure_bars(
    kind: int, length: int, z: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One structure's (length, 4) OHLC offsets (u units) and volume multiples; kind -1 mirrors."""
    tpl = _template()
    key = tpl["key"][:length]
    close = tpl["close"][:length] + np.where(
        key, 0.0, FILLER_NOISE * np.clip(z, -FILLER_NOISE_CLIP, FILLER_NOISE_CLIP)
    )
    prev = np.concatenate([[0.0], close[:-1]])
    open_ = prev + FILLER_GAP_SHARE * (close - prev)
    wick = FILLER_WICK * (FILLER_WICK_BASE + np.minimum(w, FILLER_WICK_CAP))
    k = np.arange(length)
    in_range = (k > SC_BAR) & (k < SOS_BAR)
    floor = np.where(in_range, SUPPORT + RANGE_MARGIN, -np.inf)
    floor = np.where(k < SC_BAR, MARKDOWN_FLOOR, floor)
    ceiling = np.where(in_range, RESISTANCE - RANGE_MARGIN, np.inf)
    high = np.minimum(np.maximum(open_, close) + wick[:, 0], ceiling)
    low = np.maximum(np.minimum(open_, close) - wick[:, 1], floor)
    ohlc = np.where(key[:, None], tpl["ohlc"][:length], np.column_stack([open_, high, low, close]))
    if kind < 0:
        ohlc = -ohlc[:, [0, 2, 1, 3]]
    return ohlc, tpl["volume"][:length]
