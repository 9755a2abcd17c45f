"""Build a warehouse's history from a synthetic market with the functions the assets call (no
Dagster run): prices with a technicals warm-up, the archived chain, technicals, rl_state, and
rl_dataset where T+3 has landed. Used by the models benchmark and by the dataset, leakage and
evaluation tests (which import it from here: the benchmarks import nothing from the tests)."""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np

from rl_assets import calendar
from rl_assets.archive import archive_chain_frame, write_prices
from rl_assets.dataset import build_rl_dataset, build_rl_state
from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.reward import HORIZON_DAYS
from rl_assets.technicals import update_technicals

PRICE_WARMUP = 260  # sessions of prices before the first archived day (enough for the 200-day SMA)


def build_history(warehouse, market: SyntheticMarket, days: list[dt.date], *, dataset: bool = True) -> None:
    first_price = calendar.shift_trading_days(days[0], -PRICE_WARMUP)
    write_prices(warehouse, market.prices(first_price, days[-1]), first_price, days[-1])
    for day in days:
        archive_chain_frame(warehouse, market.chain(day), day)
    update_technicals(warehouse, days)
    build_rl_state(warehouse, days[0], days[-1])
    if dataset and len(days) > HORIZON_DAYS:
        build_rl_dataset(warehouse, days[0], days[-1 - HORIZON_DAYS])


def table(warehouse, name: str, order: str = "snapshot_date, contract_symbol"):
    """A whole table as a DataFrame (tests and benchmarks only: real code reads through sql/ statements)."""
    return warehouse.read_sql(f"SELECT * FROM {name} ORDER BY {order}")


class ThinnedMarket(SyntheticMarket):
    """The synthetic market listing a fixed 1/32 of its contract symbols."""

    def chain(self, day):
        chain = super().chain(day)
        keep = np.fromiter((zlib.crc32(s.encode()) % 32 == 0 for s in chain["contract_symbol"]), bool, len(chain))
        return chain[keep].reset_index(drop=True)
