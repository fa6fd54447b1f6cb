-- One sliding-window feature view: per user and HOP window, counts by event type and the newest event time.
-- The row's event time is the newest behaviour it contains (last_online_ts), never the window end.
SELECT
  user_id,
  COUNT(*) FILTER (WHERE type_code = 0) AS n_view,
  COUNT(*) FILTER (WHERE type_code = 1) AS n_click,
  COUNT(*) FILTER (WHERE type_code = 2) AS n_add_to_cart,
  COUNT(*) FILTER (WHERE type_code = 3) AS n_purchase,
  COUNT(*) AS n_events,
  MAX(ts_ms) AS last_online_ts,
  window_end
FROM TABLE(
  HOP(TABLE ${events_view}, DESCRIPTOR(rowtime), INTERVAL '${slide_s}' SECOND(9), INTERVAL '${size_s}' SECOND(9))
)
GROUP BY user_id, window_start, window_end
