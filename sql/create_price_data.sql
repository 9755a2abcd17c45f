-- Daily OHLCV per ticker. Key: (ticker, date). close_only: a bar built from the archived chain's
-- underlying price (no price file): open/high/low/volume NULL. NULL (a table created before the
-- column) reads as FALSE.
CREATE TABLE IF NOT EXISTS price_data (
    ticker STRING NOT NULL,
    date DATE NOT NULL,
    open FLOAT64,
    high FLOAT64,
    low FLOAT64,
    close FLOAT64,
    volume INT64,
    close_only BOOL
)
PARTITION BY date
CLUSTER BY ticker
