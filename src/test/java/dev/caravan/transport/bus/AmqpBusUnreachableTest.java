package dev.caravan.transport.bus;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A configured broker that cannot be reached when the gateway starts: HTTP serves, {@code /health/ready} says the
 * amqp bus is down, the log says so without the password, and once the broker answers (a port that starts
 * forwarding to the local RabbitMQ) the bus reconnects by itself and answers messages; cut off again while it runs,
 * it reconnects again and answers what was sent in the meantime.
 */
class AmqpBusUnreachableTest {

    static final String PASSWORD = "amqp-secret-" + Long.toHexString(System.nanoTime());
    /** A user of its own (rabbitmqctl), so the password the log must never show is one nobody else uses. */
    static final String USER = "caravan-test-" + Long.toHexString(System.nanoTime());
    static final String REQUESTS = AmqpFixtures.uniqueQueue("unreachable");
    static final String DEAD = AmqpFixtures.uniqueQueue("unreachable-dlq");

    static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    static Path passwordFile;
    static int port;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        rabbitmqctl("add_user", USER, PASSWORD);
        rabbitmqctl("set_permissions", "-p", "/", USER, ".*", ".*", ".*");
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        passwordFile = Files.createTempFile("amqp-password", ".txt");
        Files.writeString(passwordFile, PASSWORD);
        port = TestGateway.freePort(); // nothing listens here yet
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG + """
                bus:
                  amqp: { url: "amqp://127.0.0.1:%d", username: %s, password: "${file:%s}", requestQueue: %s, deadLetterQueue: %s, concurrency: 2 }
                """.formatted(port, USER, passwordFile, REQUESTS, DEAD));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            gateway.close();
        } finally {
            ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
            Files.deleteIfExists(passwordFile);
            try (Connection c = AmqpFixtures.connect(); Channel ch = c.createChannel()) {
                ch.queueDelete(REQUESTS);
                ch.queueDelete(DEAD);
            }
            rabbitmqctl("delete_user", USER);
        }
    }

    private static void rabbitmqctl(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("rabbitmqctl", "-q"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as("rabbitmqctl %s: %s", args[0], out).isZero();
    }

    @Test
    void httpServesWhileTheBrokerIsDownAndTheBusReconnectsWhenItAnswers() throws Exception {
        HttpResponse<String> chat = gateway.post("/v1/chat/completions", """
                {"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}""",
                "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
        assertThat(chat.statusCode()).isEqualTo(200);

        HttpResponse<String> ready = gateway.get("/health/ready");
        assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
        assertThat(Json.parseObjectOrNull(ready.body()).path("checks").path("buses").path("amqp").asText()).isEqualTo("DOWN");
        TestGateway.eventually(() -> lines().stream().anyMatch(l -> l.contains("Bus amqp: cannot reach")),
                "the log says the broker cannot be reached");

        // the broker comes up (the port starts forwarding to RabbitMQ): the bus reconnects, with no restart
        try (Forward forward = new Forward(port, AmqpFixtures.HOST, AmqpFixtures.PORT);
             Connection client = AmqpFixtures.connect();
             AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            TestGateway.eventually(() -> busState().equals("UP"), "the amqp bus is up again");
            rpc.send(REQUESTS, "m-after", "after", """
                    {"model":"mock-gpt","messages":[{"role":"user","content":"after the outage"}]}""",
                    "caravan-api-key", TestGateway.DEMO_KEY);
            assertThat(rpc.await("after").header("caravan-status")).isEqualTo("200");

            // the broker goes away again while the gateway runs (every connection through the port cut), and back
            forward.close();
            TestGateway.eventually(() -> busState().equals("DOWN"), "the amqp bus is down");
            rpc.send(REQUESTS, "m-during", "during", """
                    {"model":"mock-gpt","messages":[{"role":"user","content":"while the gateway is cut off"}]}""",
                    "caravan-api-key", TestGateway.DEMO_KEY);
            try (Forward again = new Forward(port, AmqpFixtures.HOST, AmqpFixtures.PORT)) {
                TestGateway.eventually(() -> busState().equals("UP"), "the amqp bus is up after the second outage");
                assertThat(rpc.await("during").header("caravan-status")).isEqualTo("200");
            }
        }
        assertThat(lines()).anyMatch(l -> l.contains("Bus amqp: the connection to") && l.contains("was lost"));
        assertThat(lines()).noneMatch(l -> l.contains(PASSWORD));
        assertThat(lines()).noneMatch(l -> l.contains(TestGateway.DEMO_KEY));
    }

    private static String busState() {
        JsonNode ready = Json.parseObjectOrNull(gateway.get("/health/ready").body());
        return ready.path("checks").path("buses").path("amqp").asText();
    }

    private static List<String> lines() {
        synchronized (logs) {
            return logs.list.stream().map(e -> e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage())).toList();
        }
    }

    /** A port that forwards each connection to the broker, from the moment it is opened. */
    static final class Forward implements AutoCloseable {
        private final ServerSocket server;
        private final List<Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>();

        Forward(int port, String host, int to) throws IOException {
            server = new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"));
            Thread accept = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket in = server.accept();
                        Socket out = new Socket(host, to);
                        open.add(in);
                        open.add(out);
                        pipe(in, out);
                        pipe(out, in);
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "amqp-forward");
            accept.setDaemon(true);
            accept.start();
        }

        private static void pipe(Socket from, Socket to) {
            Thread t = new Thread(() -> {
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    in.transferTo(out);
                } catch (IOException e) {
                    // either side closed
                } finally {
                    try {
                        from.close();
                        to.close();
                    } catch (IOException ignored) {
                        // closing
                    }
                }
            }, "amqp-forward-pipe");
            t.setDaemon(true);
            t.start();
        }

        /** No new connections, and every open one cut. */
        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : open) {
                s.close();
            }
        }
    }
}
