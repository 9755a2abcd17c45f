-- The offending rows behind ask_not_below_intrinsic and no_placeholder_iv, at most @examples per
-- rule and day (the worst first), for the checks' metadata. Run only when
-- options_chain_history_quality.sql counted some: the counts scan once, this names a few.
WITH bounded AS (
    SELECT
        snapshot_date,
        contract_symbol,
        option_type,
        strike,
        underlying_price,
        ask,
        implied_volatility,
        delta,
        gamma,
        theta,
        vega,
        IF(option_type = 'call', underlying_price - strike, strike - underlying_price) AS intrinsic,
        -- The same floor as options_chain_history_quality.sql.
        CASE option_type
            WHEN 'call' THEN underlying_price - strike
            WHEN 'put' THEN
                strike * EXP(-@carry_rate * GREATEST(DATE_DIFF(expiration, snapshot_date, DAY), 0) / 365)
                - underlying_price
        END AS price_floor
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
),
problems AS (
    SELECT 'ask_not_below_intrinsic' AS problem, price_floor - ask AS badness, *
    FROM bounded
    WHERE ask < price_floor - @intrinsic_tolerance AND NOT IS_NAN(price_floor)
    UNION ALL
    SELECT 'no_placeholder_iv' AS problem, 0.0 AS badness, *
    FROM bounded
    WHERE implied_volatility > 0 AND implied_volatility <= @placeholder_iv
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY problem, snapshot_date ORDER BY badness DESC, contract_symbol) AS rank_in_day
    FROM problems
)
SELECT
    problem,
    snapshot_date,
    contract_symbol,
    option_type,
    strike,
    underlying_price,
    ask,
    ROUND(intrinsic, 6) AS intrinsic,
    implied_volatility,
    delta,
    gamma,
    theta,
    vega
FROM ranked
WHERE rank_in_day <= @examples
ORDER BY problem, snapshot_date, rank_in_day
