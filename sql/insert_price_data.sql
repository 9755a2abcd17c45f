INSERT INTO price_data (ticker, date, open, high, low, close, volume, close_only)
SELECT ticker, date, open, high, low, close, volume, close_only
FROM price_data_staging
