package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The soak the hardening issue asks for: 1,000 connections opened and abandoned in each hostile way, then the gateway
 * still answers at its normal latency, and its file descriptors, heap after GC and open-stream gauge are back where
 * they started. Timeouts are shortened so the run takes seconds; the mechanisms are the shipped ones.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostileConnectionsSoakTest {

    private static final int CONNECTIONS = 1_000;
    private static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String STREAM = "{\"model\":\"drip\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";

    private static TestGateway gateway;
    private static long baselineFds;
    private static long baselineHeap;
    private static double baselineP50Millis;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                  drip: { type: mock, chunkInterval: 200ms }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: drip
                    deployments: [ { provider: drip, model: drip } ]
                """, Map.of(
                "caravan.headerTimeout", "1s",
                "caravan.bodyTimeout", "1s",
                "caravan.idleTimeout", "2s"));
        // warm up: the first requests load classes and fill pools that stay for the process's life
        for (int i = 0; i < 200; i++) {
            assertThat(chat().statusCode()).isEqualTo(200);
        }
        baselineP50Millis = p50Millis();
        baselineFds = openFds();
        baselineHeap = heapAfterGc();
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    @Test
    @Order(1)
    void idleConnectionsAreClosed() throws Exception {
        abandon(out -> { });
    }

    @Test
    @Order(2)
    void slowlorisHeadersAreClosed() throws Exception {
        abandon(out -> write(out, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    }

    @Test
    @Order(3)
    void halfSentBodiesAreClosed() throws Exception {
        abandon(out -> write(out, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + TestGateway.MASTER_KEY + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\""));
    }

    @Test
    @Order(4)
    void chunkedBodiesThatNeverEndAreClosed() throws Exception {
        abandon(out -> write(out, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + TestGateway.MASTER_KEY + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "8\r\n{\"model\"\r\n"));
    }

    @Test
    @Order(5)
    void unauthenticatedLargeUploadsAreRefusedAndClosed() throws Exception {
        abandon(out -> {
            write(out, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 32000000\r\n\r\n");
            byte[] junk = new byte[16 * 1024];
            Arrays.fill(junk, (byte) 'a');
            try {
                out.write(junk);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    @Test
    @Order(6)
    void streamsAbandonedMidwayEnd() throws Exception {
        dropStreams(1);
    }

    @Test
    @Order(7)
    void pipelinedStreamsAbandonedMidwayEnd() throws Exception {
        dropStreams(2);
    }

    @Test
    @Order(8)
    void afterAllOfItTheGatewayServesAsBeforeAndHoldsNothing() throws Exception {
        awaitStreamsClosed();
        double p50 = p50Millis();
        assertThat(p50).as("p50 after the soak, against %.2f ms before", baselineP50Millis)
                .isLessThan(Math.max(baselineP50Millis * 3, baselineP50Millis + 20));
        long deadline = System.currentTimeMillis() + 10_000;
        long fds = openFds();
        while (fds > baselineFds + 40 && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
            fds = openFds();
        }
        assertThat(fds).as("open file descriptors, against %d before", baselineFds).isLessThanOrEqualTo(baselineFds + 40);
        long heap = heapAfterGc();
        assertThat(heap).as("heap after GC, against %d MB before", baselineHeap >> 20)
                .isLessThan(baselineHeap + (48L << 20));
        assertThat(gateway.caravan().streams().openStreams()).isZero();
    }

    /**
     * Opens {@link #CONNECTIONS} connections that each do {@code what} and then nothing more, and asserts the gateway
     * closes every one of them (by a timeout or a refusal), after which the client closes its side too.
     */
    private static void abandon(Consumer<OutputStream> what) throws Exception {
        List<Socket> sockets = new ArrayList<>(CONNECTIONS);
        try {
            for (int i = 0; i < CONNECTIONS; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", gateway.port()), 5_000);
                what.accept(s.getOutputStream());
                sockets.add(s);
            }
            int closedByGateway = 0;
            for (Socket s : sockets) {
                s.setSoTimeout(10_000);
                if (readsToEnd(s.getInputStream())) {
                    closedByGateway++;
                }
            }
            assertThat(closedByGateway).as("connections the gateway closed").isEqualTo(CONNECTIONS);
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
        assertThat(chat().statusCode()).isEqualTo(200);
    }

    /** Starts streams ({@code perConnection} pipelined on each connection), reads their first bytes, then drops them. */
    private static void dropStreams(int perConnection) throws Exception {
        int batch = 100;
        for (int done = 0; done < CONNECTIONS; done += batch) {
            List<Socket> sockets = new ArrayList<>(batch);
            try {
                for (int i = 0; i < batch; i++) {
                    Socket s = new Socket("127.0.0.1", gateway.port());
                    StringBuilder requests = new StringBuilder();
                    for (int k = 0; k < perConnection; k++) {
                        requests.append("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
                                .append(TestGateway.MASTER_KEY).append("\r\nContent-Type: application/json\r\n")
                                .append("Content-Length: ").append(STREAM.length()).append("\r\n\r\n").append(STREAM);
                    }
                    write(s.getOutputStream(), requests.toString());
                    sockets.add(s);
                }
                for (Socket s : sockets) {
                    s.setSoTimeout(10_000);
                    byte[] head = new byte[64];
                    assertThat(s.getInputStream().read(head)).isPositive();
                }
            } finally {
                for (Socket s : sockets) {
                    s.close();
                }
            }
        }
        awaitStreamsClosed();
        assertThat(chat().statusCode()).isEqualTo(200);
    }

    private static void awaitStreamsClosed() throws InterruptedException {
        long deadline = System.currentTimeMillis() + 15_000;
        while (gateway.caravan().streams().openStreams() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertThat(gateway.caravan().streams().openStreams()).as("open streams").isZero();
    }

    private static boolean readsToEnd(InputStream in) throws IOException {
        byte[] buf = new byte[8192];
        try {
            while (true) {
                if (in.read(buf) < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset by the gateway: closed all the same
        }
    }

    private static void write(OutputStream out, String text) {
        try {
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static java.net.http.HttpResponse<String> chat() {
        return gateway.post("/v1/chat/completions", CHAT, "Authorization", "Bearer " + TestGateway.MASTER_KEY,
                "Content-Type", "application/json");
    }

    private static double p50Millis() {
        int n = 101;
        long[] nanos = new long[n];
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            assertThat(chat().statusCode()).isEqualTo(200);
            nanos[i] = System.nanoTime() - t;
        }
        Arrays.sort(nanos);
        return nanos[n / 2] / 1e6;
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
