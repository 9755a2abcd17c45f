-- Paper trades: each day's picks of a model version usable that day, recorded with score and entry
-- price before any outcome is known (recorded_at); the outcome columns are filled from rl_dataset
-- (the shared reward) once T+3 has landed. Key: (trade_date, model_name, contract_symbol).
CREATE TABLE IF NOT EXISTS paper_trades (
    trade_date DATE NOT NULL,
    contract_symbol STRING NOT NULL,
    underlying STRING NOT NULL,
    model_name STRING NOT NULL,
    model_version INT64 NOT NULL,
    model_usable_from DATE NOT NULL,
    pick_rank INT64 NOT NULL,
    score FLOAT64 NOT NULL,
    entry_price FLOAT64 NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    exit_date DATE,
    exit_price FLOAT64,
    reward FLOAT64,
    hit_50 BOOL,
    exit_reason STRING,
    resolved_at TIMESTAMP
)
PARTITION BY trade_date
CLUSTER BY model_name
