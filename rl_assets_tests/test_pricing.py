"""Tests for rl_assets.market.pricing against independent oracles.

Oracles: QuantLib's AnalyticEuropeanEngine, vollib's Black-Scholes-Merton
(Jaeckel's LetsBeRational price + its analytical greeks), no-arbitrage
identities, and a real Yahoo AAPL options chain (see data/README.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from vollib.black_scholes_merton import black_scholes_merton as vollib_price
from vollib.black_scholes_merton.greeks import analytical as vollib_greeks

from rl_assets.market.pricing import bsm_price_and_greeks, intrinsic_value
from rl_assets_tests import oracles

GREEKS = ("price", "delta", "gamma", "theta", "vega", "rho")
CHAIN_PATH = Path(__file__).parent / "data" / "aapl_chain_2016-09-06.json"
EVAL_DATE = ql.Date(6, ql.September, 2016)

# Grid: calls/puts x ITM/ATM/OTM x 2 days / 2 years x low/high vol x two
# rate/dividend pairs (both dividends nonzero; one rate negative).
SPOT = 100.0
GRID = [
    dict(is_call=c, strike=k, days=n, vol=v, rate=r, div_yield=q)
    for c, k, n, v, (r, q) in itertools.product(
        (True, False), (85.0, 100.0, 115.0), (2, 730), (0.08, 0.9),
        ((0.03, 0.02), (-0.005, 0.06)),
    )
]  # fmt: skip
GRID_IDS = [
    f"{'C' if g['is_call'] else 'P'}-K{g['strike']:g}-{g['days']}d-vol{g['vol']}-r{g['rate']}-q{g['div_yield']}"
    for g in GRID
]


@pytest.fixture
def ql_eval_date():
    """QuantLib's evaluation date is global state: set it, then restore it."""
    settings = ql.Settings.instance()
    saved = settings.evaluationDate
    settings.evaluationDate = EVAL_DATE
    yield EVAL_DATE
    settings.evaluationDate = saved


def quantlib_bsm(is_call, spot, strike, days, rate, div_yield, vol, today=EVAL_DATE):
    return oracles.quantlib_bsm(is_call, spot, strike, days, rate, div_yield, vol, today)


def vollib_bsm(is_call, spot, strike, tau, rate, div_yield, vol):
    """vollib price/greeks; already in our conventions.

    Read from vollib 1.0.11's source (black_scholes_merton/greeks/analytical.py):
    theta is divided by 365.0 (per calendar day), vega and rho are multiplied
    by 0.01 (per vol point / per rate point); delta and gamma per unit spot.
    So no rescaling is needed. Note the argument order is
    (flag, S, K, t, r, sigma, q): sigma comes before the dividend yield.
    """
    flag = "c" if is_call else "p"
    args = (flag, spot, strike, tau, rate, vol, div_yield)
    return {
        "price": vollib_price(*args),
        "delta": vollib_greeks.delta(*args),
        "gamma": vollib_greeks.gamma(*args),
        "theta": vollib_greeks.theta(*args),
        "vega": vollib_greeks.vega(*args),
        "rho": vollib_greeks.rho(*args),
    }


def assert_greeks_close(ours, theirs, atol, label=""):
    for key in GREEKS:
        np.testing.assert_allclose(
            np.asarray(ours[key], dtype=float), np.asarray(theirs[key], dtype=float),
            rtol=0, atol=atol, err_msg=f"{label} {key}",
        )  # fmt: skip


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("case", GRID, ids=GRID_IDS)
def test_matches_quantlib_on_grid(case, ql_eval_date):
    ours = bsm_price_and_greeks(
        case["is_call"], SPOT, case["strike"], case["days"] / 365.0,
        case["rate"], case["div_yield"], case["vol"],
    )  # fmt: skip
    theirs = quantlib_bsm(
        case["is_call"], SPOT, case["strike"], case["days"],
        case["rate"], case["div_yield"], case["vol"],
    )  # fmt: skip
    assert_greeks_close(ours, theirs, atol=1e-8)


def test_matches_vollib_on_grid_in_one_vectorised_call():
    cols = {k: np.array([g[k] for g in GRID]) for k in GRID[0]}
    tau = cols["days"] / 365.0
    ours = bsm_price_and_greeks(
        cols["is_call"], SPOT, cols["strike"], tau, cols["rate"], cols["div_yield"], cols["vol"]
    )
    for i, g in enumerate(GRID):
        theirs = vollib_bsm(g["is_call"], SPOT, g["strike"], tau[i], g["rate"], g["div_yield"], g["vol"])
        assert_greeks_close({k: v[i] for k, v in ours.items()}, theirs, 1e-8, GRID_IDS[i])


