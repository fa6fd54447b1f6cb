-- One sliding-window feature view: per user and HOP window, counts by event type, the total and the newest event
-- time. The columns come from the feature contract (feature_repo.views: ONLINE_COUNTS, ONLINE_TOTAL,
-- ONLINE_RECENCY). The row's event time is the newest behaviour it contains (the recency), never the window end.
SELECT
  user_id,
  ${counts},
  COUNT(*) AS `${total}`,
  MAX(ts_ms) AS `${recency}`,
  window_end
FROM TABLE(
  HOP(TABLE ${events_view}, DESCRIPTOR(rowtime), INTERVAL '${slide_s}' SECOND(9), INTERVAL '${size_s}' SECOND(9))
)
GROUP BY user_id, window_start, window_end
