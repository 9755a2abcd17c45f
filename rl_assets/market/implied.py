"""Black-Scholes-Merton implied volatility and greeks for quotes whose vendor gives none.

`implied_volatility` solves price = BSM(vol) for every contract at once (numpy arrays in, arrays
out, no per-contract Python loop); `iv_and_greeks` is what the archive calls on the rows that need
it: it keeps the vendor's IV and greeks where the vendor has them, solves the rest from the mid,
and says per row which values are whose and why a value is NULL.

The solver works on the normalised Black price of the out-of-the-money option, as Jaeckel's
"Let's Be Rational" does (put-call symmetry turns every quote into an OTM call):

    x = ln(F / K) <= 0,   s = vol * sqrt(tau),   beta = undiscounted OTM price / sqrt(F K)
    b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2),   0 < beta < e^{x/2}

b rises with s from 0 to e^{x/2} and has one inflection point, s_c = sqrt(2|x|), which splits
the quotes in two. Below it (beta <= b(x, s_c)) Newton runs on |x| / sqrt(-2 ln b), which is close
to s itself there (ln b ~ -x^2 / (2 s^2)), with ln b computed through erfcx so that far
out-of-the-money prices neither underflow nor lose their digits; above it, on ln(e^{x/2} - b),
computed as a sum of positive terms so that prices near the maximum keep theirs. Each contract
keeps a bracket around its root, and a step that would leave it bisects instead. A contract stops
once its Newton step (or its bracket) is below 1e-12 of s: 5-7 steps below s_c, 3-5 above, over 1.5M
quotes; the tests check the result against vollib's Let's Be Rational and QuantLib.

An unsolvable quote gets NaN and a reason (`NoIv`), never a made-up number. Greeks come from
`bsm_price_and_greeks`, in its units (theta per calendar day, vega and rho per 1 point).

Only numpy, scipy and pandas (and rl_assets.calendar for the expiration session's close) are
imported: no dagster, no vollib or QuantLib (those are test-only oracles).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

import numpy as np
import pandas as pd
from scipy.special import erfcx, ndtr, ndtri

from rl_assets.market.pricing import bsm_price_and_greeks

__all__ = [
    "GREEKS",
    "IV_AND_GREEKS_COLUMNS",
    "IvAndGreeks",
    "IvSummary",
    "NoIv",
    "SOURCE_COMPUTED",
    "SOURCE_VENDOR",
    "expiration_close_utc",
    "implied_volatility",
    "iv_and_greeks",
    "years_to_expiry",
]

GREEKS = ("delta", "gamma", "theta", "vega", "rho")
SOURCE_VENDOR, SOURCE_COMPUTED = "vendor", "computed"
IV_AND_GREEKS_COLUMNS = (
    "contract_symbol", "quote_time", "implied_volatility", *GREEKS,
    "iv_source", "greeks_source", "no_iv_reason",
)  # fmt: skip
INPUT_COLUMNS = (
    "contract_symbol", "option_type", "strike", "expiration", "quote_time", "bid", "ask",
    "underlying_price", "implied_volatility", *GREEKS,
)  # fmt: skip

# Newton stops once a step is below this fraction of s; MAX_ITERATIONS is a backstop the tests
# show is never reached on solvable quotes (a contract still moving then gets NOT_CONVERGED).
_STEP_TOLERANCE = 1e-12
MAX_ITERATIONS = 60
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_SQRT_HALF = np.sqrt(0.5)
_YEAR_DAYS = 365.0
# 16:00 New York: the close of a regular session, for expirations beyond the NYSE calendar's range.
_REGULAR_CLOSE = dt.time(16, 0)


class NoIv(enum.StrEnum):
    """Why a contract has no implied volatility (the value stored in no_iv_reason)."""

    NO_QUOTE = "no_quote"  # bid <= 0 or missing, ask missing or <= 0: no two-sided market to solve from
    CROSSED_QUOTE = "crossed_quote"  # ask below bid: a data error, not a price
    NO_UNDERLYING_PRICE = "no_underlying_price"  # underlying price missing or <= 0
    EXPIRED = "expired"  # no time left: quote_time at or after the expiration session's close
    BELOW_INTRINSIC = "below_intrinsic"  # price at (to 64 ulps) or below the forward intrinsic value
    ABOVE_MAXIMUM = "above_maximum"  # call >= spot e^{-q tau}, put >= strike e^{-r tau}
    NOT_CONVERGED = "not_converged"  # the solver's backstop; never seen on a valid quote


@dataclasses.dataclass(frozen=True)
class IvSummary:
    """What `iv_and_greeks` did: how many values it computed and why the NULLs are NULL."""

    rows: int
    vendor_iv: int
    computed_iv: int
    vendor_greeks: int
    computed_greeks: int
    no_iv: dict[str, int]  # reason -> rows, only the reasons that occurred

    def as_metadata(self) -> dict[str, int]:
        """Flat counts for an asset's metadata."""
        flat = {k: v for k, v in dataclasses.asdict(self).items() if k != "no_iv"}
        return flat | {f"no_iv_{reason}": n for reason, n in self.no_iv.items()}


