package omniseq.flink;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The operators' settings, parsed from the JSON that {@code pipeline.job.operator_config} builds from
 * {@code PipelineSettings} and the feature contract ({@code feature_repo.views}): view names, feature names,
 * their Feast field hashes and value types all come from Python, so Java holds no copy of the contract.
 */
public final class JobConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One feature of a view: its name, Feast dtype and Redis hash field (murmur3 of "view:feature"). */
    public record Feature(String name, String dtype, byte[] field) implements Serializable {}

    /**
     * One feature view: its features, its {@code _ts:<view>} field, the feature holding a row's event time and
     * (sequence views) its length.
     */
    public record View(String name, int maxLen, byte[] tsField, String tsFeature, List<Feature> features)
            implements Serializable {}

    public final String json;
    public final String onlineUri;
    public final String metricsDir;
    public final byte[] keyPrefix;
    public final byte[] project;
    public final List<View> seqViews = new ArrayList<>();
    public final View instoreView;
    public final List<View> windowViews = new ArrayList<>();
    public final int maxLen;
    public final long dedupTtlMs;
    public final long flushMs;
    public final int batchRows;
    public final int maxMessageBytes;
    public final int dlqMaxPayloadBytes;
    public final long maxFutureSkewMs;
    public final int stateTtlDays;
    public final boolean offlineSnapshots;
    /** The contract's token type codes: online event type -> code (in order), and an in-store basket's code. */
    public final Map<String, Integer> eventTypeCodes = new LinkedHashMap<>();
    public final int basketCode;
    /** The record limits of {@code omniseq.schema}: the epoch-ms range and the longest id. */
    public final long minTsMs;
    public final long maxTsMs;
    public final int maxIdLen;

    public JobConfig(String json) {
        this.json = json;
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException("bad omniseq operator config", e);
        }
        HexFormat hex = HexFormat.of();
        onlineUri = n.path("online_uri").asText("");
        metricsDir = n.path("metrics_dir").asText("");
        keyPrefix = hex.parseHex(n.path("key_prefix_hex").asText(""));
        project = n.path("project").asText("").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (JsonNode v : n.path("seq_views")) {
            seqViews.add(view(v, hex));
        }
        instoreView = n.has("instore_view") ? view(n.get("instore_view"), hex) : null;
        for (JsonNode v : n.path("window_views")) {
            windowViews.add(view(v, hex));
        }
        maxLen = n.path("max_len").asInt(90);
        dedupTtlMs = n.path("dedup_ttl_ms").asLong(86_400_000L);
        flushMs = n.path("flush_ms").asLong(100);
        batchRows = n.path("batch_rows").asInt(2000);
        maxMessageBytes = n.path("max_message_bytes").asInt(16_384);
        dlqMaxPayloadBytes = n.path("dlq_max_payload_bytes").asInt(16_384);
        maxFutureSkewMs = n.path("max_future_skew_ms").asLong(3_600_000L);
        stateTtlDays = n.path("state_ttl_days").asInt(0);
        offlineSnapshots = n.path("offline_snapshots").asBoolean(false);
        for (Map.Entry<String, JsonNode> e : required(n, "event_type_codes").properties()) {
            eventTypeCodes.put(e.getKey(), e.getValue().asInt());
        }
        basketCode = required(n, "basket_code").asInt();
        minTsMs = required(n, "min_ts_ms").asLong();
        maxTsMs = required(n, "max_ts_ms").asLong();
        maxIdLen = required(n, "max_id_len").asInt();
    }

    private static JsonNode required(JsonNode n, String key) {
        if (!n.hasNonNull(key)) {
            throw new IllegalArgumentException("the operator config has no '" + key + "' (pipeline.job.operator_config)");
        }
        return n.get(key);
    }

    private static View view(JsonNode v, HexFormat hex) {
        List<Feature> features = new ArrayList<>();
        for (JsonNode f : v.path("features")) {
            features.add(new Feature(f.get("name").asText(), f.get("dtype").asText(), hex.parseHex(f.get("field_hex").asText())));
        }
        return new View(
                v.get("name").asText(),
                v.path("max_len").asInt(0),
                hex.parseHex(v.get("ts_field_hex").asText()),
                v.get("ts_feature").asText(),
                List.copyOf(features));
    }

    public View windowView(String name) {
        for (View v : windowViews) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        throw new IllegalArgumentException("no window view " + name + " in the operator config");
    }
}
