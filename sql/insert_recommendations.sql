-- Screen rl_state of [@start_date, @end_date] with the rules of the run's configuration.
INSERT INTO recommendations (
    snapshot_date, contract_symbol, underlying, option_type, strike, expiration, dte, delta,
    spread_pct, volume, open_interest, entry_price
)
SELECT
    snapshot_date, contract_symbol, underlying, option_type, strike, expiration, dte, delta,
    spread_pct, volume, open_interest, entry_price
FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
    AND volume >= @min_volume
    AND open_interest >= @min_open_interest
    AND dte BETWEEN @min_dte AND @max_dte
    AND ABS(delta) BETWEEN @min_abs_delta AND @max_abs_delta
    AND spread_pct <= @max_spread_pct
    AND entry_price >= @min_entry_price
