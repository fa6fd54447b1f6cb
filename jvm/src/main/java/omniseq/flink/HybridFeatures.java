package omniseq.flink;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * Keyed by user: drops duplicates, keeps the newest tokens of the hybrid sequence and the in-store aggregates
 * ({@link UserState}), and writes the sequence views and the in-store view to Redis, each changed user at most once
 * per {@code flush_ms} (or when {@code batch_rows} users are pending, and before every checkpoint completes).
 *
 * <p>Main output: the deduplicated online events (the SQL windows' input). Side output {@link Records#logTag()}:
 * every new behaviour with its arrival time (the offline behaviour log).
 */
public class HybridFeatures extends KeyedProcessFunction<String, Row, Row>
        implements CheckpointedFunction, ResultTypeQueryable<Row> {
    private static final long serialVersionUID = 1L;

    private final String configJson;
    private final boolean withLog;
    private transient JobConfig cfg;
    private transient ValueState<UserState> state;
    private transient RedisWriter writer;
    private transient Counters counters;
    private transient Map<String, UserState> dirty;
    private transient Map<String, UserState> dirtyStore;
    private transient long firstDirty;
    private transient boolean timerArmed;

    public HybridFeatures(String configJson, boolean withLog) {
        this.configJson = configJson;
        this.withLog = withLog;
    }

    @Override
    public void open(OpenContext ctx) {
        cfg = new JobConfig(configJson);
        state = getRuntimeContext().getState(new ValueStateDescriptor<>("user", TypeInformation.of(UserState.class)));
        writer = new RedisWriter(cfg.onlineUri, cfg.keyPrefix, cfg.project);
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        counters = new Counters(cfg.metricsDir, "hybrid", subtask, getRuntimeContext().getMetricGroup());
        for (String c : new String[] {"events", "baskets", "duplicate_events", "duplicate_baskets", "online_rows_written"}) {
            counters.counter(c);
        }
        dirty = new LinkedHashMap<>();
        dirtyStore = new LinkedHashMap<>();
    }

    @Override
    public void processElement(Row r, Context ctx, Collector<Row> out) throws IOException {
        UserState st = state.value();
        if (st == null) {
            st = new UserState();
        }
        String user = (String) r.getField(Records.USER);
        String key = (String) r.getField(Records.KEY);
        int type = (Integer) r.getField(Records.TYPE);
        long ts = (Long) r.getField(Records.TS);
        boolean basket = type == Records.BASKET;
        if (st.isDuplicate(key, ts, cfg.dedupTtlMs)) {
            counters.inc(basket ? "duplicate_baskets" : "duplicate_events", 1);
            state.update(st); // the seen-set may have been pruned
            return;
        }
        String[] items = (String[]) r.getField(Records.ITEMS);
        String store = (String) r.getField(Records.STORE);
        String item = (String) r.getField(Records.ITEM);
        UserState.Token tok = new UserState.Token(ts, basket ? 0 : 1, key, type, basket ? "" : item,
                items == null ? new String[0] : items, store == null ? "" : store);
        st.add(tok, cfg.maxLen);
        long now = ctx.timerService().currentProcessingTime();
        if (basket) {
            st.addBasketAgg(key, tok.items.length, ts, tok.store);
            counters.inc("baskets", 1);
            dirtyStore.put(user, st);
        } else {
            counters.inc("events", 1);
            out.collect(Row.of(user, type, ts));
        }
        if (withLog) {
            Row logged = Row.copy(r);
            logged.setField(Records.ARRIVAL, r.getField(Records.ARRIVAL) == null ? now : r.getField(Records.ARRIVAL));
            ctx.output(Records.logTag(), logged);
        }
        state.update(st);
        if (dirty.isEmpty()) {
            firstDirty = now;
        }
        dirty.put(user, st);
        if (dirty.size() >= cfg.batchRows || now - firstDirty >= cfg.flushMs) {
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

    /** Write every pending user's views in one pipelined round trip. */
    void flush() throws IOException {
        if (dirty.isEmpty()) {
            return;
        }
        for (Map.Entry<String, UserState> e : dirty.entrySet()) {
            UserState st = e.getValue();
            for (JobConfig.View v : cfg.seqViews) {
                writer.add(v, e.getKey(), st.seqFeatures(v.maxLen()), st.lastTs());
            }
        }
        if (cfg.instoreView != null) {
            for (Map.Entry<String, UserState> e : dirtyStore.entrySet()) {
                writer.add(cfg.instoreView, e.getKey(), e.getValue().instoreFeatures(), e.getValue().lastStoreTs);
            }
        }
        counters.inc("online_rows_written", writer.pendingRows());
        dirty.clear();
        dirtyStore.clear();
        writer.flush();
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws IOException {
        flush(); // Redis holds at least the checkpointed state once a checkpoint completes
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {}

    @Override
    public void close() throws IOException {
        if (dirty != null) {
            flush();
        }
        if (writer != null) {
            writer.close();
        }
        if (counters != null) {
            counters.close();
        }
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return Records.cleanEvent();
    }
}
