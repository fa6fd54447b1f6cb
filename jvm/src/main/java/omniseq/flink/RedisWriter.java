package omniseq.flink;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pipelined writes of feature rows into Redis in Feast's layout, over a plain RESP connection (no client library:
 * the only commands are HSET, SELECT and AUTH). {@link #add} buffers one HSET; {@link #flush} sends every buffered
 * command in one write and checks every reply. Last write wins, as in {@code RedisOnlineStore.write}.
 */
final class RedisWriter implements AutoCloseable {
    private final String host;
    private final int port;
    private final int db;
    private final String password;
    private final byte[] keyPrefix;
    private final byte[] project;
    private Socket socket;
    private OutputStream out;
    private InputStream in;
    private final List<byte[][]> pending = new ArrayList<>();

    RedisWriter(String uri, byte[] keyPrefix, byte[] project) {
        URI u = URI.create(uri);
        if (!"redis".equals(u.getScheme())) {
            throw new IllegalArgumentException("online sink URI must be redis://host:port/db, got " + uri);
        }
        this.host = u.getHost();
        this.port = u.getPort() > 0 ? u.getPort() : 6379;
        String path = u.getPath() == null ? "" : u.getPath().replace("/", "");
        this.db = path.isEmpty() ? 0 : Integer.parseInt(path);
        String info = u.getUserInfo();
        this.password = info == null ? null : info.substring(info.indexOf(':') + 1);
        this.keyPrefix = keyPrefix;
        this.project = project;
    }

    /** Buffer one row: HSET key _ts:<view> ts f1 v1 ...; every feature of the view must be in {@code values}. */
    void add(JobConfig.View view, String userId, Map<String, Object> values, long tsMs) {
        byte[][] cmd = new byte[4 + 2 * view.features().size()][];
        int i = 0;
        cmd[i++] = "HSET".getBytes(StandardCharsets.US_ASCII);
        cmd[i++] = FeastCodec.redisKey(keyPrefix, userId, project);
        cmd[i++] = view.tsField();
        cmd[i++] = FeastCodec.timestamp(tsMs);
        for (JobConfig.Feature f : view.features()) {
            if (!values.containsKey(f.name())) {
                throw new IllegalStateException("no value for feature " + f.name() + " of view " + view.name());
            }
            cmd[i++] = f.field();
            cmd[i++] = FeastCodec.value(f.dtype(), values.get(f.name()));
        }
        pending.add(cmd);
    }

    int pendingRows() {
        return pending.size();
    }

    /** Send the buffered commands in one pipelined round trip; an error reply or I/O failure throws. */
    void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        connect();
        for (byte[][] cmd : pending) {
            writeCommand(cmd);
        }
        out.flush();
        int n = pending.size();
        pending.clear();
        String error = null;
        for (int k = 0; k < n; k++) {
            String e = readReply();
            error = error == null ? e : error;
        }
        if (error != null) {
            throw new IOException("Redis replied with an error: " + error);
        }
    }

    private void connect() throws IOException {
        if (socket != null && !socket.isClosed()) {
            return;
        }
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(30_000);
        socket.connect(new InetSocketAddress(host, port), 10_000);
        out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
        int expected = 0;
        if (password != null && !password.isEmpty()) {
            writeCommand(new byte[][] {bytes("AUTH"), bytes(password)});
            expected++;
        }
        if (db != 0) {
            writeCommand(new byte[][] {bytes("SELECT"), bytes(Integer.toString(db))});
            expected++;
        }
        out.flush();
        for (int k = 0; k < expected; k++) {
            String e = readReply();
            if (e != null) {
                close();
                throw new IOException("Redis connection set-up failed: " + e);
            }
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void writeCommand(byte[][] args) throws IOException {
        out.write('*');
        out.write(bytes(Integer.toString(args.length)));
        out.write('\r');
        out.write('\n');
        for (byte[] a : args) {
            out.write('$');
            out.write(bytes(Integer.toString(a.length)));
            out.write('\r');
            out.write('\n');
            out.write(a);
            out.write('\r');
            out.write('\n');
        }
    }

    /** Read one reply; returns the error text of an error reply, else null. */
    private String readReply() throws IOException {
        int type = in.read();
        String line = readLine();
        switch (type) {
            case '+', ':' -> {
                return null;
            }
            case '-' -> {
                return line;
            }
            case '$' -> {
                int len = Integer.parseInt(line);
                if (len >= 0) {
                    in.readNBytes(len + 2);
                }
                return null;
            }
            case '*' -> {
                int len = Integer.parseInt(line);
                String err = null;
                for (int k = 0; k < len; k++) {
                    String e = readReply();
                    err = err == null ? e : err;
                }
                return err;
            }
            default -> throw new IOException("unexpected Redis reply type " + type);
        }
    }

    private String readLine() throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0) {
                throw new IOException("Redis connection closed");
            }
            sb.append((char) c);
        }
        in.read(); // '\n'
        return sb.toString();
    }

    @Override
    public void close() {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException e) {
            // closing anyway
        }
        socket = null;
    }
}