def test_oracles_agree_with_each_other(ql_eval_date):
    # Guards the unit conversions above: if either oracle were rescaled wrongly
    # they would disagree here, independently of our implementation.
    for g, label in zip(GRID, GRID_IDS, strict=False):
        args = (g["is_call"], SPOT, g["strike"])
        rest = (g["rate"], g["div_yield"], g["vol"])
        q = quantlib_bsm(*args, g["days"], *rest)
        v = vollib_bsm(*args, g["days"] / 365.0, *rest)
        assert_greeks_close(q, v, atol=1e-11, label=label)


# ---------------------------------------------------------- real options chain


def load_chain():
    """Flatten the Yahoo JSON into arrays, one entry per contract."""
    result = json.loads(CHAIN_PATH.read_text())["optionChain"]["result"][0]
    quote, (expiry,) = result["quote"], result["options"]
    rows = [(True, c) for c in expiry["calls"]] + [(False, p) for p in expiry["puts"]]
    col = lambda key: np.array([r[key] for _, r in rows], dtype=float)  # noqa: E731
    utc_date = lambda ts: dt.datetime.fromtimestamp(ts, dt.UTC).date()  # noqa: E731
    return {
        "spot": quote["regularMarketPrice"],
        "quote_date": utc_date(quote["regularMarketTime"]),
        "expiry_date": utc_date(expiry["expirationDate"]),
        "is_call": np.array([is_call for is_call, _ in rows]),
        "strike": col("strike"),
        "iv": col("impliedVolatility"),
        "bid": col("bid"),
        "ask": col("ask"),
    }


# AAPL went ex-dividend on 2016-08-04 and next on 2016-11-03, so no dividend
# falls before this expiry. Rate ~ 1-month US T-bill in early Sep 2016; over
# 3 days it moves prices by at most K*r*tau ~ 0.3 cents.
CHAIN_RATE, CHAIN_DIV = 0.003, 0.0


@pytest.fixture(scope="module")
def chain():
    c = load_chain()
    # Catch a misread file before trusting anything computed from it.
    assert c["spot"] == 107.68
    assert (c["quote_date"], c["expiry_date"]) == (dt.date(2016, 9, 6), dt.date(2016, 9, 9))
    assert len(c["strike"]) == 76 and c["is_call"].sum() == 38
    # Yahoo writes IV ~0 (0 or 1e-5) when no IV exists; the others are real.
    c["has_iv"] = c["iv"] > 0.01
    c["days"] = (c["expiry_date"] - c["quote_date"]).days
    return c


def test_placeholder_ivs_are_quotes_below_intrinsic(chain):
    # Yahoo's IV is a placeholder exactly where the ask is below intrinsic
    # value (stale quotes no volatility can reproduce); those rows are
    # excluded from the pricing checks below.
    below = chain["ask"] < intrinsic_value(chain["is_call"], chain["spot"], chain["strike"])
    assert (~chain["has_iv"]).sum() == 5
    np.testing.assert_array_equal(below, ~chain["has_iv"])


def test_matches_quantlib_on_real_chain(chain, ql_eval_date):
    m = chain["has_iv"]
    ours = bsm_price_and_greeks(
        chain["is_call"][m], chain["spot"], chain["strike"][m], chain["days"] / 365.0,
        CHAIN_RATE, CHAIN_DIV, chain["iv"][m],
    )  # fmt: skip
    for i, (is_call, strike, iv) in enumerate(
        zip(chain["is_call"][m], chain["strike"][m], chain["iv"][m], strict=False)
    ):
        theirs = quantlib_bsm(bool(is_call), chain["spot"], strike, chain["days"], CHAIN_RATE, CHAIN_DIV, iv)
        label = f"{'C' if is_call else 'P'}{strike:g} iv={iv:.4f}"
        assert_greeks_close({k: v[i] for k, v in ours.items()}, theirs, 1e-8, label)


def test_prices_at_quoted_iv_lie_within_bid_ask(chain):
    # Repricing each contract at Yahoo's own IV should land inside its quote.
    # Observed on this snapshot: every contract with a real IV and both quotes
    # > 0 (67 of them) lands within 0.31 cents of [bid, ask], mostly at the
    # ask, so Yahoo seems to back IV out of the ask. The residual comes from
    # Yahoo's coarse IVs (most are bisection steps of ~2**-11 on [1e-5, 1],
    # e.g. 0.37500625 = 1e-5 + 0.375 * (1 - 1e-5)) and our guess of its rate.
    # One cent (the tick size under $3) is an honest bound that still bites:
    # pricing with 2 or 4 days instead of 3 misses by 16c / 52c.
    # These are American options; with no dividend before expiry an American
    # call equals the European one and the put's early-exercise premium over
    # 3 days at ~0.3% rates is far below a cent.
    m = chain["has_iv"] & (chain["bid"] > 0) & (chain["ask"] > 0)
    assert m.sum() == 67
    price = bsm_price_and_greeks(
        chain["is_call"][m], chain["spot"], chain["strike"][m], chain["days"] / 365.0,
        CHAIN_RATE, CHAIN_DIV, chain["iv"][m],
    )["price"]  # fmt: skip
    outside = np.maximum(chain["bid"][m] - price, 0) + np.maximum(price - chain["ask"][m], 0)
    worst = int(np.argmax(outside))
    assert outside[worst] <= 0.01, (
        f"strike {chain['strike'][m][worst]} priced {price[worst]:.4f} vs "
        f"bid {chain['bid'][m][worst]} / ask {chain['ask'][m][worst]}"
    )


