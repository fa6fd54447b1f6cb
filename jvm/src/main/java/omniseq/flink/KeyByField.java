package omniseq.flink;

import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.types.Row;

/** Keys rows by one string field (the user id). */
public class KeyByField implements KeySelector<Row, String> {
    private static final long serialVersionUID = 1L;
    private final int field;

    public KeyByField(int field) {
        this.field = field;
    }

    @Override
    public String getKey(Row row) {
        return (String) row.getField(field);
    }
}
