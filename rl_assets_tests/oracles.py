"""Independent oracles shared by the tests (code we did not write does the computing)."""

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
