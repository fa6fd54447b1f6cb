package omniseq.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * Named counts of one operator subtask: Flink gauges, and a JSON file {@code <dir>/<name>-<subtask>.json}
 * rewritten every 0.5 s by a daemon thread (what {@code pipeline.sinks.read_counters} sums).
 */
final class Counters implements AutoCloseable {
    private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
    private final MetricGroup group;
    private final Path path;
    private final Thread dumper;
    private volatile boolean open = true;

    Counters(String metricsDir, String name, int subtask, MetricGroup group) {
        this.group = group;
        this.path = metricsDir == null || metricsDir.isEmpty() ? null : Path.of(metricsDir, name + "-" + subtask + ".json");
        this.dumper = new Thread(this::loop, "omniseq-counters-" + name);
        this.dumper.setDaemon(true);
        this.dumper.start();
    }

    AtomicLong counter(String name) {
        return counts.computeIfAbsent(name, n -> {
            AtomicLong c = new AtomicLong();
            group.gauge(n, (Gauge<Long>) c::get);
            return c;
        });
    }

    void inc(String name, long n) {
        counter(name).addAndGet(n);
    }

    private void loop() {
        while (open) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
            dump();
        }
    }

    synchronized void dump() {
        if (path == null) {
            return;
        }
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, AtomicLong> e : new TreeMap<>(counts).entrySet()) {
            sb.append(sb.length() > 1 ? ", " : "").append('"').append(e.getKey()).append("\": ").append(e.getValue().get());
        }
        sb.append('}');
        try {
            Files.createDirectories(path.getParent());
            Path tmp = path.resolveSibling("." + path.getFileName() + ".tmp");
            Files.write(tmp, sb.toString().getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // metrics files are best effort; the Flink gauges stay exact
        }
    }

    @Override
    public void close() {
        open = false;
        dumper.interrupt();
        dump();
    }
}
