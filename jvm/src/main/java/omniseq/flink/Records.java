package omniseq.flink;

import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.util.OutputTag;

/** The named row layouts exchanged between the job's operators (the SQL side sees the same names). */
public final class Records {
    private Records() {}

    /** An online event or an in-store basket in one layout, so both sides can be unioned and keyed by user. */
    public static final String[] BEHAVIOUR_FIELDS = {
        "user_id", "key", "type_code", "item_id", "ts_ms", "items", "store_id", "arrival_ms"
    };
    public static final int USER = 0, KEY = 1, TYPE = 2, ITEM = 3, TS = 4, ITEMS = 5, STORE = 6, ARRIVAL = 7;

    public static RowTypeInfo behaviour() {
        return new RowTypeInfo(
                new TypeInformation<?>[] {
                    Types.STRING, Types.STRING, Types.INT, Types.STRING, Types.LONG,
                    BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO, Types.STRING, Types.LONG
                },
                BEHAVIOUR_FIELDS);
    }

    /** Deduplicated online events: the input of the SQL windows. */
    public static RowTypeInfo cleanEvent() {
        return new RowTypeInfo(
                new TypeInformation<?>[] {Types.STRING, Types.INT, Types.LONG},
                new String[] {"user_id", "type_code", "ts_ms"});
    }

    /** A dead letter: why, the (possibly truncated) message, and where it came from. */
    public static RowTypeInfo deadLetter() {
        return new RowTypeInfo(
                new TypeInformation<?>[] {
                    Types.STRING, Types.STRING, Types.STRING, Types.INT, Types.LONG, Types.LONG, Types.STRING,
                    Types.BOOLEAN
                },
                new String[] {
                    "reason", "payload", "payload_encoding", "source_partition", "source_offset",
                    "payload_bytes", "payload_sha256", "payload_truncated"
                });
    }

    public static OutputTag<org.apache.flink.types.Row> dlqTag() {
        return new OutputTag<>("dlq", deadLetter());
    }

    /** Flink type of a feature of the contract's dtype. */
    public static TypeInformation<?> featureType(String dtype) {
        return switch (dtype) {
            case "int64" -> Types.LONG;
            case "float64" -> Types.DOUBLE;
            case "string" -> Types.STRING;
            case "int64_list" -> BasicArrayTypeInfo.LONG_ARRAY_TYPE_INFO;
            case "string_list" -> BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO;
            default -> throw new IllegalArgumentException("unsupported feature dtype " + dtype);
        };
    }

    /** One offline snapshot row of a view: user_id, its features in contract order, event_ts, created_ts. */
    public static OutputTag<org.apache.flink.types.Row> snapshotTag(JobConfig.View view) {
        int n = view.features().size();
        TypeInformation<?>[] types = new TypeInformation<?>[n + 3];
        String[] names = new String[n + 3];
        types[0] = Types.STRING;
        names[0] = "user_id";
        for (int i = 0; i < n; i++) {
            types[i + 1] = featureType(view.features().get(i).dtype());
            names[i + 1] = view.features().get(i).name();
        }
        types[n + 1] = Types.LONG;
        names[n + 1] = "event_ts";
        types[n + 2] = Types.LONG;
        names[n + 2] = "created_ts";
        return new OutputTag<>("offline_" + view.name(), new RowTypeInfo(types, names));
    }

    /** Every new (deduplicated) behaviour, with its arrival time: the offline behaviour log. */
    public static OutputTag<org.apache.flink.types.Row> logTag() {
        return new OutputTag<>("behaviour_log", behaviour());
    }
}
