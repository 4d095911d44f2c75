INSERT INTO m VALUES (1, 'a', 1.5, 3, 1736776800000, true), (2, 'b', 2.5, 4, 1736776865000, false), (3, 'c', 0.5, 5, 1736776930000, true);
SELECT a.id, b.id FROM m a LEFT JOIN m b ON a.dev = b.dev AND a.ts BETWEEN b.ts - INTERVAL '1' MINUTE AND b.ts;
SET 'execution.runtime-mode' = 'streaming';
SELECT a.id, b.v FROM m a FULL OUTER JOIN m AS b ON a.dev = b.dev AND a.ts >= b.ts - INTERVAL '10' SECOND AND b.ts + INTERVAL '2' SECOND > a.ts WHERE b.v IS NULL OR a.v > 0;
SELECT a.id, b.v FROM m a RIGHT JOIN m b ON a.dev = b.dev AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' SECOND;
SELECT * FROM m a LEFT OUTER JOIN m b ON a.dev = b.dev;
