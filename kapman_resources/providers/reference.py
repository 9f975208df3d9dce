"""Reference data (tickers, splits): one interface; today saved `/v3/reference/*` responses.

The demo market writes these responses next to its flat files, and an offline mirror may carry
them too. The Massive REST provider implements the same interface.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

from kapman_resources.flatfiles import REFERENCE_SPLITS_KEY, REFERENCE_TICKERS_KEY


class ReferenceProvider(dg.ConfigurableResource, ABC):
    """Where ticker attributes and splits come from."""

    @abstractmethod
    def tickers(self) -> list[dict]:
        """Rows shaped like `/v3/reference/tickers` results (ticker, name, type, active, ...)."""

    @abstractmethod
    def splits(self) -> list[dict]:
        """Rows shaped like `/v3/reference/splits` results (ticker, execution_date, split_from,
        split_to: a 2-for-1 is from 1 to 2)."""


class SavedReference(ReferenceProvider):
    """`reference/tickers.json` and `reference/splits.json` under a mirror directory."""

    directory: str

    def _results(self, key: str) -> list[dict]:
        path = Path(self.directory) / key
        if not path.exists():
            return []
        return json.loads(path.read_text()).get("results", [])

    def tickers(self) -> list[dict]:
        return self._results(REFERENCE_TICKERS_KEY)

    def splits(self) -> list[dict]:
        return self._results(REFERENCE_SPLITS_KEY)
