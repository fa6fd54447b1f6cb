-- Dead letters: the original message (text, or base64 when it is not UTF-8), why it was rejected and where it
-- came from (source partition and offset identify a message uniquely). A payload longer than dlq_max_payload_bytes
-- is truncated (payload_truncated); payload_bytes and payload_sha256 describe the original message.
CREATE TEMPORARY TABLE clickstream_dlq (
  `reason` STRING,
  `payload` STRING,
  `payload_encoding` STRING,
  `source_partition` INT,
  `source_offset` BIGINT,
  `payload_bytes` BIGINT,
  `payload_sha256` STRING,
  `payload_truncated` BOOLEAN
) WITH (
  'connector' = 'kafka',
  'topic' = '${topic}',
  'properties.bootstrap.servers' = '${bootstrap}',
  'sink.delivery-guarantee' = '${delivery}',
  'sink.transactional-id-prefix' = '${txn_prefix}',
  'properties.transaction.timeout.ms' = '600000',
  'format' = 'json'
)
