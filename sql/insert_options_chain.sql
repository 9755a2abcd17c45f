-- Load the live chain from a staging table (the synthetic market playing the existing pipeline).
INSERT INTO options_chain (
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time
)
SELECT
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time
FROM options_chain_staging
