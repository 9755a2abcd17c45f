-- The live chain's rows that lack an IV or a greek (the vendor has none, or a placeholder), with what
-- Black-Scholes-Merton needs to fill them in (rl_assets.market.implied): only these rows leave the
-- warehouse.
SELECT
    contract_symbol, option_type, strike, expiration, quote_time, bid, ask, underlying_price,
    implied_volatility, delta, gamma, theta, vega, rho
FROM options_chain
WHERE implied_volatility IS NULL OR delta IS NULL OR gamma IS NULL OR theta IS NULL OR vega IS NULL OR rho IS NULL
