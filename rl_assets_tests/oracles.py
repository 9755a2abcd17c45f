"""Independent oracles shared by the tests (code we did not write does the computing)."""

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import QuantLib as ql


def quantlib_bsm(is_call, spot, strike, days, rate, div_yield, vol, today):
    """QuantLib price/greeks rescaled to our conventions.

    QuantLib quotes theta per year, vega per 1.00 of vol and rho per 1.00 of
    rate, so divide by 365 / 100 / 100. (Its thetaPerDay() is exactly
    theta()/365, see BlackCalculator::thetaPerDay.)
    """
    dc = ql.Actual365Fixed()  # so tau = days / 365, as in our tests
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, div_yield, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
    )
    option = ql.EuropeanOption(
        ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
        ql.EuropeanExercise(today + int(days)),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return {
        "price": option.NPV(),
        "delta": option.delta(),
        "gamma": option.gamma(),
        "theta": option.theta() / 365.0,
        "vega": option.vega() / 100.0,
        "rho": option.rho() / 100.0,
    }


# ---- the training sample's rule (sql/rl_dataset_training_rows.sql), recomputed with pandas and hashlib


def _bucket(log_moneyness: float) -> int:
    if pd.isna(log_moneyness):
        return 0
    if log_moneyness < -0.10:
        return 1
    if log_moneyness < -0.03:
        return 2
    if log_moneyness <= 0.03:
        return 3
    return 4 if log_moneyness <= 0.10 else 5


def expected_training_sample(rows: pd.DataFrame, cap: int, seed: int, labels_before: dt.date) -> set:
    """The documented rule, recomputed: strata of underlying x moneyness bucket, MD5 order within a
    stratum, each stratum allotted ceil(cap x its share), the day's cut taken evenly across strata."""
    labelled = rows[rows["reward"].notna() & (rows["label_end_date"] < labels_before)].copy()
    labelled["draw"] = [hashlib.md5(f"{s}/{seed}".encode()).hexdigest() for s in labelled["contract_symbol"]]
    labelled["bucket"] = labelled["log_moneyness"].map(_bucket)
    chosen = set()
    for _, day in labelled.groupby("snapshot_date"):
        day = day.sort_values(["draw", "contract_symbol"])
        day["rank"] = day.groupby(["underlying", "bucket"]).cumcount() + 1
        day["size"] = day.groupby(["underlying", "bucket"])["rank"].transform("count")
        allotted = day[day["rank"] <= np.ceil(cap * day["size"] / len(day))].copy()
        allotted["share"] = allotted["rank"] / allotted["size"]
        kept = allotted.sort_values(["share", "draw", "contract_symbol"]).head(cap)
        chosen |= set(zip(kept["snapshot_date"], kept["contract_symbol"], strict=True))
    return chosen
