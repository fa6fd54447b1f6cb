package omniseq.flink;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BinaryOperator;
import org.apache.flink.streaming.api.TimerService;

/**
 * The one coalescing buffer of the online writers ({@link HybridFeatures}, {@link WindowWriter}): the newest value per
 * key, written to Redis at most once per {@code flush_ms} (a processing-time timer), at once when {@code batch_rows}
 * keys are pending, and whenever the operator flushes before a checkpoint completes, so Redis is never behind a
 * completed checkpoint. {@link #flush} sends every pending row in one pipelined round trip.
 */
final class Coalescer<V> {
    /** Turns one pending value into HSET commands of the writer. */
    interface Encoder<V> {
        void add(RedisWriter writer, String key, V value);
    }

    private final long flushMs;
    private final int batchRows;
    private final RedisWriter writer;
    private final Encoder<V> encoder;
    private final BinaryOperator<V> merge;
    private final Map<String, V> pending = new LinkedHashMap<>();
    private long first;
    private boolean timerArmed;

    /** {@code merge(older, newer)} combines two values buffered under one key (e.g. the newer one alone). */
    Coalescer(JobConfig cfg, Encoder<V> encoder, BinaryOperator<V> merge) {
        this.flushMs = cfg.flushMs;
        this.batchRows = cfg.batchRows;
        this.writer = new RedisWriter(cfg.onlineUri, cfg.keyPrefix, cfg.project);
        this.encoder = encoder;
        this.merge = merge;
    }

    /** Buffer {@code value} under {@code key}; returns the rows written when this made the buffer flush, else 0. */
    int put(String key, V value, TimerService timers) throws IOException {
        long now = timers.currentProcessingTime();
        if (pending.isEmpty()) {
            first = now;
        }
        pending.merge(key, value, merge);
        if (pending.size() >= batchRows || now - first >= flushMs) {
            return flush();
        }
        if (!timerArmed) {
            timers.registerProcessingTimeTimer(now + flushMs);
            timerArmed = true;
        }
        return 0;
    }

    /** The flush timer fired: write everything pending; returns the rows written. */
    int onTimer() throws IOException {
        timerArmed = false;
        return flush();
    }

    /** Write every pending value in one pipelined round trip; returns the rows (HSET commands) written. */
    int flush() throws IOException {
        if (pending.isEmpty()) {
            return 0;
        }
        for (Map.Entry<String, V> e : pending.entrySet()) {
            encoder.add(writer, e.getKey(), e.getValue());
        }
        int rows = writer.pendingRows();
        pending.clear();
        writer.flush();
        return rows;
    }

    /** Flush what is pending and close the connection. */
    int close() throws IOException {
        try {
            return flush();
        } finally {
            writer.close();
        }
    }
}
