package dev.caravan.transport.bus;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A single-node Kafka (KRaft: broker and controller in one server, from the {@code kafka_2.13} test dependency) in
 * this JVM, on free ports of 127.0.0.1 and a temp log directory, for one test class (about 6 s cold). Topics are
 * created by the tests ({@link #createTopic}); internal topics have replication 1 and the group coordinator does not
 * wait before its first rebalance, so a consumer group forms at once.
 */
public final class KafkaBroker implements AutoCloseable {

    private final KafkaRaftServer server;
    private final Path dir;
    private final String bootstrap;
    private final String saslBootstrap;

    private KafkaBroker(KafkaRaftServer server, Path dir, String bootstrap, String saslBootstrap) {
        this.server = server;
        this.dir = dir;
        this.bootstrap = bootstrap;
        this.saslBootstrap = saslBootstrap;
    }

    /**
     * The same with a second listener that takes SASL/PLAIN only (SASL_PLAINTEXT), for one user: what a client must
     * authenticate to; {@link #bootstrap} stays the plain listener the tests' own clients use.
     */
    public static KafkaBroker startWithSasl(String user, String password) throws Exception {
        return start(freePort(), user, password);
    }

    /** {@code host:port} of the SASL listener, or null without one. */
    public String saslBootstrap() {
        return saslBootstrap;
    }

    /** Formats a fresh log directory, starts the server and returns once it answers a describeCluster. */
    public static KafkaBroker start() throws Exception {
        return start(freePort());
    }

    /** The same on a given port (a test that starts a gateway before its broker). */
    public static KafkaBroker start(int port) throws Exception {
        return start(port, null, null);
    }

    private static KafkaBroker start(int port, String saslUser, String saslPassword) throws Exception {
        Path dir = Files.createTempDirectory("caravan-kafka");
        int saslPort = saslUser == null ? -1 : freePort();
        int controllerPort = freePort();
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        if (saslUser == null) {
            p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
            p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
            p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        } else {
            p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",SASL_PLAINTEXT://127.0.0.1:" + saslPort
                    + ",CONTROLLER://127.0.0.1:" + controllerPort);
            p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port + ",SASL_PLAINTEXT://127.0.0.1:" + saslPort);
            p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT");
            p.put("sasl.enabled.mechanisms", "PLAIN");
            p.put("listener.name.sasl_plaintext.plain.sasl.jaas.config",
                    "org.apache.kafka.common.security.plain.PlainLoginModule required user_" + saslUser + "=\"" + saslPassword + "\";");
        }
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", dir.toString());
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", "true");
        // small: a test broker on a 2-core machine shared with other builds
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        p.put("log.cleaner.enable", "false");
        KafkaConfig config = KafkaConfig.fromProps(p, false);

        new Formatter()
                .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                .setClusterId(Uuid.randomUuid().toString())
                .setNodeId(1)
                .setDirectories(List.of(dir.toString()))
                .setMetadataLogDirectory(dir.toString())
                .setControllerListenerName("CONTROLLER")
                .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                .run();

        KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
        server.startup();
        KafkaBroker broker = new KafkaBroker(server, dir, "127.0.0.1:" + port,
                saslUser == null ? null : "127.0.0.1:" + saslPort);
        broker.awaitReady();
        return broker;
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Admin admin = admin()) {
            while (true) {
                try {
                    if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the in-process Kafka broker did not start within 60 s", e);
                    }
                }
                Thread.sleep(100);
            }
        }
    }

    /** {@code host:port} of the broker's listener. */
    public String bootstrap() {
        return bootstrap;
    }

    public Admin admin() {
        return Admin.create(Map.of("bootstrap.servers", bootstrap));
    }

    /** Creates {@code topic} with {@code partitions} partitions (nothing when it exists). */
    public void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
            }
        }
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // a temp directory left behind
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
