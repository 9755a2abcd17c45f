-- The details of what options_chain_problems.sql found in a chain about to be archived (run only
-- when it found something), counted in one statement over the source (inside the archive's
-- transaction):
--   a NULL underlying, contract_symbol, strike or expiration: refused (NOT NULL in the history);
--   a contract_symbol listed more than once: refused (the history's key is (snapshot_date, contract_symbol));
--   option_type outside 'call'/'put', NULL included: refused (downstream is_call would be false);
--   NaN / +-inf per FLOAT64 column: archive_options_chain.sql stores them as NULL; counted here
--   (a non-finite strike is refused: strike is NOT NULL in the history).
-- One row; the example columns name an offending value for the refusal message. The duplicates
-- are found by grouping contract_symbol alone: one GROUP BY carrying every count per contract was
-- measured 3x slower on a full-market chain (1.7M contracts).
WITH counts AS (
    SELECT
        COUNTIF(underlying IS NULL) AS null_underlying,
        COUNTIF(contract_symbol IS NULL) AS null_contract_symbol,
        COUNTIF(strike IS NULL) AS null_strike,
        COUNTIF(expiration IS NULL) AS null_expiration,
        COUNTIF(option_type IS NULL) AS null_option_types,
        COUNTIF(option_type NOT IN ('call', 'put')) AS other_option_types,
        MIN(IF(option_type NOT IN ('call', 'put'), option_type, NULL)) AS first_other_option_type,
        MAX(IF(option_type NOT IN ('call', 'put'), option_type, NULL)) AS last_other_option_type,
        MIN(IF(IS_NAN(strike) OR IS_INF(strike), contract_symbol, NULL)) AS example_non_finite_strike_symbol,
        COUNTIF(IS_NAN(strike) OR IS_INF(strike)) AS non_finite_strike,
        COUNTIF(IS_NAN(bid) OR IS_INF(bid)) AS non_finite_bid,
        COUNTIF(IS_NAN(ask) OR IS_INF(ask)) AS non_finite_ask,
        COUNTIF(IS_NAN(mid) OR IS_INF(mid)) AS non_finite_mid,
        COUNTIF(IS_NAN(last) OR IS_INF(last)) AS non_finite_last,
        COUNTIF(IS_NAN(implied_volatility) OR IS_INF(implied_volatility)) AS non_finite_implied_volatility,
        COUNTIF(IS_NAN(delta) OR IS_INF(delta)) AS non_finite_delta,
        COUNTIF(IS_NAN(gamma) OR IS_INF(gamma)) AS non_finite_gamma,
        COUNTIF(IS_NAN(theta) OR IS_INF(theta)) AS non_finite_theta,
        COUNTIF(IS_NAN(vega) OR IS_INF(vega)) AS non_finite_vega,
        COUNTIF(IS_NAN(rho) OR IS_INF(rho)) AS non_finite_rho,
        COUNTIF(IS_NAN(underlying_price) OR IS_INF(underlying_price)) AS non_finite_underlying_price
    FROM options_chain
),
duplicates AS (
    SELECT
        COALESCE(SUM(copies - 1), 0) AS duplicate_rows,
        COUNT(*) AS duplicated_symbols,
        MIN(contract_symbol) AS example_duplicated_symbol
    FROM (
        SELECT contract_symbol, COUNT(*) AS copies
        FROM options_chain
        GROUP BY contract_symbol
        HAVING COUNT(*) > 1
    )
)
SELECT counts.*, duplicates.*
FROM counts
CROSS JOIN duplicates
