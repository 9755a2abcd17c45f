-- (ticker, date) keys that price_data holds more than once in a window, most copies first: why a
-- table built from it was refused (rl_assets/dataset.py).
SELECT ticker, date, COUNT(*) AS copies
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
GROUP BY ticker, date
HAVING COUNT(*) > 1
ORDER BY copies DESC, date, ticker
LIMIT 5
