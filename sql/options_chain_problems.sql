-- A cheap screen of a chain about to be archived (inside the archive's transaction), one row:
--   duplicate_rows: rows beyond one per contract_symbol (the history's key);
--   unknown_option_types: option_type NULL or other than 'call'/'put';
--   rows_missing_keys: rows without an underlying, contract_symbol, strike or expiration (NOT NULL in
--     the history: a format reading the wrong column, or a symbol that is not OCC);
--   rows_with_non_finite: rows with a NaN or +-inf in any FLOAT64 column. One sum per row carries
--     them all (NaN and inf propagate through addition; NULLs count as 0); a finite sum that
--     overflowed would only send a clean chain to the details query, which then counts nothing.
-- Only when one is non-zero does options_chain_problem_details.sql count per column and name
-- examples: its per-column counts and duplicate grouping cost 0.35 s on a full-market chain (1.7M
-- contracts) against this screen's ~0.15 s, and nearly every chain is clean.
SELECT
    COUNT(*) - COUNT(DISTINCT contract_symbol) AS duplicate_rows,
    COUNTIF(option_type IS NULL OR option_type NOT IN ('call', 'put')) AS unknown_option_types,
    COUNTIF(IS_NAN(float_sum) OR IS_INF(float_sum)) AS rows_with_non_finite,
    COUNTIF(underlying IS NULL OR contract_symbol IS NULL OR strike IS NULL OR expiration IS NULL) AS rows_missing_keys
FROM (
    SELECT
        underlying,
        contract_symbol,
        expiration,
        strike,
        option_type,
        COALESCE(strike, 0) + COALESCE(bid, 0) + COALESCE(ask, 0) + COALESCE(mid, 0) + COALESCE(last, 0)
            + COALESCE(implied_volatility, 0) + COALESCE(delta, 0) + COALESCE(gamma, 0) + COALESCE(theta, 0)
            + COALESCE(vega, 0) + COALESCE(rho, 0) + COALESCE(underlying_price, 0) AS float_sum
    FROM options_chain
)
