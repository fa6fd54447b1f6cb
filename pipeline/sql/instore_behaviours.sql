-- In-store drops in the behaviour layout of the keyed operator (omniseq.flink.Records.BEHAVIOUR_FIELDS, the
-- behaviour log's columns): a basket is token type ${basket_code}, keyed by its transaction id; its arrival time is
-- stamped by the operator.
SELECT
  user_id,
  txn_id AS `key`,
  ${basket_code} AS type_code,
  '' AS item_id,
  ts_ms,
  items,
  store_id,
  CAST(NULL AS BIGINT) AS arrival_ms
FROM instore_drops
