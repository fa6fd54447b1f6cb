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
 * Keyed by user: window rows {@code (view, user_id, <the view's features in contract order>)} to Redis through the
 * {@link Coalescer} (the newest row per (view, user)). The row's event time is the view's event-time feature (the
 * recency). Emits nothing.
 */
public class WindowWriter extends KeyedProcessFunction<String, Row, Row> implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;

    /** The input row's layout: the view's name, the user, then the view's features in contract order. */
    private static final int VIEW = 0, USER = 1, FIRST_FEATURE = 2;

    private final String configJson;
    private transient JobConfig cfg;
    private transient Coalescer<Row> pending;
    private transient Counters counters;

    public WindowWriter(String configJson) {
        this.configJson = configJson;
    }

    @Override
    public void open(OpenContext ctx) {
        cfg = new JobConfig(configJson);
        pending = new Coalescer<>(cfg, this::add, (older, newer) -> newer);
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        counters = new Counters(cfg.metricsDir, "windows", subtask, getRuntimeContext().getMetricGroup());
        counters.counter("window_rows_written");
    }

    @Override
    public void processElement(Row r, Context ctx, Collector<Row> out) throws IOException {
        written(pending.put(r.getField(VIEW) + "\u0000" + r.getField(USER), r, ctx.timerService()));
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws IOException {
        written(pending.onTimer());
    }

    private void written(int rows) {
        counters.inc("window_rows_written", rows);
    }

    /** One window row as the HSET of its view: the features by contract order, stamped with the recency. */
    private void add(RedisWriter writer, String key, Row r) {
        JobConfig.View v = cfg.windowView((String) r.getField(VIEW));
        Map<String, Object> f = new LinkedHashMap<>();
        for (int i = 0; i < v.features().size(); i++) {
            f.put(v.features().get(i).name(), r.getField(FIRST_FEATURE + i));
        }
        writer.add(v, (String) r.getField(USER), f, ((Number) f.get(v.tsFeature())).longValue());
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws IOException {
        written(pending.flush());
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {}

    @Override
    public void close() throws IOException {
        if (pending != null) {
            written(pending.close());
        }
        if (counters != null) {
            counters.close();
        }
    }
}
