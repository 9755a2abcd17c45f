-- Bars per trading date of price_data in a window.
SELECT date, COUNT(*) AS row_count
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
GROUP BY date
ORDER BY date
