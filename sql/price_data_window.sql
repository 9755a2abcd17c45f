-- Daily bars of every ticker over a window (a partition range plus its warm-up), for the technicals.
SELECT ticker, date, open, high, low, close, volume, IFNULL(close_only, FALSE) AS close_only
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
ORDER BY ticker, date