@dataclasses.dataclass(frozen=True)
class IvAndGreeks:
    frame: pd.DataFrame  # IV_AND_GREEKS_COLUMNS, one row per input row, in input order
    summary: IvSummary


# ---- the solver ---------------------------------------------------------------------------------


def _lower_objective(x, s):
    """For s <= s_c (where d1 <= 0): |x| / sqrt(-2 ln b(x, s)) and its derivative in s. ln b is
    about -x^2 / (2 s^2) there, so this is nearly s itself and Newton on it needs few steps.
    ln b is computed without underflow or lost digits from
    e^{x/2} N(d1) = 0.5 exp(-x^2/(2 s^2) - s^2/8) erfcx(-d1/sqrt2), and the same for d2."""
    d1, d2 = x / s + 0.5 * s, x / s - 0.5 * s
    bracket = 0.5 * (erfcx(-d1 * _SQRT_HALF) - erfcx(-d2 * _SQRT_HALF))
    minus_2_log_b = (x / s) ** 2 + 0.25 * s * s - 2.0 * np.log(bracket)
    value = -x / np.sqrt(minus_2_log_b)
    # d(ln b)/ds = vega / b, in which the exponential factor cancels.
    dlog_b = 1.0 / (_SQRT_2PI * bracket)
    return value, value * dlog_b / minus_2_log_b


def _upper_objective(x, s):
    """ln(b_max - b(x, s)) and its derivative in s, for s >= s_c: b_max - b is a sum of two
    positive terms, e^{x/2} N(-d1) + e^{-x/2} N(d2), so no digits cancel near the maximum."""
    d1, d2 = x / s + 0.5 * s, x / s - 0.5 * s
    rest = np.exp(0.5 * x) * ndtr(-d1) + np.exp(-0.5 * x) * ndtr(d2)
    vega = np.exp(-0.5 * (x / s) ** 2 - 0.125 * s * s) / _SQRT_2PI
    return np.log(rest), -vega / rest


def _newton(objective, x, target, s, lo, hi):
    """Safeguarded Newton on objective(x, s) = target, all contracts at once; returns (s, converged).
    [lo, hi] brackets the root (hi may be inf); a step that would leave it bisects instead.
    A contract stops once its Newton step is below _STEP_TOLERANCE relative (with quadratic
    convergence the step it then takes leaves an error far below that) or its bracket is."""
    s, lo, hi = s.copy(), lo.copy(), hi.copy()
    converged = np.zeros(len(s), dtype=bool)
    active = np.arange(len(s))
    for _ in range(MAX_ITERATIONS):
        if not len(active):
            break
        xa, sa, la, ha = x[active], s[active], lo[active], hi[active]
        value, slope = objective(xa, sa)
        error = value - target[active]
        # The objectives rise (lower) or fall (upper) with s: the sign of error * slope says
        # which side of the root s is on.
        above = error * slope > 0
        ha = np.where(above, sa, ha)
        la = np.where(above, la, sa)
        step = -error / slope
        proposal = sa + step
        # Done when the Newton step is tiny, or when the bracket is: where the objective's own
        # rounding noise (near the money, far below s_c) outweighs a 1e-12 step, bisections
        # close the bracket instead.
        done = (np.abs(step) <= _STEP_TOLERANCE * sa) | (ha - la <= _STEP_TOLERANCE * sa)
        outside = ~done & (~((proposal > la) & (proposal < ha)) | ~np.isfinite(proposal))
        bisect = np.where(np.isfinite(ha), 0.5 * (la + ha), 2.0 * la)
        s[active], lo[active], hi[active] = np.where(outside, bisect, proposal), la, ha
        converged[active[done]] = True
        active = active[~done]
    return s, converged


