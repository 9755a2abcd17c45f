INSERT INTO technicals_history (
    ticker, date, close, rsi_14, macd, macd_signal, macd_hist, sma_20, sma_50, sma_200,
    bb_upper, bb_middle, bb_lower, atr_14, adx_14, above_sma_50, above_sma_200,
    ret_1d, ret_5d, ret_20d, realized_vol_20, volume_ratio_20
)
SELECT
    ticker, date, close, rsi_14, macd, macd_signal, macd_hist, sma_20, sma_50, sma_200,
    bb_upper, bb_middle, bb_lower, atr_14, adx_14, above_sma_50, above_sma_200,
    ret_1d, ret_5d, ret_20d, realized_vol_20, volume_ratio_20
FROM technicals_history_staging
