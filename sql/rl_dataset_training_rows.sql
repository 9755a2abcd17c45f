-- Labelled rl_dataset rows of [@start_date, @end_date] for training and evaluation: the state
-- features, the outcome, and the dates the usable_from rule needs.
SELECT
    snapshot_date, contract_symbol, underlying, label_end_date, reward, hit_50, underlying_return_3d,
    is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
    implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
    rsi_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
    volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
    macd_hist_pct, iv_minus_realized_vol
FROM rl_dataset
WHERE snapshot_date BETWEEN @start_date AND @end_date
    AND reward IS NOT NULL
ORDER BY snapshot_date, contract_symbol
