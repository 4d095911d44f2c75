SET 'execution.runtime-mode' = 'streaming';
INSERT INTO sink SELECT k, v * 2 FROM src WHERE v > 0;
SHOW JOBS;
STOP JOB 'job-1-1';
SELECT count(*) FROM src ORDER BY 1;
