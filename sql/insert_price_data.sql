INSERT INTO price_data (ticker, date, open, high, low, close, volume)
SELECT ticker, date, open, high, low, close, volume
FROM price_data_staging
