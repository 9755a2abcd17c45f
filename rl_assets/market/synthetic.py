"""A deterministic synthetic US equity-options market.

Every number is a pure function of (seed, ticker, date): random draws come from a counter-based
hash of those keys, never from a stateful generator, so generating days in any order, alone or in
a range, gives the same values. Price paths are simulated causally from a fixed epoch, which is
what makes a day's close depend on the days before it and on nothing after.

The model, briefly:
- a market factor and per-ticker idiosyncratic noise, each with its own slowly mean-reverting
  log-volatility (volatility regimes), plus rare compensated jumps;
- a signal knob: at 0 every price is a martingale (the log-return is compensated so that
  E[S(t+1) / S(t) | past] = 1); at s > 0 a short-term reversal of strength s is planted: the next
  days drift against the last 5 days' move, which the underlying's own technicals can observe;
- listed options on a fixed strike grid (spacing set per expiry when it is listed): weekly expirations for four weeks and monthly
  (third-Friday) ones for four months; once listed, a contract stays listed until it expires, and
  strikes are added as the stock moves (as exchanges do);
- an implied-volatility surface with term structure (short tenors follow today's volatility
  regime, long ones revert to the ticker's base level) and a put-side skew;
- Black-Scholes-Merton prices and greeks, bid/ask spreads that widen for cheap and far
  out-of-the-money contracts, volume and open interest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from rl_assets import calendar
from rl_assets.market.pricing import bsm_price_and_greeks
from rl_assets.schema import OPTIONS_CHAIN_COLUMNS, PRICE_DATA_COLUMNS

EPOCH = dt.date(2018, 1, 2)  # the first simulated session; paths start here
RISK_FREE_RATE = 0.04
SESSIONS_PER_YEAR = 252
WEEKLY_HORIZON_DAYS = 28
MONTHLY_HORIZON_DAYS = 120
WEEKLY_LISTING_DAYS = 35  # a weekly is listed this many calendar days before it expires
MONTHLY_LISTING_DAYS = 150
STRIKES_BEYOND_RANGE = 8  # grid steps listed beyond the lowest/highest close since listing
MAX_TICKERS = 26**4  # distinct four-letter symbols (default_tickers)


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _stable_key(*parts: object) -> np.uint64:
    """A 64-bit key from any printable parts, stable across processes (unlike hash())."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective scramble of uint64 values (wraps modulo 2**64)."""
    x = np.array(x, dtype=np.uint64, ndmin=1)
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _uniform(key: np.uint64 | np.ndarray, *counters: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) draws, one per broadcast element of the integer counters, for a key."""
    h = np.asarray(key, dtype=np.uint64)
    for counter in counters:
        h = _mix64(h ^ _mix64(np.asarray(counter).astype(np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def _normal(key: np.uint64 | np.ndarray, *counters: np.ndarray) -> np.ndarray:
    return ndtri(_uniform(key, *counters))


def default_tickers(n: int) -> list[str]:
    """n distinct four-letter symbols; the first k are the same whatever n is."""
    if n < 1:
        raise ValueError(f"the universe needs at least one ticker; got {n}")
    if n > MAX_TICKERS:
        raise ValueError(f"at most {MAX_TICKERS} synthetic tickers; got {n}")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names = []
    for i in range(n):
        code = (i * 7919 + 12345) % MAX_TICKERS  # 7919 is coprime with 26, so codes never repeat
        names.append("".join(letters[(code // 26**p) % 26] for p in (3, 2, 1, 0)))
    return names


@dataclass(frozen=True)
class TickerParams:
    s0: np.ndarray
    base_vol: np.ndarray  # annualised total volatility in the calm regime
    beta: np.ndarray
    div_yield: np.ndarray
    jump_prob: np.ndarray
    base_share_volume: np.ndarray
    option_liquidity: np.ndarray


@dataclass
class _Paths:
    """Simulated history from EPOCH through `sessions[-1]`, one column per ticker."""

    sessions: list[dt.date]
    close: np.ndarray  # (days, tickers)
    annual_vol: np.ndarray  # (days, tickers): the volatility regime known at each close
    market_vol: np.ndarray  # (days,)


def _nice_step(price: np.ndarray) -> np.ndarray:
    """A listed-strike spacing near 3% of the price, from the usual exchange increments."""
    steps = np.array([0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0])
    target = 0.03 * price
    return steps[np.abs(np.log(steps)[None, :] - np.log(target)[:, None]).argmin(axis=1)]


class SyntheticMarket:
    """Prices and option chains of a synthetic universe; see the module docstring."""

    def __init__(self, seed: int = 7, signal: float = 0.0, tickers: Sequence[str] | int = 20):
        if not np.isfinite(signal) or signal < 0:
            raise ValueError(f"signal strength must be a finite number >= 0; got {signal}")
        if isinstance(tickers, str):  # list("SPY") would quietly be the universe S, P, Y
            raise ValueError(f"tickers must be a list of symbols or a count, not one string: {tickers!r}")
        tickers = default_tickers(tickers) if isinstance(tickers, int) else list(tickers)
        if not tickers:
            raise ValueError("the universe is empty: give at least one ticker")
        if len(set(tickers)) != len(tickers):
            raise ValueError("the universe lists a ticker twice")
        bad = [t for t in tickers if not (isinstance(t, str) and t.isalnum() and t.isupper() and len(t) <= 6)]
        if bad:
            raise ValueError(f"tickers must be 1-6 upper-case letters or digits (OCC roots); bad: {bad[:5]}")
        self.seed = int(seed)
        self.signal = float(signal)
        self.tickers = tickers
        self.params = self._ticker_params()
        self._paths: _Paths | None = None

    # ---- per-ticker constants ---------------------------------------------------------------
    def _ticker_keys(self, stream: str) -> np.ndarray:
        return np.array([_stable_key(self.seed, ticker, stream) for ticker in self.tickers], dtype=np.uint64)

    def _ticker_params(self) -> TickerParams:
        u = [_uniform(self._ticker_keys("params"), np.full(len(self.tickers), i)) for i in range(8)]
        s0 = np.exp(np.log(15.0) + u[0] * (np.log(400.0) - np.log(15.0)))
        return TickerParams(
            s0=s0,
            base_vol=0.18 + 0.47 * u[1],
            beta=0.4 + 1.0 * u[2],
            div_yield=np.where(u[3] < 0.4, 0.0, 0.005 + 0.025 * u[4]),
            jump_prob=0.002 + 0.008 * u[5],
            base_share_volume=np.exp(np.log(2e5) + u[6] * np.log(200.0)),
            option_liquidity=np.exp(np.log(20.0) + u[7] * np.log(50.0)),
        )

    # ---- price paths ------------------------------------------------------------------------
    def _check_day(self, day: dt.date) -> dt.date:
        day = calendar.require_trading_day(day)
        if day < EPOCH:
            raise ValueError(f"the synthetic market starts on {EPOCH}; it has no data for {day}")
        return day

    def _paths_through(self, last: dt.date) -> _Paths:
        """Simulated paths from EPOCH through `last`, cached; extending recomputes from EPOCH."""
        if self._paths is not None and self._paths.sessions[-1] >= last:
            return self._paths
        sessions = calendar.trading_days(EPOCH, last)
        n_days = len(sessions)
        t = np.arange(n_days)
        # The market's log-volatility regime: an AR(1); day t uses the state at t-1.
        market_shock = _normal(_stable_key(self.seed, "market", "vol"), t)
        market_state = np.zeros(n_days)
        for i in range(1, n_days):
            market_state[i] = 0.985 * market_state[i - 1] + 0.04 * market_shock[i]
        market_vol = 0.16 * np.exp(np.concatenate([[0.0], market_state[:-1]]))  # annualised
        market_z = _normal(_stable_key(self.seed, "market", "ret"), t)

        close = np.empty((n_days, len(self.tickers)))
        annual_vol = np.empty_like(close)
        for cols in np.array_split(np.arange(len(self.tickers)), max(1, len(self.tickers) // 500)):
            close[:, cols], annual_vol[:, cols] = self._simulate(cols, t, market_vol, market_z)
        self._paths = _Paths(sessions, close, annual_vol, market_vol)
        return self._paths

    def _simulate(self, cols: np.ndarray, t: np.ndarray, market_vol: np.ndarray, market_z: np.ndarray):
        """Closes and volatility regimes of the tickers `cols` (a chunk keeps memory bounded)."""
        p = TickerParams(**{k: v[cols] for k, v in vars(self.params).items()})
        keys = {s: self._ticker_keys(s)[cols][None, :] for s in ("vol", "ret", "jump", "jump_size")}
        n_days, tt = len(t), t[:, None]
        ticker_shock = _normal(keys["vol"], tt)
        ticker_state = np.zeros_like(ticker_shock)
        for i in range(1, n_days):
            ticker_state[i] = 0.97 * ticker_state[i - 1] + 0.05 * ticker_shock[i]
        del ticker_shock
        daily = 1.0 / np.sqrt(SESSIONS_PER_YEAR)
        total_vol = p.base_vol[None, :] * np.exp(np.vstack([np.zeros((1, len(cols))), ticker_state[:-1]]))
        systematic = p.beta[None, :] * market_vol[:, None]
        idio_vol = np.sqrt(np.maximum(total_vol**2 - systematic**2, (0.35 * total_vol) ** 2))
        del total_vol
        sigma = np.sqrt(systematic**2 + idio_vol**2) * daily  # daily total volatility

        jump_mean, jump_sd = -0.02, 0.06
        jumps = np.where(
            _uniform(keys["jump"], tt) < p.jump_prob[None, :], jump_mean + jump_sd * _normal(keys["jump_size"], tt), 0.0
        )
        # Compensators make exp(log-return) average exactly 1: the martingale at signal 0.
        jump_comp = np.log1p(p.jump_prob * (np.exp(jump_mean + 0.5 * jump_sd**2) - 1.0))
        noise = systematic * daily * market_z[:, None] + idio_vol * daily * _normal(keys["ret"], tt)
        noise += jumps - jump_comp[None, :] - 0.5 * sigma**2
        del jumps, systematic, idio_vol

        log_close = np.empty_like(noise)
        log_close[0] = np.log(p.s0)
        kappa = 0.3 * self.signal
        for i in range(1, n_days):
            log_close[i] = log_close[i - 1] + noise[i]
            if kappa and i > 5:
                # The planted signal: drift against the last five sessions' move, scaled by volatility.
                move = (log_close[i - 1] - log_close[i - 6]) / (sigma[i] * np.sqrt(5.0))
                log_close[i] -= kappa * sigma[i] * np.tanh(move)
        # The regime seen at a close includes that day's shock (what tomorrow's volatility will be).
        return np.exp(log_close), p.base_vol[None, :] * np.exp(ticker_state)

    # ---- public API -------------------------------------------------------------------------
    def prices(self, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
        """Daily OHLCV for every ticker and every trading day in [start, end] (price_data's columns)."""
        start, end = calendar.as_date(start), calendar.as_date(end)
        days = calendar.trading_days(start, end)
        if not days:
            raise ValueError(f"no NYSE trading day between {start} and {end}")
        self._check_day(days[0])
        paths = self._paths_through(days[-1])
        first = paths.sessions.index(days[0])
        idx = np.arange(first, first + len(days))[:, None]
        close = paths.close[idx[:, 0]]
        prev_close = paths.close[np.maximum(idx[:, 0] - 1, 0)]
        sigma = paths.annual_vol[np.maximum(idx[:, 0] - 1, 0)] / np.sqrt(SESSIONS_PER_YEAR)
        gap = 0.3 * sigma * _normal(self._ticker_keys("open")[None, :], idx)
        open_ = prev_close * np.exp(gap)
        up = np.abs(_normal(self._ticker_keys("high")[None, :], idx)) * 0.5 * sigma
        down = np.abs(_normal(self._ticker_keys("low")[None, :], idx)) * 0.5 * sigma
        high = np.maximum(open_, close) * np.exp(up)
        low = np.minimum(open_, close) * np.exp(-down)
        activity = paths.annual_vol[idx[:, 0]] / self.params.base_vol[None, :]
        volume = np.floor(
            self.params.base_share_volume[None, :] * activity
            * np.exp(0.4 * _normal(self._ticker_keys("volume")[None, :], idx))
        )  # fmt: skip
        n_days, n_tickers = close.shape
        frame = pd.DataFrame(
            {
                "ticker": np.tile(np.array(self.tickers, dtype=object), n_days),
                "date": np.repeat(np.array(days, dtype="datetime64[D]"), n_tickers),
                "open": np.round(open_, 4).ravel(),
                "high": np.round(high, 4).ravel(),
                "low": np.round(low, 4).ravel(),
                "close": np.round(close, 4).ravel(),
                "volume": volume.astype(np.int64).ravel(),
                "close_only": False,
            },
            columns=PRICE_DATA_COLUMNS,
        )
        frame["date"] = frame["date"].dt.date
        return frame.sort_values(["ticker", "date"], ignore_index=True)

    def expirations(self, day: dt.date | str) -> list[tuple[dt.date, dt.date]]:
        """(expiration, listing date) of every expiry listed on `day`, nearest first.

        Weeklies expire on Fridays and monthlies on third Fridays; when that Friday is an
        exchange holiday the expiry moves to the trading day before, as listed options do.
        """
        day = self._check_day(calendar.as_date(day))
        calendar_end = calendar.nyse().last_session.date()
        found: dict[dt.date, dt.date] = {}
        friday = day + dt.timedelta(days=(4 - day.weekday()) % 7)
        while friday <= day + dt.timedelta(days=MONTHLY_HORIZON_DAYS + MONTHLY_LISTING_DAYS):
            if friday > calendar_end:
                break
            is_monthly = 15 <= friday.day <= 21
            horizon = MONTHLY_HORIZON_DAYS if is_monthly else WEEKLY_HORIZON_DAYS
            listing = friday - dt.timedelta(days=MONTHLY_LISTING_DAYS if is_monthly else WEEKLY_LISTING_DAYS)
            expiry = calendar.nyse().date_to_session(pd.Timestamp(friday), direction="previous").date()
            if expiry > day and friday - day <= dt.timedelta(days=horizon):
                found[expiry] = max(listing, EPOCH)
            friday += dt.timedelta(days=7)
        return sorted(found.items())

    def chain(self, day: dt.date | str) -> pd.DataFrame:
        """The closing options chain of `day` for the whole universe (options_chain's columns)."""
        day = self._check_day(calendar.as_date(day))
        paths = self._paths_through(day)
        t = paths.sessions.index(day)
        p = self.params
        spot = paths.close[t]
        regime_vol = paths.annual_vol[t]
        n_tickers = len(self.tickers)

        # Listed strikes: an expiry's strike spacing is set from the close on its listing day, and
        # every grid point within STRIKES_BEYOND_RANGE steps of the closes seen since listing is
        # listed. Spacing and range are fixed by the past, so a contract, once listed, stays.
        pieces = []
        for expiry, listing in self.expirations(day):
            first = paths.sessions.index(
                calendar.nyse().date_to_session(pd.Timestamp(listing), direction="next").date()
            )
            window = paths.close[first : t + 1]
            step = _nice_step(window[0])
            lo = np.maximum(np.floor(window.min(axis=0) / step) - STRIKES_BEYOND_RANGE, 1).astype(np.int64)
            hi = (np.ceil(window.max(axis=0) / step) + STRIKES_BEYOND_RANGE).astype(np.int64)
            counts = hi - lo + 1
            ticker_idx = np.repeat(np.arange(n_tickers), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            pieces.append((expiry, ticker_idx, lo[ticker_idx] + offsets, step[ticker_idx]))
        expiry_days = np.concatenate([np.full(len(ti), (e - day).days) for e, ti, _, _ in pieces])
        expiry_dates = np.concatenate([np.full(len(ti), e.toordinal()) for e, ti, _, _ in pieces])
        ticker_idx = np.concatenate([ti for _, ti, _, _ in pieces])
        strike_idx = np.concatenate([si for _, _, si, _ in pieces])
        strike_step = np.concatenate([st for _, _, _, st in pieces])
        # Calls and puts side by side.
        ticker_idx, strike_idx, strike_step = np.tile(ticker_idx, 2), np.tile(strike_idx, 2), np.tile(strike_step, 2)
        expiry_days, expiry_dates = np.tile(expiry_days, 2), np.tile(expiry_dates, 2)
        is_call = np.repeat([True, False], len(ticker_idx) // 2)
        # Order rows once, before anything is computed: underlying, expiration, calls first, strike.
        name_rank = np.argsort(np.argsort(np.array(self.tickers)))
        order = np.lexsort((strike_idx, ~is_call, expiry_dates, name_rank[ticker_idx]))
        ticker_idx, strike_idx, strike_step, is_call = (
            ticker_idx[order],
            strike_idx[order],
            strike_step[order],
            is_call[order],
        )
        expiry_days, expiry_dates = expiry_days[order], expiry_dates[order]

        strike = np.round(strike_idx * strike_step, 3)
        s = spot[ticker_idx]
        tau = expiry_days / 365.0
        q = p.div_yield[ticker_idx]
        forward = s * np.exp((RISK_FREE_RATE - q) * tau)

        # Term structure: short tenors carry today's regime, long ones the ticker's base level.
        base = p.base_vol[ticker_idx] * 1.05
        now = regime_vol[ticker_idx] * 1.05
        atm = base + (now - base) * np.exp(-tau / 0.25)
        # Skew: put-side (low strike) volatility is richer; saturates in the far wings.
        k_std = np.log(strike / forward) / (atm * np.sqrt(tau))
        k_sat = 3.0 * np.tanh(k_std / 3.0)
        iv = atm * (1.0 - 0.10 * k_sat + 0.03 * k_sat**2)

        model = bsm_price_and_greeks(is_call, s, strike, tau, RISK_FREE_RATE, q, iv)
        theo = model["price"]
        contract_key = _mix64(
            self._ticker_keys("contract")[ticker_idx]
            ^ _mix64(
                expiry_dates.astype(np.uint64) * np.uint64(1_000_003)
                + strike_idx.astype(np.uint64) * np.uint64(2)
                + is_call
            )
        )
        day_counter = np.full(len(theo), (day - EPOCH).days)

        # Spreads widen for cheap options and away from the money.
        otm = 1.0 - np.minimum(2.0 * np.abs(model["delta"]), 1.0)
        spread_pct = 0.03 + 0.20 * np.exp(-theo / 0.5) + 0.10 * otm
        half = np.maximum(0.01, 0.5 * spread_pct * theo)
        bid = np.maximum(np.floor((theo - half) * 100.0) / 100.0, 0.0)
        ask = np.maximum(np.ceil((theo + half) * 100.0) / 100.0, bid + 0.01)
        mid = np.round((bid + ask) / 2.0, 4)
        last = np.clip(theo * np.exp(0.02 * _normal(contract_key, day_counter, 1)), bid, ask).round(2)

        activity = p.option_liquidity[ticker_idx] * np.exp(-0.5 * np.abs(k_std)) * np.exp(-tau * 4.0)
        volume = np.floor(activity * np.exp(0.8 * _normal(contract_key, day_counter, 2)) - 1.0).clip(0)
        contract_size = np.exp(np.log(50.0) + 3.0 * _uniform(contract_key, np.zeros(1, np.int64)))
        open_interest = np.floor(contract_size * activity * np.exp(0.1 * _normal(contract_key, day_counter, 3)))

        expiration = np.array(
            [dt.date.fromordinal(int(o)) for o in range(expiry_dates.min(), expiry_dates.max() + 1)], dtype=object
        )[expiry_dates - expiry_dates.min()]
        tickers = np.array(self.tickers, dtype=object)[ticker_idx]
        return pd.DataFrame(
            {
                "underlying": tickers,
                "contract_symbol": occ_symbols(tickers, expiration, is_call, strike),
                "option_type": np.where(is_call, "call", "put").astype(object),
                "strike": strike,
                "expiration": expiration,
                "dte": expiry_days.astype(np.int64),
                "bid": bid,
                "ask": ask,
                "mid": mid,
                "last": last,
                "volume": volume.astype(np.int64),
                "open_interest": open_interest.astype(np.int64),
                "implied_volatility": np.round(iv, 6),
                "delta": model["delta"],
                "gamma": model["gamma"],
                "theta": model["theta"],
                "vega": model["vega"],
                "rho": model["rho"],
                "underlying_price": np.round(s, 4),
                "quote_time": calendar.session_close_utc(day),
            },
            columns=OPTIONS_CHAIN_COLUMNS,
        )


def occ_symbols(root: np.ndarray, expiration: np.ndarray, is_call: np.ndarray, strike: np.ndarray) -> np.ndarray:
    """OCC option symbols without padding (ROOT + YYMMDD + C/P + strike x 1000 in 8 digits)."""
    strike_milli = np.round(np.asarray(strike) * 1000).astype(np.int64)
    if (strike_milli <= 0).any() or (strike_milli >= 10**8).any():
        raise ValueError("strikes must be in (0, 99999.999] to fit an OCC symbol")
    # Few distinct expirations: format each once.
    unique_expiries, which = np.unique(expiration, return_inverse=True)
    yymmdd = np.array([d.strftime("%y%m%d") for d in unique_expiries], dtype=object)[which]
    symbols = pd.Series(root, dtype=object) + yymmdd + np.where(is_call, "C", "P").astype(object)
    return (symbols + np.char.zfill(strike_milli.astype(str), 8).astype(object)).to_numpy(dtype=object)