# ------------------------------------------------------ no-arbitrage identities


@pytest.fixture(scope="module")
def random_grid():
    rng = np.random.default_rng(20160906)
    n = 2000
    spot = rng.uniform(5.0, 500.0, n)
    return dict(
        spot=spot,
        strike=spot * np.exp(rng.uniform(-0.7, 0.7, n)),
        tau=rng.uniform(1 / 365, 5.0, n),
        rate=rng.uniform(-0.01, 0.10, n),
        div_yield=rng.uniform(0.0, 0.08, n),
        vol=rng.uniform(0.03, 2.0, n),
    )


def test_put_call_parity(random_grid):
    g = random_grid
    call = bsm_price_and_greeks(True, **g)
    put = bsm_price_and_greeks(False, **g)
    disc_q, disc_r = np.exp(-g["div_yield"] * g["tau"]), np.exp(-g["rate"] * g["tau"])
    np.testing.assert_allclose(
        call["price"] - put["price"], g["spot"] * disc_q - g["strike"] * disc_r, rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(call["delta"] - put["delta"], disc_q, rtol=0, atol=1e-12)
    # Parity is linear in the option, so gamma and vega must be identical.
    np.testing.assert_allclose(call["gamma"], put["gamma"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(call["vega"], put["vega"], rtol=1e-12, atol=0)


def test_broadcasting_and_dtypes():
    # is_call (2,1,1) x strike (3,1) x vol (4,) -> (2,3,4); scalars elsewhere.
    is_call = np.array([True, False]).reshape(2, 1, 1)
    strike = np.array([90.0, 100.0, 110.0]).reshape(3, 1)
    vol = np.array([0.1, 0.2, 0.4, 0.8])
    out = bsm_price_and_greeks(is_call, 100.0, strike, 0.5, 0.01, 0.0, vol)
    assert set(out) == set(GREEKS)
    for key, arr in out.items():
        assert arr.shape == (2, 3, 4) and arr.dtype == np.float64, key
        assert np.isfinite(arr).all(), key
    one = bsm_price_and_greeks(False, 100.0, 110.0, 0.5, 0.01, 0.0, 0.4)
    for key in GREEKS:
        assert out[key][1, 2, 2] == one[key], key


def test_intrinsic_value():
    out = intrinsic_value(np.array([True, True, False, False]), 100.0, np.array([90.0, 110.0, 90.0, 110.0]))
    np.testing.assert_array_equal(out, [10.0, 0.0, 0.0, 10.0])
    assert out.dtype == np.float64


# ------------------------------------------------------------------ bad input

GOOD = dict(is_call=True, spot=100.0, strike=100.0, tau=0.5, rate=0.01, div_yield=0.0, vol=0.2)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"tau": np.array([0.5, 0.0, -1.0, -1e-9])}, r"^tau must be > 0 years; got 3 values <= 0$"),
        ({"vol": 0.0}, r"^vol must be > 0; got 1 values <= 0$"),
        ({"vol": np.array([0.2, -0.1])}, r"^vol must be > 0; got 1 values <= 0$"),
        ({"spot": -1.0}, r"^spot must be > 0; got 1 values <= 0$"),
        ({"strike": np.array([0.0, 0.0])}, r"^strike must be > 0; got 2 values <= 0$"),
        ({"spot": np.array([np.nan, 1.0, np.nan])}, r"^spot must be finite; got 2 NaN/inf values$"),
        ({"vol": np.nan}, r"^vol must be finite"),
        ({"tau": np.inf}, r"^tau must be finite"),
        ({"rate": np.nan}, r"^rate must be finite"),
        ({"div_yield": np.array([0.0, np.nan])}, r"^div_yield must be finite"),
        ({"is_call": "p"}, r"^is_call must be boolean"),
        ({"is_call": np.array([1, 0])}, r"^is_call must be boolean"),
    ],
    ids=lambda x: next(iter(x)) if isinstance(x, dict) else None,
)
def test_bad_input_raises_value_error(override, message):
    with pytest.raises(ValueError, match=message):
        bsm_price_and_greeks(**{**GOOD, **override})


@pytest.mark.parametrize(
    "args, message",
    [
        (("c", 100.0, 90.0), r"^is_call must be boolean"),
        ((True, np.nan, 90.0), r"^spot must be finite"),
        ((True, 100.0, -5.0), r"^strike must be > 0"),
    ],
)
def test_intrinsic_value_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        intrinsic_value(*args)
