INSERT INTO m VALUES (1, 'a', 1.5, 3, 1736776800000, true), (2, 'b', 2.5, 4, 1736776865000, false), (3, 'a', 0.5, 5, 1736776930000, true);
SELECT window_start, window_end, window_time, dev, count(*) FROM TABLE(CUMULATE(TABLE m, DESCRIPTOR(ts), INTERVAL '20' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, dev;
SELECT * FROM strom_window(60000, 20000, 1736776865000, 1);
SELECT count(*) FROM TABLE(CUMULATE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '20' SECOND)) GROUP BY 1;
SET 'execution.runtime-mode' = 'streaming';
SELECT window_start, window_end, dev, sum(k) FROM TABLE(CUMULATE(TABLE m, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE)) GROUP BY window_start, window_end, dev;
