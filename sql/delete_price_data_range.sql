DELETE FROM price_data
WHERE date BETWEEN @start_date AND @end_date
