package dev.caravan;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** A raw client socket for tests an HTTP client library would hide: slow senders, half-sent bodies, pipelining. */
final class RawHttp implements AutoCloseable {

    final Socket socket;

    RawHttp(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
    }

    RawHttp send(String text) throws IOException {
        return send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    RawHttp send(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return this;
    }

    /** Reads one response (head, and a Content-Length body); the head's status line first. */
    String readResponse() throws IOException {
        InputStream in = socket.getInputStream();
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
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return text + new String(body, StandardCharsets.UTF_8);
    }

    /**
     * Milliseconds until the gateway closes the connection (reads and drops anything sent meanwhile), or -1 if it is
     * still open after {@code waitMillis}.
     */
    long millisUntilClosed(long waitMillis) throws IOException {
        long start = System.nanoTime();
        socket.setSoTimeout((int) waitMillis);
        try {
            byte[] buf = new byte[8192];
            while (socket.getInputStream().read(buf) >= 0) {
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

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
