-- Archive the live chain into one snapshot_date partition. The column list is explicit so a column
-- the live table gains later is left out (and reported) rather than breaking the insert.
-- A NaN or +-inf price, IV or greek is stored as NULL (counted beforehand by
-- options_chain_problems.sql): in DuckDB NaN sorts above every number, so a NaN bid would pass
-- every "bid >= target" and become a take-profit label.
INSERT INTO options_chain_history (
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time,
    snapshot_date, archived_at
)
SELECT
    underlying, contract_symbol, option_type, strike, expiration, dte,
    IF(IS_NAN(bid) OR IS_INF(bid), NULL, bid) AS bid,
    IF(IS_NAN(ask) OR IS_INF(ask), NULL, ask) AS ask,
    IF(IS_NAN(mid) OR IS_INF(mid), NULL, mid) AS mid,
    IF(IS_NAN(last) OR IS_INF(last), NULL, last) AS last,
    volume, open_interest,
    IF(IS_NAN(implied_volatility) OR IS_INF(implied_volatility), NULL, implied_volatility) AS implied_volatility,
    IF(IS_NAN(delta) OR IS_INF(delta), NULL, delta) AS delta,
    IF(IS_NAN(gamma) OR IS_INF(gamma), NULL, gamma) AS gamma,
    IF(IS_NAN(theta) OR IS_INF(theta), NULL, theta) AS theta,
    IF(IS_NAN(vega) OR IS_INF(vega), NULL, vega) AS vega,
    IF(IS_NAN(rho) OR IS_INF(rho), NULL, rho) AS rho,
    IF(IS_NAN(underlying_price) OR IS_INF(underlying_price), NULL, underlying_price) AS underlying_price,
    quote_time,
    @snapshot_date AS snapshot_date,
    @archived_at AS archived_at
FROM options_chain
