package omniseq.flink;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * Keyed by user: window rows {@code (view, user_id, <the view's features in contract order>)} to Redis, the newest
 * row per (view, user) at most once per {@code flush_ms}, like {@link HybridFeatures}. The row's event time is its
 * {@code last_online_ts}. Emits nothing.
 */
public class WindowWriter extends KeyedProcessFunction<String, Row, Row> implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;

    private final String configJson;
    private transient JobConfig cfg;
    private transient RedisWriter writer;
    private transient Counters counters;
    private transient Map<String, Row> pending;
    private transient long first;
    private transient boolean timerArmed;

    public WindowWriter(String configJson) {
        this.configJson = configJson;
    }

    @Override
    public void open(OpenContext ctx) {
        cfg = new JobConfig(configJson);
        writer = new RedisWriter(cfg.onlineUri, cfg.keyPrefix, cfg.project);
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        counters = new Counters(cfg.metricsDir, "windows", subtask, getRuntimeContext().getMetricGroup());
        counters.counter("window_rows_written");
        pending = new LinkedHashMap<>();
    }

    @Override
    public void processElement(Row r, Context ctx, Collector<Row> out) throws IOException {
        long now = ctx.timerService().currentProcessingTime();
        if (pending.isEmpty()) {
            first = now;
        }
        pending.put(r.getField(0) + "\u0000" + r.getField(1), r);
        if (pending.size() >= cfg.batchRows || now - first >= cfg.flushMs) {
            flush();
        } else if (!timerArmed) {
            ctx.timerService().registerProcessingTimeTimer(now + cfg.flushMs);
            timerArmed = true;
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws IOException {
        timerArmed = false;
        flush();
    }

    void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        for (Row r : pending.values()) {
            JobConfig.View v = cfg.windowView((String) r.getField(0));
            Map<String, Object> f = new LinkedHashMap<>();
            long ts = 0;
            for (int i = 0; i < v.features().size(); i++) {
                String name = v.features().get(i).name();
                Object value = r.getField(2 + i);
                f.put(name, value);
                if ("last_online_ts".equals(name)) {
                    ts = ((Number) value).longValue();
                }
            }
            writer.add(v, (String) r.getField(1), f, ts);
        }
        counters.inc("window_rows_written", pending.size());
        pending.clear();
        writer.flush();
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws IOException {
        flush();
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {}

    @Override
    public void close() throws IOException {
        if (pending != null) {
            flush();
        }
        if (writer != null) {
            writer.close();
        }
        if (counters != null) {
            counters.close();
        }
    }
}
