-- Archive the live chain into one snapshot_date partition. The column list is explicit so a column
-- the live table gains later is left out (and reported) rather than breaking the insert.
INSERT INTO options_chain_history (
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time,
    snapshot_date, archived_at
)
SELECT
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time,
    @snapshot_date AS snapshot_date,
    @archived_at AS archived_at
FROM options_chain
