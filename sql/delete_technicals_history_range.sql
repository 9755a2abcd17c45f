DELETE FROM technicals_history
WHERE date BETWEEN @start_date AND @end_date
