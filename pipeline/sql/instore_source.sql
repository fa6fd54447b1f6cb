-- Validated in-store drops (Parquet files with STORE_TXN_SCHEMA), picked up as they appear.
CREATE TEMPORARY TABLE instore_drops (
  `txn_id` STRING,
  `user_id` STRING,
  `items` ARRAY<STRING>,
  `ts_ms` BIGINT,
  `store_id` STRING,
  `file_path` STRING NOT NULL METADATA FROM 'file.path' VIRTUAL
) WITH (
  'connector' = 'filesystem',
  'path' = '${path}',
  'format' = 'parquet',
  'source.monitor-interval' = '${monitor}'
)
