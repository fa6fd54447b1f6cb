package omniseq.flink;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.types.Row;

/**
 * Re-types rows that already have the behaviour layout (e.g. in-store baskets selected in SQL) to
 * {@link Records#behaviour()}, so they can be unioned with the validated online events.
 */
public class AsBehaviour implements MapFunction<Row, Row>, ResultTypeQueryable<Row> {
    private static final long serialVersionUID = 1L;

    @Override
    public Row map(Row r) {
        Row out = new Row(Records.BEHAVIOUR_FIELDS.length);
        for (int i = 0; i < out.getArity(); i++) {
            out.setField(i, r.getField(i));
        }
        return out;
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return Records.behaviour();
    }
}
