-- The clickstream as raw bytes: every message reaches the validating operator (omniseq.flink.ValidateEvents), so malformed ones can be
-- dead-lettered with a reason instead of failing the job (placeholders are filled from PipelineSettings).
CREATE TEMPORARY TABLE clickstream_raw (
  `payload` BYTES,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = '${topic}',
  'properties.bootstrap.servers' = '${bootstrap}',
  'properties.group.id' = '${group_id}',
  'properties.auto.offset.reset' = 'earliest',
  'scan.startup.mode' = '${startup_mode}',
  'format' = 'raw'
)
