INSERT INTO m VALUES (1, 'a', 1.5, 3, 1736776800000, true), (2, 'b', 2.5, 4, 1736776865000, false), (3, 'a', 0.5, 5, 1736776930000, true);
SELECT window_start, window_end, dev, count(*), avg(v) FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, dev;
SELECT HOP_START(ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE), max(v) FROM m GROUP BY HOP(ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE);
SET 'execution.runtime-mode' = 'streaming';
SELECT window_start, dev, sum(k) FROM TABLE(HOP(TABLE m, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, dev;
SELECT TUMBLE_END(ts, INTERVAL '1' MINUTE), count(*) FROM m GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE);
