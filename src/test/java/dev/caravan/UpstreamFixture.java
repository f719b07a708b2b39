package dev.caravan;

import com.openai.client.OpenAIClient;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A provider test class's upstream side, set up the same way everywhere: MockWebServers standing in for providers,
 * key files their {@code ${file:...}} credentials are read from, and a {@link TestGateway} configured to call them.
 * One per test class, registered as a static {@code @RegisterExtension} field and filled in by the class's
 * {@code @BeforeAll}: after each test it forgets the requests the servers recorded, so the next test reads only its
 * own; after the class it stops the gateway first, then every server, then deletes the key files. Everything it
 * holds is made by that set-up, a handful of items.
 */
public final class UpstreamFixture implements AutoCloseable, AfterEachCallback, AfterAllCallback {

    private final List<MockWebServer> servers = new ArrayList<>();
    private final List<AutoCloseable> others = new ArrayList<>();
    private final List<Path> keyFiles = new ArrayList<>();
    private TestGateway gateway;

    /** A started server that answers in the order a test enqueues responses. */
    public MockWebServer server() throws IOException {
        return server(null);
    }

    /** A started server that answers with {@code dispatcher}, or in enqueue order when it is null. */
    public MockWebServer server(Dispatcher dispatcher) throws IOException {
        MockWebServer server = new MockWebServer();
        if (dispatcher != null) {
            server.setDispatcher(dispatcher);
        }
        server.start();
        servers.add(server);
        return server;
    }

    /** {@code closeable} (another kind of upstream) closed with the fixture, after the gateway. */
    public <T extends AutoCloseable> T own(T closeable) {
        others.add(closeable);
        return closeable;
    }

    /** A temporary file holding exactly {@code content}: a provider key for {@code ${file:...}}. */
    public Path keyFile(String prefix, String content) throws IOException {
        Path file = Files.createTempFile(prefix, ".key");
        keyFiles.add(file);
        Files.writeString(file, content);
        return file;
    }

    /** The server's root URL without its trailing slash: a provider's {@code baseUrl} where the path is the adapter's. */
    public static String root(MockWebServer server) {
        return server.url("/").toString().replaceAll("/$", "");
    }

    /** Starts the gateway with {@code gatewayYaml}. */
    public TestGateway gateway(String gatewayYaml) throws Exception {
        return gateway(gatewayYaml, Map.of());
    }

    /** Starts the gateway with {@code gatewayYaml} and these property overrides. */
    public TestGateway gateway(String gatewayYaml, Map<String, String> properties) throws Exception {
        gateway = TestGateway.start(gatewayYaml, properties);
        return gateway;
    }

    /** An OpenAI client of the gateway with the master key. */
    public OpenAIClient openai() {
        return gateway.openai(TestGateway.MASTER_KEY);
    }

    /** Forgets the requests every server has recorded and no test has taken. */
    public void drain() throws InterruptedException {
        boolean any = true;
        while (any) {
            any = false;
            for (MockWebServer s : servers) {
                any |= s.takeRequest(10, TimeUnit.MILLISECONDS) != null;
            }
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        drain();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        close();
    }

    @Override
    public void close() throws Exception {
        try {
            if (gateway != null) {
                gateway.close();
            }
        } finally {
            for (MockWebServer s : servers) {
                s.shutdown();
            }
            for (AutoCloseable c : others) {
                c.close();
            }
            for (Path f : keyFiles) {
                Files.deleteIfExists(f);
            }
        }
    }
}
