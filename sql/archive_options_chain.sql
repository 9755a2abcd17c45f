-- Archive the live chain into one snapshot_date partition. options_chain is the chain as its format
-- reads it (rl_assets.formats.select): the contract's columns, the source row as JSON and where the
-- IV and greeks came from.
-- A NaN or +-inf price, IV or greek is stored as NULL (counted beforehand by
-- options_chain_problem_details.sql): in DuckDB NaN sorts above every number, so a NaN bid would
-- pass every "bid >= target" and become a take-profit label. @null_non_finite is false when the
-- screen (options_chain_problems.sql) found none: the per-value tests are then skipped (they cost
-- ~8% of the copy on a full-market chain).
INSERT INTO options_chain_history (
    underlying, contract_symbol, option_type, strike, expiration, dte,
    bid, ask, mid, last, volume, open_interest, implied_volatility,
    delta, gamma, theta, vega, rho, underlying_price, quote_time,
    snapshot_date, archived_at, source_row, iv_source, greeks_source
)
SELECT
    underlying, contract_symbol, option_type, strike, expiration, dte,
    IF(@null_non_finite AND (IS_NAN(bid) OR IS_INF(bid)), NULL, bid) AS bid,
    IF(@null_non_finite AND (IS_NAN(ask) OR IS_INF(ask)), NULL, ask) AS ask,
    IF(@null_non_finite AND (IS_NAN(mid) OR IS_INF(mid)), NULL, mid) AS mid,
    IF(@null_non_finite AND (IS_NAN(last) OR IS_INF(last)), NULL, last) AS last,
    volume, open_interest,
    IF(@null_non_finite AND (IS_NAN(implied_volatility) OR IS_INF(implied_volatility)), NULL, implied_volatility) AS implied_volatility,
    IF(@null_non_finite AND (IS_NAN(delta) OR IS_INF(delta)), NULL, delta) AS delta,
    IF(@null_non_finite AND (IS_NAN(gamma) OR IS_INF(gamma)), NULL, gamma) AS gamma,
    IF(@null_non_finite AND (IS_NAN(theta) OR IS_INF(theta)), NULL, theta) AS theta,
    IF(@null_non_finite AND (IS_NAN(vega) OR IS_INF(vega)), NULL, vega) AS vega,
    IF(@null_non_finite AND (IS_NAN(rho) OR IS_INF(rho)), NULL, rho) AS rho,
    IF(@null_non_finite AND (IS_NAN(underlying_price) OR IS_INF(underlying_price)), NULL, underlying_price) AS underlying_price,
    quote_time,
    @snapshot_date AS snapshot_date,
    @archived_at AS archived_at,
    source_row, iv_source, greeks_source
FROM options_chain
