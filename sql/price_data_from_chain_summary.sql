-- What insert_price_data_from_chain.sql writes for a range: its bars, tickers, days and dates; the
-- underlying-days whose rows' underlying_price differ by more than @tolerance (relative; the bar
-- takes their median), and those with no finite positive underlying_price (no bar).
WITH per_day AS (
    SELECT
        underlying,
        snapshot_date,
        MIN(IF(usable, underlying_price, NULL)) AS lowest,
        MAX(IF(usable, underlying_price, NULL)) AS highest
    FROM (
        SELECT
            underlying,
            snapshot_date,
            underlying_price,
            -- NaN > 0 is TRUE on DuckDB and FALSE on BigQuery: IS_NAN decides on both.
            IFNULL(
                underlying_price > 0 AND NOT IS_NAN(underlying_price) AND NOT IS_INF(underlying_price), FALSE
            ) AS usable
        FROM options_chain_history
        WHERE snapshot_date BETWEEN @start_date AND @end_date
    )
    GROUP BY underlying, snapshot_date
)
SELECT
    COUNTIF(lowest IS NOT NULL) AS bars,
    COUNT(DISTINCT IF(lowest IS NOT NULL, underlying, NULL)) AS tickers,
    COUNT(DISTINCT IF(lowest IS NOT NULL, snapshot_date, NULL)) AS days,
    COUNTIF(highest - lowest > @tolerance * lowest) AS disagreeing,
    COUNTIF(lowest IS NULL) AS without_price,
    MIN(IF(lowest IS NOT NULL, snapshot_date, NULL)) AS first_date,
    MAX(IF(lowest IS NOT NULL, snapshot_date, NULL)) AS last_date
FROM per_day
