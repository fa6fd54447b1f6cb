-- The offline store of one feature view, or the behaviour log (every validated, deduplicated behaviour with its
-- event time and arrival time): append-only Parquet partitioned by date (of the row's event time); files become
-- visible when a checkpoint completes (exactly once across restarts), renamed to *.parquet by the
-- omniseq.flink.ParquetNames commit policy. The key and timestamp column names are the feature contract's
-- (feature_repo.views: USER_JOIN_KEY, TIMESTAMP_FIELD, CREATED_FIELD), as Feast's FileSource reads them.
CREATE TEMPORARY TABLE ${table} (
  `${user_col}` STRING,
  ${columns},
  `${event_ts_col}` TIMESTAMP(3),
  `${created_col}` TIMESTAMP(3),
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
