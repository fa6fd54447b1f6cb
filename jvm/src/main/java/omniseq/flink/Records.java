package omniseq.flink;

import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.util.OutputTag;

/** The named row layouts exchanged between the job's operators (the SQL side sees the same names). */
public final class Records {
    private Records() {}

    /** Type code of an in-store basket token (online events are 0 view .. 3 purchase). */
    public static final int BASKET = 4;

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

    /** Every new (deduplicated) behaviour, with its arrival time: the offline behaviour log. */
    public static OutputTag<org.apache.flink.types.Row> logTag() {
        return new OutputTag<>("behaviour_log", behaviour());
    }
}
