SET 'execution.runtime-mode' = 'streaming';
SELECT a.id, b.id, a.dev FROM m a JOIN m b ON a.dev = b.dev AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts + INTERVAL '1' SECOND;
SELECT a.id, p.region FROM m AS a INNER JOIN m b ON a.dev = b.dev AND a.ts >= b.ts AND b.ts + INTERVAL '2' SECOND > a.ts JOIN p ON p.dev = a.dev WHERE a.v > 1;
SELECT * FROM m a JOIN m b ON a.dev = b.dev AND a.ts BETWEEN b.ts - a.k AND b.ts;
SELECT * FROM m a JOIN m b ON a.dev = b.dev OR a.ts = b.ts;
SELECT * FROM m a JOIN m b ON a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE;
