-- The underlying's technical state per trading day (TA-Lib definitions). Key: (ticker, date).
CREATE TABLE IF NOT EXISTS technicals_history (
    ticker STRING NOT NULL,
    date DATE NOT NULL,
    close FLOAT64,
    rsi_14 FLOAT64,
    macd FLOAT64,
    macd_signal FLOAT64,
    macd_hist FLOAT64,
    sma_20 FLOAT64,
    sma_50 FLOAT64,
    sma_200 FLOAT64,
    bb_upper FLOAT64,
    bb_middle FLOAT64,
    bb_lower FLOAT64,
    atr_14 FLOAT64,
    adx_14 FLOAT64,
    above_sma_50 BOOL,
    above_sma_200 BOOL,
    ret_1d FLOAT64,
    ret_5d FLOAT64,
    ret_20d FLOAT64,
    realized_vol_20 FLOAT64,
    volume_ratio_20 FLOAT64
)
PARTITION BY date
CLUSTER BY ticker
