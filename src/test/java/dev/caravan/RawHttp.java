package dev.caravan;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One raw TCP connection to the gateway: writes bytes as given and reads answers off the wire as they come, so tests
 * see what an SDK would hide (pipelining, framing, HTTP/1.0, when the server closes).
 */
final class RawHttp implements AutoCloseable {

    /** One answer as it was on the wire; header names lower-case. */
    record Answer(String statusLine, Map<String, String> headers, String body) {
        int status() {
            return Integer.parseInt(statusLine.split(" ")[1]);
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    final Socket socket;
    private final InputStream in;

    RawHttp(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
    }

    Socket socket() {
        return socket;
    }

    RawHttp send(String bytes) throws IOException {
        socket.getOutputStream().write(bytes.getBytes(StandardCharsets.UTF_8));
        socket.getOutputStream().flush();
        return this;
    }

    RawHttp send(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return this;
    }

    /** Reads one response as text (head, and a Content-Length body), the status line first. */
    String readResponse() throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int last4 = 0;
        while (last4 != 0x0d0a0d0a) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed after " + head.size() + " bytes");
            }
            head.write(b);
            last4 = (last4 << 8) | b;
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        int length = 0;
        for (String line : text.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return text + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /**
     * Milliseconds until the gateway closes the connection (reading and dropping anything sent meanwhile), or -1 if
     * it is still open after {@code waitMillis}.
     */
    long millisUntilClosed(long waitMillis) throws IOException {
        long start = System.nanoTime();
        socket.setSoTimeout((int) waitMillis);
        try {
            byte[] buf = new byte[8192];
            while (in.read(buf) >= 0) {
                if ((System.nanoTime() - start) / 1_000_000 > waitMillis) {
                    return -1;
                }
            }
            return (System.nanoTime() - start) / 1_000_000;
        } catch (SocketTimeoutException e) {
            return -1;
        } catch (IOException e) {
            return (System.nanoTime() - start) / 1_000_000; // reset: closed too
        }
    }

    /** A chat-completions POST with a correct Content-Length. */
    static String chat(String key, String model, boolean stream, String content, String extraHeaders) {
        String body = "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"max_tokens\":6,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]}";
        return chat(key, body, extraHeaders, "HTTP/1.1");
    }

    static String chat(String key, String body, String extraHeaders, String version) {
        return "POST /v1/chat/completions " + version + "\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\n" + extraHeaders
                + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TestGateway.MASTER_KEY + "\r\n\r\n";
    }

    /** Reads the next whole answer: Content-Length, chunked, or (neither) until the server closes. */
    Answer read() throws IOException {
        String statusLine = line();
        if (statusLine == null) {
            throw new IOException("the server closed the connection before an answer");
        }
        Map<String, String> headers = new HashMap<>();
        for (String h = line(); h != null && !h.isEmpty(); h = line()) {
            int colon = h.indexOf(':');
            headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            for (int size = Integer.parseInt(line().trim(), 16); size > 0; size = Integer.parseInt(line().trim(), 16)) {
                body.write(in.readNBytes(size));
                line();
            }
            line(); // the empty trailer section
        } else if (headers.containsKey("content-length")) {
            body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
        } else {
            in.transferTo(body);
        }
        return new Answer(statusLine, headers, body.toString(StandardCharsets.UTF_8));
    }

    /** Only the status line and headers of the next answer; the body is left to read. */
    String readHead() throws IOException {
        StringBuilder head = new StringBuilder();
        for (String h = line(); h != null && !h.isEmpty(); h = line()) {
            head.append(h).append('\n');
        }
        return head.toString();
    }

    /** True when the server closes the connection (without sending more) within the timeout. */
    boolean closedByServerWithin(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            return in.read() == -1;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b == -1) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
            }
            line.write(b);
        }
        String s = line.toString(StandardCharsets.UTF_8);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    /** Drops the connection at once (RST, not FIN), as a client that crashes would. */
    void abort() {
        try {
            socket.setSoLinger(true, 0);
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
