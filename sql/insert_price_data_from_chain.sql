-- Close-only bars from the archived chain (no price file): one per (underlying, snapshot_date),
-- close = the median of its rows' finite, positive underlying_price (rows of one day may disagree),
-- open/high/low/volume NULL (never invented). A day without chain rows gets no bar.
INSERT INTO price_data (ticker, date, open, high, low, close, volume, close_only)
SELECT
    underlying AS ticker,
    snapshot_date AS date,
    CAST(NULL AS FLOAT64) AS open,
    CAST(NULL AS FLOAT64) AS high,
    CAST(NULL AS FLOAT64) AS low,
    ANY_VALUE(median_price) AS close,
    CAST(NULL AS INT64) AS volume,
    TRUE AS close_only
FROM (
    SELECT
        underlying,
        snapshot_date,
        -- Exact on both warehouses (APPROX_QUANTILES is approximate on DuckDB).
        PERCENTILE_CONT(underlying_price, 0.5) OVER (PARTITION BY underlying, snapshot_date) AS median_price
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
        AND underlying_price > 0 AND NOT IS_NAN(underlying_price) AND NOT IS_INF(underlying_price)
)
GROUP BY underlying, snapshot_date
