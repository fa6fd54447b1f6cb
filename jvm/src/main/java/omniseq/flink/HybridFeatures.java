package omniseq.flink;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
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
import org.apache.flink.util.OutputTag;

/**
 * Keyed by user: drops duplicates, keeps the newest tokens of the hybrid sequence and the in-store aggregates
 * ({@link UserState}), and writes the sequence views and the in-store view of each changed user to Redis through the
 * {@link Coalescer}.
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
    private transient Coalescer<Dirty> dirty;
    private transient Counters counters;
    private transient Map<JobConfig.View, OutputTag<Row>> snapshotTags;

    /** A changed user: its state, and whether its in-store aggregates changed too. */
    private record Dirty(UserState state, boolean store) {
        static Dirty merge(Dirty older, Dirty newer) {
            return new Dirty(newer.state, older.store || newer.store);
        }
    }

    public HybridFeatures(String configJson, boolean withLog) {
        this.configJson = configJson;
        this.withLog = withLog;
    }

    @Override
    public void open(OpenContext ctx) {
        cfg = new JobConfig(configJson);
        ValueStateDescriptor<UserState> desc = new ValueStateDescriptor<>("user", TypeInformation.of(UserState.class));
        if (cfg.stateTtlDays > 0) {
            desc.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofDays(cfg.stateTtlDays)).build());
        }
        state = getRuntimeContext().getState(desc);
        snapshotTags = new LinkedHashMap<>();
        if (withLog && cfg.offlineSnapshots) {
            for (JobConfig.View v : cfg.seqViews) {
                snapshotTags.put(v, Records.snapshotTag(v));
            }
        }
        dirty = new Coalescer<>(cfg, this::add, Dirty::merge);
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        counters = new Counters(cfg.metricsDir, "hybrid", subtask, getRuntimeContext().getMetricGroup());
        for (String c : new String[] {"events", "baskets", "duplicate_events", "duplicate_baskets", "online_rows_written"}) {
            counters.counter(c);
        }
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
        boolean basket = type == cfg.basketCode;
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
        } else {
            counters.inc("events", 1);
            out.collect(Row.of(user, type, ts));
        }
        if (withLog) {
            Row logged = Row.copy(r);
            logged.setField(Records.ARRIVAL, r.getField(Records.ARRIVAL) == null ? now : r.getField(Records.ARRIVAL));
            ctx.output(Records.logTag(), logged);
            for (Map.Entry<JobConfig.View, OutputTag<Row>> e : snapshotTags.entrySet()) {
                ctx.output(e.getValue(), snapshotRow(user, e.getKey(), st.seqFeatures(e.getKey().maxLen()), st.lastTs(), now));
            }
            if (basket && cfg.offlineSnapshots && cfg.instoreView != null) {
                ctx.output(Records.snapshotTag(cfg.instoreView),
                        snapshotRow(user, cfg.instoreView, st.instoreFeatures(), st.lastStoreTs, now));
            }
        }
        state.update(st);
        written(dirty.put(user, new Dirty(st, basket), ctx.timerService()));
    }

    private void written(int rows) {
        counters.inc("online_rows_written", rows);
    }

    /** One changed user's rows: every sequence view, and the in-store view when a basket changed it. */
    private void add(RedisWriter writer, String user, Dirty d) {
        for (JobConfig.View v : cfg.seqViews) {
            writer.add(v, user, d.state().seqFeatures(v.maxLen()), d.state().lastTs());
        }
        if (d.store() && cfg.instoreView != null) {
            writer.add(cfg.instoreView, user, d.state().instoreFeatures(), d.state().lastStoreTs);
        }
    }

    /** Offline snapshot tags of the sequence views and the in-store view (for {@code getSideOutput}). */
    public static List<OutputTag<Row>> snapshotTags(String configJson) {
        JobConfig c = new JobConfig(configJson);
        List<OutputTag<Row>> tags = new java.util.ArrayList<>();
        for (JobConfig.View v : c.seqViews) {
            tags.add(Records.snapshotTag(v));
        }
        if (c.instoreView != null) {
            tags.add(Records.snapshotTag(c.instoreView));
        }
        return tags;
    }

    private static Row snapshotRow(String user, JobConfig.View view, Map<String, Object> f, long eventTs, long now) {
        Row row = new Row(view.features().size() + 3);
        row.setField(0, user);
        int i = 1;
        for (JobConfig.Feature feat : view.features()) {
            Object v = f.get(feat.name());
            if (v instanceof List<?> list) {
                v = "int64_list".equals(feat.dtype()) ? list.toArray(new Long[0]) : list.toArray(new String[0]);
            }
            row.setField(i++, v);
        }
        row.setField(i++, eventTs);
        row.setField(i, now);
        return row;
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws IOException {
        written(dirty.onTimer());
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws IOException {
        written(dirty.flush()); // Redis holds at least the checkpointed state once a checkpoint completes
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {}

    @Override
    public void close() throws IOException {
        if (dirty != null) {
            written(dirty.close());
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
