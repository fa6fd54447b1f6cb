package omniseq.flink;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Set;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * Kafka rows {@code (payload, partition, offset)} to behaviour rows, parsing each message once; malformed ones go
 * to the {@link Records#dlqTag()} side output with a reason. The rules are those of
 * {@code omniseq.schema.decode_event} (exact fields, no coercion, ids of 1..128 characters, epoch-ms range), plus
 * two guards: a message larger than {@code max_message_bytes} and an event dated beyond
 * {@code now + max_future_skew_ms} are dead-lettered. A dead letter's payload is capped at
 * {@code dlq_max_payload_bytes} and carries the original size and SHA-256, so it always fits a Kafka record.
 */
public class ValidateEvents extends ProcessFunction<Row, Row> implements ResultTypeQueryable<Row> {
    private static final long serialVersionUID = 1L;
    static final String[] FIELDS = {"event_id", "user_id", "item_id", "event_type", "ts_ms", "session_id"};
    static final String[] ID_FIELDS = {"event_id", "user_id", "item_id", "session_id"};
    private static final Set<String> ALLOWED = Set.of("event_id", "user_id", "item_id", "event_type", "ts_ms", "session_id", "channel");

    private final String configJson;
    private transient JobConfig cfg;
    private transient ObjectMapper mapper;
    private transient Counters counters;

    public ValidateEvents(String configJson) {
        this.configJson = configJson;
    }

    /** Why a message is rejected (the DLQ reason). */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String field, String reason, String record) {
            super("invalid online_event: field '" + field + "' " + reason + " (record: " + record + ")", null, false, false);
        }
    }

    @Override
    public void open(OpenContext ctx) {
        cfg = new JobConfig(configJson);
        mapper = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        counters = new Counters(cfg.metricsDir, "validate", subtask, getRuntimeContext().getMetricGroup());
        counters.counter("messages_in");
        counters.counter("dead_lettered");
    }

    @Override
    public void processElement(Row value, Context ctx, Collector<Row> out) {
        byte[] payload = (byte[]) value.getField(0);
        Integer partition = (Integer) value.getField(1);
        Long offset = (Long) value.getField(2);
        counters.inc("messages_in", 1);
        try {
            Row event = parse(payload, ctx.timerService().currentProcessingTime());
            out.collect(event);
        } catch (Invalid e) {
            counters.inc("dead_lettered", 1);
            ctx.output(Records.dlqTag(), deadLetter(e.getMessage(), payload, partition, offset, cfg.dlqMaxPayloadBytes));
        }
    }

    Row parse(byte[] payload, long nowMs) throws Invalid {
        if (payload == null) {
            throw new Invalid("<json>", "is an empty message (null value)", "None");
        }
        if (payload.length > cfg.maxMessageBytes) {
            throw new Invalid("<message>", "is " + payload.length + " bytes, more than max_message_bytes=" + cfg.maxMessageBytes, "<too large>");
        }
        String text;
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            text = dec.decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            throw new Invalid("<json>", "is not valid JSON: not UTF-8", "<bytes>");
        }
        JsonNode rec;
        try {
            rec = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new Invalid("<json>", "is not valid JSON: " + e.getOriginalMessage(), shortRepr(text));
        }
        if (rec == null || rec.isMissingNode()) {
            throw new Invalid("<json>", "is not valid JSON: empty document", shortRepr(text));
        }
        return check(rec, text, nowMs);
    }

    private Row check(JsonNode rec, String text, long nowMs) throws Invalid {
        String repr = shortRepr(text);
        if (!rec.isObject()) {
            throw new Invalid("<record>", "must be an object, got " + rec.getNodeType(), repr);
        }
        for (String f : FIELDS) {
            if (!rec.has(f)) {
                throw new Invalid(f, "is missing", repr);
            }
        }
        for (Iterator<String> it = rec.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!ALLOWED.contains(name)) {
                throw new Invalid(name, "is not part of the schema", repr);
            }
        }
        JsonNode channel = rec.get("channel");
        if (channel != null && !(channel.isTextual() && "online".equals(channel.asText()))) {
            throw new Invalid("channel", "must be 'online'", repr);
        }
        for (String f : ID_FIELDS) {
            JsonNode v = rec.get(f);
            if (!v.isTextual()) {
                throw new Invalid(f, "must be a string, got " + v.getNodeType(), repr);
            }
            String s = v.textValue();
            int n = s.codePointCount(0, s.length());
            if (n < 1 || n > cfg.maxIdLen) {
                throw new Invalid(f, "must be 1.." + cfg.maxIdLen + " characters", repr);
            }
        }
        JsonNode et = rec.get("event_type");
        Integer type = et.isTextual() ? cfg.eventTypeCodes.get(et.textValue()) : null;
        if (type == null) {
            throw new Invalid("event_type", "must be one of " + pyList(cfg.eventTypeCodes.keySet()), repr);
        }
        JsonNode ts = rec.get("ts_ms");
        if (!ts.isIntegralNumber()) {
            throw new Invalid("ts_ms", "must be an integer (epoch ms), got " + ts.getNodeType(), repr);
        }
        if (!ts.canConvertToLong() || ts.longValue() < cfg.minTsMs || ts.longValue() > cfg.maxTsMs) {
            throw new Invalid("ts_ms", "out of range [" + cfg.minTsMs + ", " + cfg.maxTsMs + "] (epoch milliseconds?)", repr);
        }
        long tsMs = ts.longValue();
        if (tsMs > nowMs + cfg.maxFutureSkewMs) {
            throw new Invalid("ts_ms", "is in the future: more than max_future_skew_ms=" + cfg.maxFutureSkewMs + " after now (" + nowMs + ")", repr);
        }
        return Row.of(
                rec.get("user_id").textValue(), rec.get("event_id").textValue(), type,
                rec.get("item_id").textValue(), tsMs, new String[0], "", nowMs);
    }

    /** Names as Python prints a list of strings: {@code ['view', 'click']}. */
    private static String pyList(java.util.Collection<String> names) {
        StringBuilder sb = new StringBuilder("[");
        for (String name : names) {
            sb.append(sb.length() > 1 ? ", '" : "'").append(name).append('\'');
        }
        return sb.append(']').toString();
    }

    static String shortRepr(String text) {
        return text.length() <= 300 ? text : text.substring(0, 297) + "...";
    }

    /** A dead letter whose payload is at most {@code cap} bytes (text when it is UTF-8, else base64). */
    static Row deadLetter(String reason, byte[] payload, Integer partition, Long offset, int cap) {
        if (payload == null) {
            return Row.of(reason, null, "null", partition, offset, 0L, null, false);
        }
        boolean truncated = payload.length > cap;
        byte[] kept = truncated ? java.util.Arrays.copyOf(payload, cap) : payload;
        String sha = truncated ? sha256(payload) : null;
        String text = utf8(kept, truncated);
        if (text != null) {
            return Row.of(reason, text, "utf-8", partition, offset, (long) payload.length, sha, truncated);
        }
        return Row.of(reason, Base64.getEncoder().encodeToString(kept), "base64", partition, offset,
                (long) payload.length, sha, truncated);
    }

    /** Strict UTF-8 decoding; a truncated prefix may lose up to 3 bytes of a split last character. */
    private static String utf8(byte[] b, boolean truncated) {
        for (int drop = 0; drop <= (truncated ? 3 : 0) && drop <= b.length; drop++) {
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b, 0, b.length - drop)).toString();
            } catch (CharacterCodingException e) {
                // try a shorter prefix
            }
        }
        return null;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (counters != null) {
            counters.close();
        }
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return Records.behaviour();
    }
}
