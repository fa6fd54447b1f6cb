package omniseq.flink;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Feast's Redis value layout, written by hand: serialized {@code feast.types.Value} protos (proto3; a oneof member
 * is always written, lists are packed), {@code google.protobuf.Timestamp} for {@code _ts:<view>}, and the entity
 * key {@code <serialized entity key prefix><STRING type, length, user id><project>} (serialization version 3).
 * {@code omniseq.features.online} is the Python side of the same layout; the pipeline tests compare bytes.
 */
final class FeastCodec {
    private FeastCodec() {}

    static byte[] redisKey(byte[] prefix, String userId, byte[] project) {
        byte[] v = userId.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(prefix.length + 8 + v.length + project.length);
        out.writeBytes(prefix);
        le32(out, 2); // ValueType.STRING
        le32(out, v.length);
        out.writeBytes(v);
        out.writeBytes(project);
        return out.toByteArray();
    }

    /** {@code google.protobuf.Timestamp}: seconds (field 1) and nanos (field 2), zero fields omitted. */
    static byte[] timestamp(long tsMs) {
        long seconds = Math.floorDiv(tsMs, 1000);
        int nanos = (int) Math.floorMod(tsMs, 1000) * 1_000_000;
        ByteArrayOutputStream out = new ByteArrayOutputStream(16);
        if (seconds != 0) {
            out.write(0x08);
            varint(out, seconds);
        }
        if (nanos != 0) {
            out.write(0x10);
            varint(out, nanos);
        }
        return out.toByteArray();
    }

    /** A serialized {@code feast.types.Value} of one of the contract's dtypes; null gives Feast's null (empty). */
    static byte[] value(String dtype, Object v) {
        if (v == null) {
            return new byte[0];
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(32);
        switch (dtype) {
            case "int64" -> {
                out.write(4 << 3);
                varint(out, ((Number) v).longValue());
            }
            case "float64" -> {
                out.write(5 << 3 | 1);
                long bits = Double.doubleToRawLongBits(((Number) v).doubleValue());
                for (int i = 0; i < 8; i++) {
                    out.write((int) (bits >>> (8 * i)) & 0xff);
                }
            }
            case "string" -> lengthDelimited(out, 2, ((String) v).getBytes(StandardCharsets.UTF_8));
            case "int64_list" -> {
                ByteArrayOutputStream packed = new ByteArrayOutputStream();
                for (Object x : (List<?>) v) {
                    varint(packed, ((Number) x).longValue());
                }
                ByteArrayOutputStream list = new ByteArrayOutputStream();
                if (packed.size() > 0) {
                    lengthDelimited(list, 1, packed.toByteArray());
                }
                lengthDelimited(out, 14, list.toByteArray());
            }
            case "string_list" -> {
                ByteArrayOutputStream list = new ByteArrayOutputStream();
                for (Object x : (List<?>) v) {
                    lengthDelimited(list, 1, ((String) x).getBytes(StandardCharsets.UTF_8));
                }
                lengthDelimited(out, 12, list.toByteArray());
            }
            default -> throw new IllegalArgumentException("unsupported feature dtype " + dtype);
        }
        return out.toByteArray();
    }

    private static void lengthDelimited(ByteArrayOutputStream out, int field, byte[] body) {
        out.write(field << 3 | 2);
        varint(out, body.length);
        out.writeBytes(body);
    }

    static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void le32(ByteArrayOutputStream out, int v) {
        out.write(v & 0xff);
        out.write((v >>> 8) & 0xff);
        out.write((v >>> 16) & 0xff);
        out.write((v >>> 24) & 0xff);
    }
}
