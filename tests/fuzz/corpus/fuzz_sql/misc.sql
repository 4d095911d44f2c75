SET 'x' = 'y'; CREATE VIEW v AS SELECT `a` FROM t; -- c
/* d */ DROP TABLE IF EXISTS t