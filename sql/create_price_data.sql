-- Daily OHLCV per ticker. Key: (ticker, date).
CREATE TABLE IF NOT EXISTS price_data (
    ticker STRING NOT NULL,
    date DATE NOT NULL,
    open FLOAT64,
    high FLOAT64,
    low FLOAT64,
    close FLOAT64,
    volume INT64
)
PARTITION BY date
CLUSTER BY ticker
