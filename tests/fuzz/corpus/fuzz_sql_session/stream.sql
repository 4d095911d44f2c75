SET 'execution.runtime-mode' = 'streaming';
SELECT * FROM m WHERE v > 1;
SELECT m.dev, p.region FROM m JOIN p ON p.dev = m.dev;