def _normalised_implied_s(x, beta):
    """s = vol * sqrt(tau) with b(x, s) = beta, for x <= 0 and 0 < beta < e^{x/2}."""
    s = np.empty(len(x))
    converged = np.zeros(len(x), dtype=bool)
    s_c = np.sqrt(-2.0 * x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # b at the inflection point: the regions' boundary (b(0, 0) = 0: at the money is all upper).
        b_c = np.where(
            x < 0, np.exp(0.5 * x) * ndtr(x / s_c + 0.5 * s_c) - np.exp(-0.5 * x) * ndtr(x / s_c - 0.5 * s_c), 0.0
        )
        lower = beta <= b_c
        if lower.any():
            xl, bl = x[lower], beta[lower]
            target = -xl / np.sqrt(-2.0 * np.log(bl))
            # Two lower bounds of the root, each tight at one end: ln b < -x^2/(2 s^2), so the
            # objective is below s and the root above the target value (tight far out of the
            # money); b(x, s) <= b(0, s) = 2 N(s/2) - 1, so the root is above the at-the-money
            # s for beta (tight near the money, where ln b ~ ln s hardly depends on x).
            start = np.minimum(np.maximum(target, 2.0 * ndtri(0.5 * (1.0 + bl))), s_c[lower])
            s[lower], converged[lower] = _newton(_lower_objective, xl, target, start, start, s_c[lower])
        upper = ~lower
        if upper.any():
            xu, bu, scu = x[upper], beta[upper], s_c[upper]
            rest = np.exp(0.5 * xu) - bu
            # At the money b_max - b = 2 N(-s/2) exactly; elsewhere it is a start above s_c.
            start = np.maximum(-2.0 * ndtri(0.5 * rest), scu)
            start = np.where(start > 0, start, 1.0)
            s[upper], converged[upper] = _newton(
                _upper_objective, xu, np.log(rest), start, scu, np.full(len(xu), np.inf)
            )
    return s, converged


# Reasons travel as small integer codes inside (0: solved), so 1.5M rows cost no object compares.
_REASONS = (None, *NoIv)
_CODE = {reason: code for code, reason in enumerate(_REASONS) if reason is not None}
_REASON_VALUES = np.array([None if r is None else r.value for r in _REASONS], dtype=object)


def implied_volatility(price, is_call, spot, strike, tau, rate, div_yield) -> tuple[np.ndarray, np.ndarray]:
    """Black-Scholes-Merton implied volatility of European options, every element at once.

    Arguments are numpy arrays or scalars that broadcast together: ``price`` per unit of
    underlying, ``is_call`` boolean, ``spot``, ``strike``, ``tau`` (years), ``rate`` and
    ``div_yield`` (annual, continuously compounded), as in rl_assets.market.pricing.

    Returns ``(vol, reason)``: ``vol`` a float64 array (NaN where there is no solution) and
    ``reason`` an object array holding None where solved and a `NoIv` member where not:
    NO_QUOTE (price missing or <= 0), NO_UNDERLYING_PRICE (spot missing or <= 0), EXPIRED
    (tau <= 0), ABOVE_MAXIMUM (call price >= spot e^{-q tau}, put price >= strike e^{-r tau}),
    BELOW_INTRINSIC (price at or below the discounted forward intrinsic value, where no positive
    volatility reproduces it, or above it by no more than the price's rounding: 64 ulps). Raises ValueError on a non-boolean is_call, a strike that is not
    finite and > 0, a NaN tau, or a rate or dividend yield that is not finite.
    """
    vol, code = _implied_volatility_codes(price, is_call, spot, strike, tau, rate, div_yield)
    return vol, np.array(_REASONS, dtype=object)[code]


def _implied_volatility_codes(price, is_call, spot, strike, tau, rate, div_yield) -> tuple[np.ndarray, np.ndarray]:
    """`implied_volatility` with the reasons as int8 codes into _REASONS."""
    is_call = np.asarray(is_call)
    if is_call.dtype != np.bool_:
        raise ValueError(f"is_call must be boolean; got dtype {is_call.dtype}")
    price, spot, strike, tau, rate, div_yield = (
        np.asarray(v, dtype=np.float64) for v in (price, spot, strike, tau, rate, div_yield)
    )
    for name, arr in (("strike", strike), ("tau", tau), ("rate", rate), ("div_yield", div_yield)):
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        if n_bad:
            raise ValueError(f"{name} must be finite; got {n_bad} NaN/inf values")
    n_bad = int(np.count_nonzero(strike <= 0))
    if n_bad:
        raise ValueError(f"strike must be > 0; got {n_bad} values <= 0")
    arrays = (price, is_call, spot, strike, tau, rate, div_yield)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    price, is_call, spot, strike, tau, rate, div_yield = (np.broadcast_to(a, shape).ravel() for a in arrays)

    code = np.zeros(price.shape, dtype=np.int8)
    # Later assignments win: the reason reported is the first fault in NO_QUOTE, spot, expiry order.
    code[~(tau > 0)] = _CODE[NoIv.EXPIRED]
    code[~(spot > 0)] = _CODE[NoIv.NO_UNDERLYING_PRICE]  # NaN compares False: missing is caught too
    code[~(price > 0)] = _CODE[NoIv.NO_QUOTE]
    vol = np.full(price.shape, np.nan)
    ok = np.flatnonzero(code == 0)
    if len(ok):
        c, p, s0, k, t, r, q = (a[ok] for a in (is_call, price, spot, strike, tau, rate, div_yield))
        log_moneyness = np.log(s0 / k) + (r - q) * t  # x = ln(F / K)
        forward = s0 * np.exp((r - q) * t)
        beta = p * np.exp(r * t) / np.sqrt(forward * k)  # undiscounted price over sqrt(F K)
        half = 0.5 * log_moneyness
        # Put-call symmetry: b_put(x) = b_call(-x); the OTM call's x is -|x|, its price the quote
        # less the forward intrinsic value (zero when the quote is already out of the money).
        intrinsic = np.maximum(np.where(c, 1.0, -1.0) * (np.exp(half) - np.exp(-half)), 0.0)
        beta_otm = beta - intrinsic
        # The most an option is worth: a call the forward (S e^{-q tau} discounted), a put the strike.
        above = beta >= np.where(c, np.exp(half), np.exp(-half))
        # At the intrinsic value to within the price's own rounding counts as at it: a time value
        # of a few ulps is noise, and any vol in a wide range reproduces it.
        below = ~above & (beta_otm <= 64.0 * np.spacing(beta))
        code[ok[above]] = _CODE[NoIv.ABOVE_MAXIMUM]
        code[ok[below]] = _CODE[NoIv.BELOW_INTRINSIC]
        solvable = ~(above | below)
        s, converged = _normalised_implied_s(-np.abs(log_moneyness[solvable]), beta_otm[solvable])
        solved = ok[solvable]
        vol[solved] = np.where(converged, s / np.sqrt(t[solvable]), np.nan)
        code[solved[~converged]] = _CODE[NoIv.NOT_CONVERGED]
    return vol.reshape(shape), code.reshape(shape)


# ---- the archive's entry point ------------------------------------------------------------------


def expiration_close_utc(expirations) -> pd.DatetimeIndex:
    """When each expiration's contracts stop trading: the close of the last NYSE session on or
    before the expiration date (so a Saturday-dated monthly, the pre-2015 convention, ends on the
    Friday; a holiday moves it to the session before; early closes are 13:00), as UTC timestamps.
    Dates beyond the calendar's range (long-dated LEAPS) take 16:00 New York on the date, or on
    the Friday before when it falls on a weekend. NaT where the date is missing."""
    return pd.DatetimeIndex(_expiration_close_ns(expirations)).tz_localize("UTC")


def _expiration_close_ns(expirations) -> np.ndarray:
    """expiration_close_utc as int64 nanoseconds since the epoch (UTC): one calendar lookup per
    distinct date, so a full market's 1.5M rows cost a factorize, not 1.5M date conversions."""
    from rl_assets import calendar

    codes, distinct = pd.factorize(pd.Series(np.asarray(expirations, dtype=object)), use_na_sentinel=True)
    cal = calendar.nyse()
    closes = []
    for day in pd.to_datetime(pd.Series(distinct, dtype=object)).dt.normalize():
        if cal.first_session <= day <= cal.last_session:
            closes.append(cal.session_close(cal.date_to_session(day, direction="previous")))
        else:
            friday = day - pd.Timedelta(days=max(day.weekday() - 4, 0))
            closes.append(pd.Timestamp(dt.datetime.combine(friday.date(), _REGULAR_CLOSE), tz=calendar.TIMEZONE))
    # One entry past the closes for a missing date (factorize's -1): NaT.
    table = np.array([c.as_unit("ns").value for c in closes] + [np.iinfo(np.int64).min], dtype=np.int64)
    return table[codes]


def _utc_ns(timestamps) -> np.ndarray:
    """Timestamps (tz-aware, or naive taken as UTC) as int64 nanoseconds since the epoch."""
    series = pd.to_datetime(pd.Series(timestamps), utc=True)
    return series.dt.as_unit("ns").array.asi8


def years_to_expiry(quote_time, expiration) -> np.ndarray:
    """tau in years of 365 days, from each quote_time (UTC) to its expiration's close
    (`expiration_close_utc`); NaN where either is missing. For a quote stamped at a session's
    close and a regular-hours expiration this is (expiration - quote date).days / 365: the
    synthetic market's tau."""
    quote, close = _utc_ns(quote_time), _expiration_close_ns(expiration)
    missing = (quote == np.iinfo(np.int64).min) | (close == np.iinfo(np.int64).min)
    seconds = (close - quote) / 1e9
    return np.where(missing, np.nan, seconds / (_YEAR_DAYS * 86_400.0))


def iv_and_greeks(frame: pd.DataFrame, rate: float, div_yield: float) -> IvAndGreeks:
    """Implied volatility and greeks for the contracts in `frame`, keeping the vendor's values.

    `frame` has INPUT_COLUMNS: contract_symbol, option_type ('call'/'put'), strike, expiration
    (date), quote_time (UTC), bid, ask, underlying_price, and the vendor's implied_volatility,
    delta, gamma, theta, vega, rho (NULL where the vendor has none, placeholders already NULLed
    by the chain format; an IV <= 0 counts as none). `rate` and `div_yield` are annual,
    continuously compounded decimals: one number for every row, or one per row (e.g. each
    underlying's dividend yield).

    Rules, per row:
    - IV: the vendor's where present (iv_source 'vendor'); else solved from the mid,
      (bid + ask) / 2 ('computed'); else NULL, with the reason in no_iv_reason (`NoIv`). A zero
      or missing bid, or a missing ask, is NO_QUOTE: the mid of a one-sided market is not a price.
    - Greeks: the vendor's five where all five are present (greeks_source 'vendor'); else all
      five by Black-Scholes-Merton at the row's IV, vendor's or computed ('computed', one
      consistent set from one model); NULL where there is no IV.
    - Time to expiry: `years_to_expiry`, from quote_time to the expiration session's close
      (16:00 New York, 13:00 on early closes), in years of 365 days. This is the synthetic
      market's tau (expiration - day).days / 365 for its close-stamped quotes and Friday
      expirations, and stays right for an intraday snapshot (a quote at 10:00 has 6 more
      hours of life than one at the close, which matters in an option's last days) and for
      Saturday-dated or holiday expirations, which stop trading at the session before.

    Returns the output frame (IV_AND_GREEKS_COLUMNS, input order) and an IvSummary.
    """
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"iv_and_greeks: input lacks columns {missing}")
    n = len(frame)
    try:
        rate, div_yield = (np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in (rate, div_yield))
    except ValueError as err:
        raise ValueError(f"iv_and_greeks: rate and div_yield must be numbers or one per row ({n} rows)") from err
    for name, value in (("rate", rate), ("div_yield", div_yield)):
        if not np.isfinite(value).all():
            raise ValueError(f"iv_and_greeks: {name} must be finite; got {value[~np.isfinite(value)][:3]}")
    option_type = frame["option_type"]
    bad_type = ~option_type.isin(["call", "put"])
    if bad_type.any():
        raise ValueError(
            f"iv_and_greeks: option_type must be 'call' or 'put'; got {sorted(set(option_type[bad_type].astype(str)))}"
        )

    def numbers(column: str) -> np.ndarray:
        return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)

    is_call = (option_type == "call").to_numpy()
    strike, bid, ask, spot = (numbers(c) for c in ("strike", "bid", "ask", "underlying_price"))
    vendor_iv = numbers("implied_volatility")
    vendor_greeks = {g: numbers(g) for g in GREEKS}
    tau = years_to_expiry(frame["quote_time"], frame["expiration"])
    if np.isnan(tau).any():
        raise ValueError(f"iv_and_greeks: {int(np.isnan(tau).sum())} rows lack a quote_time or an expiration")

    has_vendor_iv = np.isfinite(vendor_iv) & (vendor_iv > 0)
    iv = np.where(has_vendor_iv, vendor_iv, np.nan)
    code = np.zeros(n, dtype=np.int8)
    need = np.flatnonzero(~has_vendor_iv)
    if len(need):
        b, a = bid[need], ask[need]
        solved, why = _implied_volatility_codes(
            0.5 * (b + a), is_call[need], spot[need], strike[need], tau[need], rate[need], div_yield[need]
        )
        # The quote's own faults first: the solver sees only a mid.
        no_quote = ~(b > 0) | ~(a > 0)
        why[~no_quote & (a < b)] = _CODE[NoIv.CROSSED_QUOTE]
        why[no_quote] = _CODE[NoIv.NO_QUOTE]
        iv[need], code[need] = np.where(why == 0, solved, np.nan), why
    computed_iv = ~has_vendor_iv & np.isfinite(iv)

    has_vendor_greeks = np.logical_and.reduce([np.isfinite(vendor_greeks[g]) for g in GREEKS])
    greeks = {g: np.where(has_vendor_greeks, vendor_greeks[g], np.nan) for g in GREEKS}
    # Greeks need a living contract, a spot and an IV; expired rows keep NULL even with a vendor IV.
    compute = ~has_vendor_greeks & np.isfinite(iv) & (tau > 0) & (spot > 0)
    if compute.any():
        idx = np.flatnonzero(compute)
        model = bsm_price_and_greeks(is_call[idx], spot[idx], strike[idx], tau[idx], rate[idx], div_yield[idx], iv[idx])
        for g in GREEKS:
            greeks[g][idx] = model[g]

    iv_source = np.where(has_vendor_iv, SOURCE_VENDOR, np.where(computed_iv, SOURCE_COMPUTED, None)).astype(object)
    greeks_source = np.where(has_vendor_greeks, SOURCE_VENDOR, np.where(compute, SOURCE_COMPUTED, None))
    out = pd.DataFrame(
        {
            "contract_symbol": frame["contract_symbol"],
            "quote_time": frame["quote_time"],
            "implied_volatility": iv,
            **greeks,
            "iv_source": iv_source,
            "greeks_source": greeks_source.astype(object),
            "no_iv_reason": _REASON_VALUES[code],
        },
        index=frame.index,
    )
    counts = np.bincount(code, minlength=len(_REASONS))
    summary = IvSummary(
        rows=n,
        vendor_iv=int(has_vendor_iv.sum()),
        computed_iv=int(computed_iv.sum()),
        vendor_greeks=int(has_vendor_greeks.sum()),
        computed_greeks=int(compute.sum()),
        no_iv={_REASON_VALUES[c]: int(counts[c]) for c in range(1, len(_REASONS)) if counts[c]},
    )
    return IvAndGreeks(out, summary)
