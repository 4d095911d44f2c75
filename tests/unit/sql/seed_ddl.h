/* seed_ddl.h: the grid tables the seed's statements read (alarm_stream,
 * device_status_stream, device_dimension_table, power_equipment_stream, current_alarms),
 * shared by tests/unit/sql/test_seed.c and tests/integration/test_sql_server.c, and the
 * seed's statement 2 (test_join.c, test_sql_join.c). */
#ifndef STROM_TEST_SEED_DDL_H
#define STROM_TEST_SEED_DDL_H

static const char *const GRID_DDL[] = {
    "CREATE TABLE alarm_stream (alarm_id STRING, device_id STRING, alarm_type STRING, "
    "event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) "
    "WITH ('bucket.num' = '2', 'bucket.key' = 'device_id')",
    "CREATE TABLE device_status_stream (device_id STRING, device_status STRING, capacity DOUBLE, "
    "event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) "
    "WITH ('bucket.num' = '2', 'bucket.key' = 'device_id', 'table.log.index.key' = 'device_id')",
    "CREATE TABLE device_dimension_table (device_id STRING, device_status STRING, capacity DOUBLE, "
    "last_maintenance TIMESTAMP(3), update_time TIMESTAMP(3), PRIMARY KEY (device_id) NOT ENFORCED, "
    "WATERMARK FOR update_time AS update_time) WITH ('bucket.num' = '2')",
    "CREATE TABLE power_equipment_stream (device_id STRING, voltage DOUBLE, current DOUBLE, "
    "temperature DOUBLE, event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - "
    "INTERVAL '5' SECOND) WITH ('bucket.num' = '3', 'bucket.key' = 'device_id', "
    "'table.log.index.key' = 'device_id')",
    "CREATE TABLE current_alarms (alarm_id STRING PRIMARY KEY, device_id STRING, level INT)",
};

/* The seed's statement 2, the join of two streams (without its comment line). */
static const char SEED_WINDOW_JOIN[] =
    "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\n"
    "FROM alarm_stream a\n"
    "JOIN device_status_stream s\n"
    "ON a.device_id = s.device_id\n"
    "AND a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time + INTERVAL '1' MINUTE\n";

#endif
