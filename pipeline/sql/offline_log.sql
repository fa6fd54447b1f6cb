-- The offline behaviour log: every validated, deduplicated behaviour (online events and in-store baskets) with its
-- event time and arrival time, append-only, partitioned by the date of its event time. Files are committed on
-- checkpoints (exactly once) and renamed to *.parquet by the omniseq.flink.ParquetNames commit policy.
CREATE TEMPORARY TABLE ${table} (
  `user_id` STRING,
  `key` STRING,
  `type_code` INT,
  `item_id` STRING,
  `ts_ms` BIGINT,
  `items` ARRAY<STRING>,
  `store_id` STRING,
  `arrival_ms` BIGINT,
  `event_timestamp` TIMESTAMP(3),
  `created_timestamp` TIMESTAMP(3),
  `date` STRING
) PARTITIONED BY (`date`) WITH (
  'connector' = 'filesystem',
  'path' = '${path}',
  'format' = 'parquet',
  'sink.rolling-policy.rollover-interval' = '${rollover}',
  'sink.rolling-policy.check-interval' = '${rollover}',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'custom',
  'sink.partition-commit.policy.class' = 'omniseq.flink.ParquetNames'
)
