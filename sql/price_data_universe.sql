-- The tickers price_data has held over its newest week: the universe in sidecar mode, where the
-- existing pipeline decides which underlyings it loads.
SELECT DISTINCT ticker
FROM price_data
WHERE date >= (SELECT DATE_SUB(MAX(date), INTERVAL 7 DAY) FROM price_data)
ORDER BY ticker
