package omniseq.flink;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One user's keyed state: the newest tokens of the hybrid sequence in {@code omniseq.schema.sort_key} order
 * (time, baskets before online events at equal time, then id; late arrivals inserted in place), the ids seen within
 * the dedup horizon, and the in-store aggregates. The same rules as {@code HybridSequence.add} (the Python
 * reference); the pipeline's differential test compares the two. A plain class (Flink serializes it with Kryo at
 * checkpoints; heap state keeps the live object).
 */
public class UserState {
    /** One token: an online event (item) or a basket (items, store). */
    public static class Token {
        public long ts;
        public int channel; // 0 basket, 1 online: baskets first at equal time
        public String key;
        public int type;
        public String item;
        public String[] items;
        public String store;

        public Token() {}

        Token(long ts, int channel, String key, int type, String item, String[] items, String store) {
            this.ts = ts;
            this.channel = channel;
            this.key = key;
            this.type = type;
            this.item = item;
            this.items = items;
            this.store = store;
        }

        int compareOrder(Token o) {
            int c = Long.compare(ts, o.ts);
            if (c == 0) {
                c = Integer.compare(channel, o.channel);
            }
            // Python compares str by code point; String.compareTo by UTF-16 unit: equal for BMP ids
            return c != 0 ? c : key.compareTo(o.key);
        }
    }

    public ArrayList<Token> tokens = new ArrayList<>();
    public HashMap<String, Long> seen = new HashMap<>();
    public long visits;
    public long nItems;
    public String lastStoreId = "";
    public long lastStoreTs;
    public String lastStoreKey = "";

    public UserState() {}

    /** True if {@code key} was seen within the horizon; otherwise remember it (expired ids are forgotten). */
    boolean isDuplicate(String key, long ts, long ttlMs) {
        if (seen.containsKey(key)) {
            return true;
        }
        seen.put(key, ts);
        int n = seen.size();
        if (n > 64 && n % 64 == 0) { // amortised pruning by event time
            long horizon = Long.MIN_VALUE;
            for (long t : seen.values()) {
                horizon = Math.max(horizon, t);
            }
            horizon -= ttlMs;
            for (Iterator<Long> it = seen.values().iterator(); it.hasNext(); ) {
                if (it.next() < horizon) {
                    it.remove();
                }
            }
        }
        return false;
    }

    /** Insert in order keeping the newest {@code maxLen}; false when it is older than all of a full sequence. */
    boolean add(Token tok, int maxLen) {
        int n = tokens.size();
        int pos;
        if (n == 0 || tokens.get(n - 1).compareOrder(tok) < 0) {
            pos = n;
        } else {
            int lo = 0, hi = n;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (tokens.get(mid).compareOrder(tok) < 0) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            pos = lo;
            if (pos < n && tokens.get(pos).compareOrder(tok) == 0) {
                return false;
            }
        }
        if (n >= maxLen && pos == 0) {
            return false;
        }
        tokens.add(pos, tok);
        if (tokens.size() > maxLen) {
            tokens.remove(0);
        }
        return true;
    }

    void addBasketAgg(String key, int nBasketItems, long ts, String store) {
        visits += 1;
        nItems += nBasketItems;
        boolean newer = ts > lastStoreTs || (ts == lastStoreTs && key.compareTo(lastStoreKey) > 0);
        if (visits == 1 || newer) {
            lastStoreId = store;
            lastStoreTs = ts;
            lastStoreKey = key;
        }
    }

    /** The sequence features ({@code omniseq.features.sequence}) of the newest {@code n} tokens. */
    Map<String, Object> seqFeatures(int n) {
        List<Token> toks = tokens.subList(Math.max(0, tokens.size() - n), tokens.size());
        List<String> tokItems = new ArrayList<>(toks.size());
        List<Long> tokTypes = new ArrayList<>(toks.size());
        List<Long> tokTs = new ArrayList<>(toks.size());
        List<String> basketItems = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        List<String> stores = new ArrayList<>();
        offsets.add(0L);
        for (Token t : toks) {
            tokItems.add(t.item);
            tokTypes.add((long) t.type);
            tokTs.add(t.ts);
            if (t.channel == 0) { // a basket token
                basketItems.addAll(Arrays.asList(t.items));
                offsets.add((long) basketItems.size());
                stores.add(t.store);
            }
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("tok_items", tokItems);
        f.put("tok_types", tokTypes);
        f.put("tok_ts", tokTs);
        f.put("basket_items", basketItems);
        f.put("basket_offsets", offsets);
        f.put("basket_stores", stores);
        f.put("seq_len", (long) toks.size());
        f.put("last_ts", toks.isEmpty() ? 0L : toks.get(toks.size() - 1).ts);
        return f;
    }

    long lastTs() {
        return tokens.isEmpty() ? 0L : tokens.get(tokens.size() - 1).ts;
    }

    Map<String, Object> instoreFeatures() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("store_visits", visits);
        f.put("store_items", nItems);
        f.put("mean_basket_size", visits == 0 ? 0.0 : (double) nItems / visits);
        f.put("last_store_id", lastStoreId);
        f.put("last_store_ts", lastStoreTs);
        return f;
    }
}
