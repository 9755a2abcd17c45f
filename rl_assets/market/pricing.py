"""Vectorised Black-Scholes-Merton prices and greeks for European options.

Model: lognormal spot with a continuous dividend yield ``q`` and a flat
continuously-compounded risk-free rate ``r`` (Merton 1973).

Units and conventions (the ones market-data vendors quote):

* ``tau``   -- time to expiry in years (> 0); ``vol`` -- annualised (0.25 = 25%).
* ``rate``, ``div_yield`` -- annual, continuously compounded decimals (0.03 = 3%).
* ``price`` -- in the currency of ``spot`` and ``strike``, per unit of underlying.
* ``delta`` -- d price / d spot, per 1 unit of spot.
* ``gamma`` -- d delta / d spot, per 1 unit of spot.
* ``theta`` -- d price / d calendar time, per calendar day (annual theta / 365);
  usually negative for a long option.
* ``vega``  -- d price / d vol, per 1 volatility point (per 0.01 of vol, i.e. / 100).
* ``rho``   -- d price / d rate, per 1 percentage point of rate (i.e. / 100).

Every function takes numpy arrays or scalars that broadcast together and
returns float64 arrays of the broadcast shape. This module deliberately
depends only on numpy and scipy (no dagster) so it can be used anywhere.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["bsm_price_and_greeks", "intrinsic_value"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _as_bool(is_call) -> np.ndarray:
    is_call = np.asarray(is_call)
    # Refuse strings/ints: bool("p") is True, so a truthiness cast would
    # silently price puts as calls.
    if is_call.dtype != np.bool_:
        raise ValueError(f"is_call must be boolean; got dtype {is_call.dtype}")
    return is_call


def _as_float(name: str, value, *, positive: bool, unit: str = "") -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    n_bad = int(np.count_nonzero(~np.isfinite(arr)))
    if n_bad:
        raise ValueError(f"{name} must be finite; got {n_bad} NaN/inf values")
    if positive:
        n_bad = int(np.count_nonzero(arr <= 0))
        if n_bad:
            raise ValueError(f"{name} must be > 0{unit}; got {n_bad} values <= 0")
    return arr


def bsm_price_and_greeks(is_call, spot, strike, tau, rate, div_yield, vol) -> dict[str, np.ndarray]:
    """Price and greeks of European options under Black-Scholes-Merton.

    Returns a dict with keys ``price``, ``delta``, ``gamma``, ``theta``,
    ``vega``, ``rho`` (units in the module docstring). Raises ValueError on
    non-boolean ``is_call``, NaN/inf inputs, or non-positive spot, strike,
    tau or vol. ``rate`` and ``div_yield`` may be negative.
    """
    is_call = _as_bool(is_call)
    spot = _as_float("spot", spot, positive=True)
    strike = _as_float("strike", strike, positive=True)
    tau = _as_float("tau", tau, positive=True, unit=" years")
    rate = _as_float("rate", rate, positive=False)
    div_yield = _as_float("div_yield", div_yield, positive=False)
    vol = _as_float("vol", vol, positive=True)

    # w = +1 for calls, -1 for puts: one formula covers both via N(w*d).
    w = np.where(is_call, 1.0, -1.0)
    sqrt_tau = np.sqrt(tau)
    std_dev = vol * sqrt_tau
    d1 = (np.log(spot / strike) + (rate - div_yield + 0.5 * vol * vol) * tau) / std_dev
    d2 = d1 - std_dev
    disc_q = np.exp(-div_yield * tau)
    disc_r = np.exp(-rate * tau)
    pdf_d1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    nd1 = ndtr(w * d1)
    nd2 = ndtr(w * d2)

    fwd_leg = spot * disc_q * nd1  # discounted value of receiving the stock
    strike_leg = strike * disc_r * nd2  # discounted value of paying the strike
    theta_per_year = -spot * disc_q * pdf_d1 * vol / (2.0 * sqrt_tau) + w * (div_yield * fwd_leg - rate * strike_leg)

    shape = np.broadcast_shapes(
        is_call.shape, spot.shape, strike.shape, tau.shape,
        rate.shape, div_yield.shape, vol.shape,
    )  # fmt: skip
    out = {
        "price": w * (fwd_leg - strike_leg),
        "delta": w * disc_q * nd1,
        "gamma": disc_q * pdf_d1 / (spot * std_dev),
        "theta": theta_per_year / 365.0,
        "vega": spot * disc_q * pdf_d1 * sqrt_tau / 100.0,
        "rho": w * strike * tau * disc_r * nd2 / 100.0,
    }
    # Greeks that don't depend on every input (e.g. gamma on is_call) would
    # otherwise come back with a smaller shape than the price.
    return {k: np.broadcast_to(v, shape).astype(np.float64) for k, v in out.items()}


def intrinsic_value(is_call, spot, strike) -> np.ndarray:
    """Exercise value now: max(spot - strike, 0) for calls, max(strike - spot, 0) for puts."""
    is_call = _as_bool(is_call)
    spot = _as_float("spot", spot, positive=True)
    strike = _as_float("strike", strike, positive=True)
    return np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
