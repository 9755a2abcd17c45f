"""Rebuild the BUILT vendor-layout samples of this folder (see README.md here).

The values in cboe_eod_summary.csv, cboe_eod_calcs.csv, optionmetrics.csv, dolthub.csv and
wide_example.csv are not real quotes: each chain is priced with Black-Scholes-Merton
(rl_assets.market.pricing) from a hand-chosen spot, smile, rate and dividend yield, then
quoted with a spread and written in the vendor's column names, units and number formats.
A few rows carry the vendor's documented quirks on purpose (see README.md).

    PYTHONPATH=. python rl_assets_tests/data/vendor_layouts/make_built_samples.py

Deterministic: no randomness, so a rerun rewrites the same bytes.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np

from rl_assets.market.pricing import bsm_price_and_greeks

HERE = Path(__file__).parent
RATE = 0.053  # flat, continuously compounded; roughly the 2023-2024 T-bill yield


def _smile(atm_vol: float, spot: float, strike: float, tau: float) -> float:
    """A plain equity skew: puts' wing richer than calls'."""
    k = math.log(strike / spot) / max(math.sqrt(tau), 0.05)
    return max(0.05, atm_vol - 0.12 * k + 0.10 * k * k)


def _bsm(is_call: bool, spot: float, strike: float, tau: float, q: float, vol: float) -> dict[str, float]:
    out = bsm_price_and_greeks(np.array(is_call), spot, strike, tau, RATE, q, vol)
    return {k: float(v) for k, v in out.items()}


def _quote(theo: float, tick: float = 0.01) -> tuple[float, float]:
    """Bid/ask around a model price: wider in relative terms for cheap options."""
    half = max(tick, round(theo * 0.015 / tick) * tick)
    bid = max(0.0, math.floor((theo - half) / tick) * tick)
    ask = math.ceil((theo + half) / tick) * tick
    if ask <= bid:
        ask = bid + tick
    return round(bid, 2), round(ask, 2)


def _tau(quote_day: date, expiry: date, hours_left_today: float = 0.0) -> float:
    days = (expiry - quote_day).days + hours_left_today / 24.0
    return max(days, 0.25) / 365.0


def _write(name: str, header: list[str], rows: list[list[object]]) -> None:
    with open(HERE / name, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _p4(x: float) -> str:
    return f"{x:.4f}"


# --- Cboe DataShop Option EOD Summary (no calcs) ------------------------------------------
CBOE_SUMMARY_HEADER = [
    "underlying_symbol", "quote_date", "root", "expiration", "strike", "option_type",
    "open", "high", "low", "close", "trade_volume",
    "bid_size_1545", "bid_1545", "ask_size_1545", "ask_1545", "underlying_bid_1545", "underlying_ask_1545",
    "bid_size_eod", "bid_eod", "ask_size_eod", "ask_eod", "underlying_bid_eod", "underlying_ask_eod",
    "vwap", "open_interest", "delivery_code",
]  # fmt: skip
CBOE_CALCS_HEADER = [
    *CBOE_SUMMARY_HEADER[:17],
    "implied_underlying_price_1545", "active_underlying_price_1545", "implied_volatility_1545",
    "delta_1545", "gamma_1545", "theta_1545", "vega_1545", "rho_1545",
    *CBOE_SUMMARY_HEADER[17:],
]  # fmt: skip


def _cboe_rows(quote_day, chains, *, calcs: bool, failed_iv=frozenset(), no_trade=frozenset()):
    """chains: (underlying_symbol, root, expiry, strikes, spot_1545, spot_eod, half_spread_underlying, q, atm_vol, oi_base)."""
    rows = []
    for und, root, expiry, strikes, s1545, seod, uhalf, q, atm, oi_base in chains:
        for strike in strikes:
            for cp in ("C", "P"):
                is_call = cp == "C"
                tau1545 = _tau(quote_day, expiry)
                vol = _smile(atm, s1545, strike, tau1545)
                m1545 = _bsm(is_call, s1545, strike, tau1545, q, vol)
                meod = _bsm(is_call, seod, strike, tau1545, q, _smile(atm, seod, strike, tau1545))
                bid1545, ask1545 = _quote(m1545["price"])
                bideod, askeod = _quote(meod["price"])
                moneyness = abs(math.log(strike / seod))
                volume = int(oi_base * math.exp(-25 * moneyness) * (1.6 if is_call else 1.0))
                if volume < 3 or (root, expiry, strike, cp) in no_trade:
                    volume = 0
                if volume:
                    o, c = round((bid1545 + ask1545) / 2 * 1.03, 2), round((bideod + askeod) / 2, 2)
                    hi, lo = max(o, c) + 0.05 * max(o, c), min(o, c) * 0.95
                    vwap = (o + c + hi + lo) / 4
                    ohlc = [o, hi, lo, c]
                else:  # Cboe writes 0 for OHLC and VWAP when the series did not trade
                    ohlc, vwap = [0.0, 0.0, 0.0, 0.0], 0.0
                oi = int(oi_base * 4 * math.exp(-10 * moneyness)) + 7
                row = [
                    und,
                    quote_day.isoformat(),
                    root,
                    expiry.isoformat(),
                    f"{strike:.3f}",
                    cp,
                    *(_p4(x) for x in ohlc),
                    volume,
                    10 + int(strike) % 37,
                    _p4(bid1545),
                    12 + int(strike) % 29,
                    _p4(ask1545),
                    _p4(s1545 - uhalf),
                    _p4(s1545 + uhalf),
                ]
                if calcs:
                    if (root, strike, cp) in failed_iv:
                        # the vendor's calc did not solve: IV written as 0, greeks at their bounds
                        greeks = [0.0, 1.0 if is_call else -1.0, 0.0, 0.0, 0.0, 0.0]
                    else:
                        greeks = [vol, m1545["delta"], m1545["gamma"], m1545["theta"], m1545["vega"], m1545["rho"]]
                    forward = s1545 * math.exp((RATE - q) * tau1545)
                    row += [_p4(forward), _p4(s1545), *(_p4(g) for g in greeks)]
                row += [
                    8 + int(strike) % 41,
                    _p4(bideod),
                    9 + int(strike) % 23,
                    _p4(askeod),
                    _p4(seod - uhalf),
                    _p4(seod + uhalf),
                    _p4(vwap),
                    oi,
                    "",
                ]
                rows.append(row)
    return rows


def build_cboe() -> None:
    # 2023-11-24: the day after Thanksgiving, an early close (13:00 ET); the "1545" columns
    # hold the 12:45 snapshot that day, under the same column names.
    day = date(2023, 11, 24)
    summary = [
        # an index: caret prefix, two option roots (PM-settled weeklies SPXW, AM-settled monthly SPX);
        # index "quotes" are the index value on both sides
        ("^SPX", "SPXW", date(2023, 11, 27), (4525.0, 4550.0, 4575.0), 4557.80, 4559.34, 0.0, 0.015, 0.095, 9000),
        ("^SPX", "SPX", date(2023, 12, 15), (4400.0, 4550.0, 4700.0), 4557.80, 4559.34, 0.0, 0.015, 0.115, 3000),
        ("AAPL", "AAPL", date(2023, 12, 1), (185.0, 190.0, 200.0), 189.85, 189.97, 0.01, 0.005, 0.17, 8000),
        ("AAPL", "AAPL", date(2023, 12, 15), (185.0, 190.0, 195.0), 189.85, 189.97, 0.01, 0.005, 0.18, 6000),
    ]
    no_trade = {("SPX", date(2023, 12, 15), 4400.0, "C"), ("SPX", date(2023, 12, 15), 4700.0, "P"),
                ("AAPL", date(2023, 12, 15), 195.0, "P")}  # fmt: skip
    _write("cboe_eod_summary.csv", CBOE_SUMMARY_HEADER, _cboe_rows(day, summary, calcs=False, no_trade=no_trade))

    day = date(2024, 6, 12)
    calcs = [
        ("SPY", "SPY", date(2024, 6, 14), (535.0, 540.0, 545.0), 540.95, 541.36, 0.01, 0.013, 0.11, 60000),
        ("SPY", "SPY", date(2024, 7, 19), (530.0, 540.0, 550.0), 540.95, 541.36, 0.01, 0.013, 0.125, 30000),
        ("MSFT", "MSFT", date(2024, 6, 21), (430.0, 440.0, 450.0), 440.62, 441.06, 0.02, 0.007, 0.19, 7000),
        ("MSFT", "MSFT", date(2024, 7, 19), (300.0, 440.0, 460.0), 440.62, 441.06, 0.02, 0.007, 0.21, 5000),
    ]
    failed = {("MSFT", 300.0, "C")}  # deep in the money: no IV solves at the 15:45 mid
    _write("cboe_eod_calcs.csv", CBOE_CALCS_HEADER, _cboe_rows(day, calcs, calcs=True, failed_iv=failed))


# --- OptionMetrics IvyDB US option_price (opprcd), as a WRDS query returns it ------------------
OM_HEADER = [
    "secid", "date", "symbol", "symbol_flag", "exdate", "last_date", "cp_flag", "strike_price",
    "best_bid", "best_offer", "volume", "open_interest", "impl_volatility", "delta", "gamma", "vega", "theta",
    "optionid", "cfadj", "am_settlement", "contract_size", "ss_flag", "forward_price", "expiry_indicator",
    "root", "suffix", "ticker", "index_flag", "exercise_style", "issuer",
]  # fmt: skip


def build_optionmetrics() -> None:
    day = date(2023, 3, 10)
    chains = [
        # secid, ticker, symbol root, expiry, strikes, spot, q, atm, am_settlement, expiry_indicator,
        # index_flag, exercise_style, issuer
        (108105, "SPX", "SPXW", date(2023, 3, 17), (3800.0, 3850.0, 3900.0), 3861.59, 0.016, 0.21, 0, "w", 1, "E", "S&P 500 INDEX"),
        (108105, "SPX", "SPX", date(2023, 4, 21), (3700.0, 3850.0, 4000.0), 3861.59, 0.016, 0.20, 1, "", 1, "E", "S&P 500 INDEX"),
        (101594, "AAPL", "AAPL", date(2023, 3, 17), (145.0, 150.0, 155.0), 148.50, 0.006, 0.30, 0, "", 0, "A", "APPLE INC"),
        (101594, "AAPL", "AAPL", date(2023, 4, 21), (100.0, 150.0, 160.0), 148.50, 0.006, 0.29, 0, "", 0, "A", "APPLE INC"),
    ]  # fmt: skip
    rows, optionid = [], 150_000_000
    for secid, ticker, root, expiry, strikes, spot, q, atm, am, expiry_ind, index_flag, style, issuer in chains:
        tau = _tau(day, expiry)
        for strike in strikes:
            for cp in ("C", "P"):
                optionid += 7
                is_call = cp == "C"
                vol = _smile(atm, spot, strike, tau)
                m = _bsm(is_call, spot, strike, tau, q, vol)
                bid, ask = _quote(m["price"], tick=0.05 if spot > 1000 else 0.01)
                moneyness = abs(math.log(strike / spot))
                volume = int(4000 * math.exp(-20 * moneyness))
                oi = int(20000 * math.exp(-8 * moneyness))
                iv, greeks = f"{vol:.6f}", [m["delta"], m["gamma"], m["vega"] * 100, m["theta"] * 365]
                greeks_txt = [f"{g:.6f}" for g in greeks]
                if ticker == "AAPL" and strike == 100.0 and is_call:
                    # OptionMetrics leaves IV and greeks missing when the bid/ask mid is below intrinsic
                    # (IvyDB files: -99.99; a WRDS query: NULL, empty in CSV). Quote it below intrinsic.
                    bid, ask = round(spot - strike - 0.65, 2), round(spot - strike - 0.15, 2)
                    iv, greeks_txt = "", ["", "", "", ""]
                last_date = day.isoformat() if volume else date(2023, 3, 2).isoformat()
                rows.append(
                    [
                        secid,
                        day.isoformat(),
                        f"{root} {expiry:%y%m%d}{cp}{round(strike * 1000)}",
                        1,
                        expiry.isoformat(),
                        last_date,
                        cp,
                        round(strike * 1000),
                        f"{bid:.2f}",
                        f"{ask:.2f}",
                        volume,
                        oi,
                        iv,
                        *greeks_txt,
                        optionid,
                        1,
                        am,
                        100,
                        0,
                        f"{spot * math.exp((RATE - q) * tau):.4f}" if style == "E" else "",
                        expiry_ind,
                        "",
                        "",
                        ticker,
                        index_flag,
                        style,
                        issuer,
                    ]
                )
    _write("optionmetrics.csv", OM_HEADER, rows)


# --- DoltHub post-no-preference/options, table option_chain ------------------------------------
DOLT_HEADER = ["date", "act_symbol", "expiration", "strike", "call_put", "bid", "ask", "vol",
               "delta", "gamma", "theta", "vega", "rho"]  # fmt: skip


def build_dolthub() -> None:
    day = date(2024, 2, 14)
    chains = [
        ("AAPL", date(2024, 2, 16), (180.0, 185.0, 190.0), 184.15, 0.005, 0.21),
        ("AAPL", date(2024, 3, 15), (175.0, 185.0, 195.0), 184.15, 0.005, 0.22),
        ("SPY", date(2024, 2, 16), (495.0, 500.0, 505.0), 498.57, 0.013, 0.12),
        ("SPY", date(2024, 3, 15), (490.0, 500.0, 510.0), 498.57, 0.013, 0.13),
        ("BRK.B", date(2024, 3, 15), (400.0,), 405.10, 0.0, 0.16),
    ]
    rows = []
    for sym, expiry, strikes, spot, q, atm in chains:
        tau = _tau(day, expiry)
        for strike in strikes:
            for cp in ("Call", "Put"):
                is_call = cp == "Call"
                vol = _smile(atm, spot, strike, tau)
                m = _bsm(is_call, spot, strike, tau, q, vol)
                bid, ask = _quote(m["price"])
                rows.append(
                    [
                        day.isoformat(),
                        sym,
                        expiry.isoformat(),
                        f"{strike:.2f}",
                        cp,
                        f"{bid:.2f}",
                        f"{ask:.2f}",
                        *(f"{x:.4f}" for x in (vol, m["delta"], m["gamma"], m["theta"], m["vega"], m["rho"])),
                    ]
                )
    _write("dolthub.csv", DOLT_HEADER, rows)


# --- OptionsDX EOD (wide: a call and a put on one row) -----------------------------------------
ODX_COLUMNS = [
    "[QUOTE_UNIXTIME]", "[QUOTE_READTIME]", "[QUOTE_DATE]", "[QUOTE_TIME_HOURS]", "[UNDERLYING_LAST]",
    "[EXPIRE_DATE]", "[EXPIRE_UNIX]", "[DTE]", "[C_DELTA]", "[C_GAMMA]", "[C_VEGA]", "[C_THETA]", "[C_RHO]",
    "[C_IV]", "[C_VOLUME]", "[C_LAST]", "[C_SIZE]", "[C_BID]", "[C_ASK]", "[STRIKE]", "[P_BID]", "[P_ASK]",
    "[P_SIZE]", "[P_LAST]", "[P_DELTA]", "[P_GAMMA]", "[P_VEGA]", "[P_THETA]", "[P_RHO]", "[P_IV]",
    "[P_VOLUME]", "[STRIKE_DISTANCE]", "[STRIKE_DISTANCE_PCT]",
]  # fmt: skip


def build_optionsdx() -> None:
    day, spot, q = date(2021, 12, 1), 450.44, 0.013
    quote_unix = 1638392400  # 2021-12-01 16:00 America/New_York (EST) = 21:00 UTC
    chains = [
        (date(2021, 12, 1), (450.0,), 0.30),  # expires today: DTE 0, EXPIRE_UNIX = QUOTE_UNIXTIME
        (date(2021, 12, 3), (445.0, 450.0, 455.0), 0.26),
        (date(2021, 12, 17), (430.0, 450.0, 470.0), 0.24),
    ]
    lines = [", ".join(ODX_COLUMNS) + ", underlying"]
    for expiry, strikes, atm in chains:
        dte = (expiry - day).days
        # a series expiring today is quoted at its last minutes: priced with 15 minutes left
        tau = _tau(day, expiry) if dte else 15 / (60 * 24 * 365)
        for strike in strikes:
            side = {}
            for is_call in (True, False):
                vol = _smile(atm, spot, strike, tau)
                m = _bsm(is_call, spot, strike, tau, q, vol)
                bid, ask = _quote(m["price"])
                moneyness = abs(math.log(strike / spot))
                volume = float(int(20000 * math.exp(-30 * moneyness)))
                side[is_call] = (m, vol, bid, ask, volume)
            cells = [
                f"{quote_unix}",
                f"{day} 16:00",
                f"{day}",
                "16.000000",
                f"{spot:.6f}",
                f"{expiry}",
                f"{quote_unix + dte * 86400}",
                f"{dte:.6f}",
            ]
            m, vol, bid, ask, volume = side[True]
            cells += [f"{x:.6f}" for x in (m["delta"], m["gamma"], m["vega"], m["theta"], m["rho"], vol)]
            cells += [f"{volume:.6f}", f"{(bid + ask) / 2:.6f}", f"{20 + int(strike) % 300} x {15 + int(strike) % 200}",
                      f"{bid:.6f}", f"{ask:.6f}", f"{strike:.6f}"]  # fmt: skip
            m, vol, bid, ask, volume = side[False]
            p_cells = [f"{bid:.6f}", f"{ask:.6f}", f"{30 + int(strike) % 250} x {25 + int(strike) % 150}",
                       f"{(bid + ask) / 2:.6f}"]  # fmt: skip
            p_greeks = [f"{x:.6f}" for x in (m["delta"], m["gamma"], m["vega"], m["theta"], m["rho"], vol)]
            p_volume = f"{volume:.6f}"
            if expiry == date(2021, 12, 17) and strike == 470.0:
                # far out-of-the-money put nobody traded: the vendor leaves IV and volume blank
                p_greeks[-1], p_volume = "", ""
            distance = abs(strike - spot)
            cells += p_cells + p_greeks + [p_volume, f"{round(distance, 1):.6f}", f"{round(distance / spot, 3):.6f}"]
            lines.append(", ".join(cells) + ", SPY")
    (HERE / "wide_example.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    build_cboe()
    build_optionmetrics()
    build_dolthub()
    build_optionsdx()
