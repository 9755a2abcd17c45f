-- Rows per trading date in a window (tests and checks).
SELECT date, COUNT(*) AS row_count, COUNT(DISTINCT ticker) AS tickers
FROM technicals_history
WHERE date BETWEEN @start_date AND @end_date
GROUP BY date
ORDER BY date
