package dev.caravan;

import dev.caravan.core.Json;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.ConfigLoader;
import dev.caravan.policy.AfterCall;
import dev.caravan.policy.BeforeCall;
import dev.caravan.policy.PolicyChains;
import dev.caravan.policy.PolicyRegistry;
import dev.caravan.policy.budget.BudgetMeters;
import dev.caravan.policy.budget.BudgetPolicy;
import dev.caravan.policy.budget.BudgetRebuild;
import dev.caravan.policy.ledger.Ledger;
import dev.caravan.policy.ledger.LedgerSettings;
import dev.caravan.policy.counters.Counters;
import dev.caravan.policy.counters.DegradingCounters;
import dev.caravan.policy.counters.RedisCounters;
import dev.caravan.policy.counters.LocalCounters;
import dev.caravan.policy.limits.RateLimitPolicy;
import dev.caravan.policy.cache.CachePolicy;
import dev.caravan.policy.cache.LocalResponseStore;
import dev.caravan.policy.cache.DegradingResponseStore;
import dev.caravan.policy.cache.RedisResponseStore;
import dev.caravan.policy.cache.ResponseCache;
import dev.caravan.policy.cache.ResponseStore;
import dev.caravan.policy.cache.SemanticSide;
import dev.caravan.policy.cache.semantic.MiniLmEmbedder;
import dev.caravan.policy.cache.semantic.SemanticCache;
import dev.caravan.policy.cache.semantic.SemanticIndex;
import dev.caravan.policy.cache.semantic.SemanticShare;
import dev.caravan.admin.AdminApi;
import dev.caravan.admin.CacheAdmin;
import dev.caravan.policy.guardrail.GuardrailEvents;
import dev.caravan.policy.guardrail.GuardrailOutputPolicy;
import dev.caravan.policy.guardrail.GuardrailPolicy;
import dev.caravan.policy.guardrail.Guardrails;
import dev.caravan.policy.guardrail.injection.InjectionDetector;
import dev.caravan.config.ReloadWatcher;
import dev.caravan.config.StartFailure;
import dev.caravan.transport.http.Cors;
import dev.caravan.transport.http.ErrorRenderer;
import dev.caravan.transport.http.GatewayChannelHandlerFactory;
import dev.caravan.transport.http.GatewayHeaderFilter;
import dev.caravan.transport.http.Ingress;
import dev.caravan.transport.http.ListenerGuard;
import dev.caravan.transport.http.ListenerLimits;
import dev.caravan.transport.http.Responder;
import dev.caravan.transport.http.StreamRegistry;
import dev.caravan.observe.AccessLog;
import dev.caravan.observe.GatewayMetrics;
import dev.caravan.observe.Health;
import dev.caravan.observe.StreamFinisher;
import dev.caravan.provider.MockProvider;
import dev.caravan.provider.AnthropicProvider;
import dev.caravan.provider.GeminiProvider;
import dev.caravan.provider.OpenAiProvider;
import dev.caravan.provider.Providers;
import dev.caravan.routing.UpstreamCall;
import dev.caravan.provider.UpstreamClient;
import dev.caravan.usage.CostMeter;
import dev.caravan.usage.TokenCounter;
import dev.caravan.work.CpuPool;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import dev.caravan.routing.Attempts;
import dev.caravan.routing.DeploymentRegistry;
import dev.caravan.routing.DeploymentRoutes;
import dev.caravan.routing.ModelCatalog;
import dev.caravan.routing.ModelRouter;
import org.apache.camel.CamelContext;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;
import org.apache.camel.spi.Registry;
import org.apache.camel.support.LifecycleStrategySupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Boots Caravan on camel-main: loads and validates config/gateway.yaml, binds the beans the YAML routes call,
 * loads routes/ from the working directory and serves until SIGTERM. Nothing else lives here.
 */
public final class Caravan {

    private static final Logger LOG = LoggerFactory.getLogger(Caravan.class);

    /**
     * Where things are and what overrides the properties file.
     *
     * @param overrides camel-main and {@code caravan.*} properties that win over config/application.properties
     */
    public record Options(Path configFile, Path propertiesFile, Path routesDir, String masterKey, Properties overrides) {

        public static Options fromEnvironment() {
            Map<String, String> env = System.getenv();
            return new Options(
                    Path.of(env.getOrDefault("CARAVAN_CONFIG", "config/gateway.yaml")),
                    Path.of(env.getOrDefault("CARAVAN_PROPERTIES", "config/application.properties")),
                    Path.of(env.getOrDefault("CARAVAN_ROUTES", "routes")),
                    env.get("CARAVAN_MASTER_KEY"),
                    new Properties());
        }
    }

    /**
     * The policies config/gateway.yaml may name, one registration line each (docs/architecture.md, "Policies");
     * none is built in yet. Tests register their own on the same registry.
     */
    private static final PolicyRegistry POLICIES = PolicyRegistry.shared();

    /**
     * Cost control, the guardrails and the cache are built in: every chain holds these first, unless
     * {@code policies:} places them itself. The cache comes after the limits (a hit still counts against them, and is
     * charged nothing) and between the two guardrail halves: the input guardrail runs before the lookup (a blocked
     * prompt is never answered from the cache; a de-identified one is looked up by its de-identified form), and
     * the output guardrail's after-hook runs before the cache keeps an answer (it keeps only what passed). The audit
     * policy has only an end-hook (it records budget refusals), so its place beside the ledger costs nothing.
     */
    private static final java.util.List<String> BUILT_IN = java.util.List.of("ledger", "audit", "limits", "budget",
            "guardrail", "cache", "guardrail-output");

    /** Refuses a {@code policies:} name no policy is registered under, at start and on reload alike. */
    private static ConfigLoader configLoader() {
        return new ConfigLoader(System::getenv, name -> BUILT_IN.contains(name) || POLICIES.knows(name), BUILT_IN);
    }

    /** This gateway's policies: the built-ins bound to its own counters and ledger, over the shared registry. */
    private final PolicyRegistry policies = new PolicyRegistry(POLICIES);

    private final Options options;
    private final Main main = new Main();
    private final ConfigHolder config;
    private final MockProvider mock = new MockProvider();
    private final StreamRegistry streams = new StreamRegistry();
    private final Ingress ingress = new Ingress();
    private final GatewayMetrics metrics = new GatewayMetrics(streams);
    private ReloadWatcher watcher;
    private EventLoopGroup loops;
    private CpuPool cpu;
    private DeploymentRegistry deployments;
    private DeploymentRoutes deploymentRoutes;
    private dev.caravan.transport.bus.BusRoutes busRoutes;
    private dev.caravan.transport.bus.ReplyMemory busMemory;
    private Counters counters;
    private Ledger ledger;
    private LedgerSettings ledgerSettings;
    private dev.caravan.policy.ledger.LedgerDatabase database; // null with the ledger off
    private dev.caravan.dialect.openai.ResponseStore responses; // in that database, or in memory without one
    private dev.caravan.policy.audit.AuditLog auditLog = dev.caravan.policy.audit.AuditLog.OFF;
    private java.util.concurrent.ExecutorService adminPool;
    private dev.caravan.auth.KeyDirectory keyDirectory;       // null with the ledger off: no database to keep keys in
    private ResponseCache responseCache;

    public Caravan(Options options) throws Exception {
        this.options = options;
        // an invalid config at start is fatal: say why and exit, rather than serve something else
        this.config = new ConfigHolder(configLoader().load(options.configFile()));
    }

    public static void main(String[] args) {
        if (dev.caravan.cli.Commands.wanted(args)) {
            System.exit(dev.caravan.cli.Commands.fromCommandLine(args)); // --help, --version, key new|hash: no gateway
        }
        if (dev.caravan.policy.audit.AuditCommand.wanted(args)) {
            System.exit(dev.caravan.policy.audit.AuditCommand.fromCommandLine(args)); // audit verify: one line, no gateway
        }
        try {
            Caravan caravan = new Caravan(Options.fromEnvironment());
            caravan.configure();
            caravan.main.run(); // blocks until SIGTERM/SIGINT; shutdown drains open streams first
        } catch (Exception | LinkageError e) {
            // a config that cannot serve is fatal: one line that says what to fix, exit 2, rather than serve something else
            Optional<String> config = StartFailure.fromConfig(e);
            if (config.isPresent()) {
                LOG.error("Caravan cannot start: {}", config.get());
                System.exit(StartFailure.CONFIG_EXIT_CODE);
            } else if (StartFailure.isEnvironmental(e)) {
                LOG.error("Caravan cannot start: {}", StartFailure.other(e));
                System.exit(StartFailure.OTHER_EXIT_CODE);
            } else {
                LOG.error("Caravan cannot start: {}", StartFailure.other(e), e);
                System.exit(StartFailure.OTHER_EXIT_CODE);
            }
        }
    }

    /** Starts and returns once serving; for tests and embedding. */
    public void start() throws Exception {
        configure();
        main.start();
    }

    public void stop() throws Exception {
        main.stop();
    }

    public CamelContext context() {
        return main.getCamelContext();
    }

    public MockProvider mockProvider() {
        return mock;
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    public StreamRegistry streams() {
        return streams;
    }

    private void configure() {
        main.setPropertyPlaceholderLocations("file:" + options.propertiesFile() + ";optional=true");
        main.configure().withRoutesIncludePattern("file:" + options.routesDir() + "/*.camel.yaml");
        options.overrides().forEach((k, v) -> main.addOverrideProperty(k.toString(), v.toString()));
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void beforeConfigure(BaseMainSupport m) {
                CamelContext context = m.getCamelContext();
                bindBeans(context);
                context.addLifecycleStrategy(lifecycle(context));
            }

            @Override
            public void afterConfigure(BaseMainSupport m) {
                deploymentRoutes.sync(config.get()); // the template is loaded: stamp a route per deployment
                busRoutes.start(m.getCamelContext(), config.get().bus()); // and a route per configured bus
            }
        });
    }

    /**
     * Context lifecycle callbacks rather than main-listener ones, so SIGTERM (run) and stop() (tests, embedding)
     * behave alike. A lifecycle strategy, not an event notifier: with any notifier registered Camel builds and
     * dispatches exchange events at every step of every request.
     */
    private LifecycleStrategySupport lifecycle(CamelContext context) {
        return new LifecycleStrategySupport() {
            @Override
            public void onContextStarted(CamelContext c) {
                startWatcher(context);
                announce(context);
            }

            @Override
            public void onContextStopping(CamelContext c) {
                drain(context); // before any route stops: open streams finish, new requests get 503
            }

            @Override
            public void onContextStopped(CamelContext c) {
                // the last requests' access lines are on stdout before the process may exit
                dev.caravan.observe.BatchingStdoutAppender.awaitAllWritten(2000);
                if (loops != null) {
                    loops.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS);
                }
                if (cpu != null) {
                    cpu.close();
                }
                if (ledger != null) {
                    ledger.close(); // every row queued so far is written before the process may exit
                }
                if (responses != null) {
                    responses.close(); // so is every stored response
                }
                auditLog.close(); // so is every audit event
                if (adminPool != null) {
                    adminPool.shutdown();
                }
                if (keyDirectory != null) {
                    keyDirectory.close();
                }
                if (database != null) {
                    database.close();
                }
                if (counters != null) {
                    counters.close();
                }
                if (responseCache != null) {
                    responseCache.close();
                }
                if (busRoutes != null) {
                    busRoutes.close();
                }
                if (busMemory != null) {
                    busMemory.close();
                }
                closeGuardrails();
                metrics.close(); // its GC listener
                LOG.info("Caravan stopped");
            }
        };
    }

    /** Once serving: the one summary line, and a warning if no caller could get in. */
    private void announce(CamelContext context) {
        LOG.info(dev.caravan.cli.StartLines.summary(config.get(), property(context, "caravan.host", "0.0.0.0"),
                property(context, "caravan.port", "4000"), Boolean.parseBoolean(property(context, "caravan.reload", "true")),
                property(context, "caravan.managementHost", "127.0.0.1"), property(context, "caravan.managementPort", null)));
        dev.caravan.cli.StartLines.noKeyWarning(config.get(), options.masterKey()).ifPresent(LOG::warn);
    }

    /** A listener's port taken by another process stops the start here, in one line that names it. */
    private static void requireFreePorts(CamelContext context) {
        String host = property(context, "caravan.host", "0.0.0.0");
        dev.caravan.transport.http.PortCheck.requireFree(host, port(property(context, "caravan.port", "4000"), "caravan.port"),
                "caravan.port");
        String management = property(context, "caravan.managementPort", "");
        if (!management.isBlank()) {
            dev.caravan.transport.http.PortCheck.requireFree(property(context, "caravan.managementHost", "127.0.0.1"),
                    port(management, "caravan.managementPort"), "caravan.managementPort");
        }
    }

    private static int port(String value, String property) {
        try {
            int port = Integer.parseInt(value.trim());
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException(property + " must be a port number (0 to 65535), not '" + value.trim() + "'");
    }

    private void bindBeans(CamelContext context) {
        requireFreePorts(context);
        Thread warm = new Thread(TokenCounter::warm, "caravan-tokenizer-warm-up");
        warm.setDaemon(true);
        warm.start();
        Registry r = context.getRegistry();
        long maxBody = Long.parseLong(property(context, "caravan.maxBodyBytes", "33554432"));
        Duration keepAlive = ConfigLoader.parseDuration(property(context, "caravan.sseKeepAlive", "15s"));
        int ioThreads = Integer.parseInt(property(context, "caravan.ioThreads",
                Integer.toString(Runtime.getRuntime().availableProcessors())));
        // one set of event loops for the listener and the upstream client: a request stays on its loop end to end
        loops = new NioEventLoopGroup(ioThreads, new DefaultThreadFactory("caravan-io", true));
        UpstreamClient upstream = new UpstreamClient(loops,
                Long.parseLong(property(context, "caravan.maxUpstreamBodyBytes", Long.toString(UpstreamClient.DEFAULT_MAX_ANSWER_BYTES))));
        cpu = new CpuPool(Integer.parseInt(property(context, "caravan.cpuThreads", Integer.toString(Runtime.getRuntime().availableProcessors()))),
                Integer.parseInt(property(context, "caravan.cpuQueue", "64")), loops, metrics.registry());
        Providers providers = new Providers(Map.of(
                "openai", new OpenAiProvider(upstream, OpenAiProvider.Host.OPENAI),
                "azure", new OpenAiProvider(upstream, OpenAiProvider.Host.AZURE),
                "mistral", new OpenAiProvider(upstream, OpenAiProvider.Host.MISTRAL),
                "openai-compatible", new OpenAiProvider(upstream, OpenAiProvider.Host.COMPATIBLE),
                "anthropic", new AnthropicProvider(upstream),
                "gemini", new GeminiProvider(upstream),
                "mock", mock));
        r.bind("caravanLoops", loops);
        r.bind("gatewayConfig", config);
        r.bind("ingress", ingress);
        KeyAuthenticator authenticator = new KeyAuthenticator(config, options.masterKey());
        authenticator.tokens(new dev.caravan.auth.oidc.OidcTokens(config,
                ConfigLoader.parseDuration(property(context, "caravan.oidc.jwksRefreshInterval", "10s"))));
        r.bind("authenticator", authenticator);
        r.bind("authenticate", new dev.caravan.auth.AuthenticateStep(authenticator, dev.caravan.auth.Gate.CALLER));
        r.bind("authenticateObserver", new dev.caravan.auth.AuthenticateStep(authenticator, dev.caravan.auth.Gate.OBSERVER));
        r.bind("authenticateAdmin", new dev.caravan.auth.AuthenticateStep(authenticator, dev.caravan.auth.Gate.ADMIN));
        deployments = new DeploymentRegistry(metrics.registry());
        deployments.apply(config.get());
        ModelRouter router = new ModelRouter(config, deployments);
        r.bind("modelRouter", router);
        r.bind("attempts", new Attempts(config, router, deployments, metrics.registry()));
        deploymentRoutes = new DeploymentRoutes(context);
        config.onChange(next -> {
            deployments.apply(next);
            deploymentRoutes.sync(next);
        });
        r.bind("modelCatalog", new ModelCatalog(config));
        r.bind("upstreamCall", new UpstreamCall(providers, cpu));
        counters = counters(context);
        database = database(context);
        // /v1/responses answers kept for previous_response_id: in the database when there is one, else in memory
        responses = dev.caravan.responses.ResponseStores.open(database, k -> property(context, k, null), metrics.registry());
        r.bind("responder", new Responder(streams, keepAlive, responses));
        dev.caravan.transport.http.ResponsesDoor responsesDoor = new dev.caravan.transport.http.ResponsesDoor(ingress, responses);
        r.bind("responsesDoor", responsesDoor);
        r.bind("responsesParse", responsesDoor.parse());
        r.bind("responsesGet", responsesDoor.get());
        r.bind("responsesDelete", responsesDoor.delete());
        ledger = database == null ? Ledger.OFF : Ledger.open(database, ledgerSettings, metrics.registry());
        BudgetMeters budgetMeters = new BudgetMeters(metrics.registry());
        policies.register("ledger", (settings, gateway) -> ledger.policy());
        if (database != null) {
            auditLog = new dev.caravan.policy.audit.SqlAuditLog(database.dataSource(), () -> config.get().audit(), metrics.registry());
        }
        policies.register("audit", (settings, gateway) -> new dev.caravan.policy.audit.AuditPolicy(gateway, auditLog));
        policies.register("limits", (settings, gateway) -> new RateLimitPolicy(gateway, counters, metrics.registry()));
        policies.register("budget", (settings, gateway) -> new BudgetPolicy(gateway, counters, budgetMeters,
                ledger::windowOpened));
        // a restart loses no spend: each budget's open window comes back from the ledger (a reload may add budgets)
        BudgetRebuild.SpendHistory history = (kind, id, period, now) -> ledger.currentWindow(kind, id, period, now)
                .map(w -> new long[] {w.startMillis(), w.spentNanos()});
        BudgetRebuild.seed(config.get(), counters, history, budgetMeters);
        config.onChange(next -> BudgetRebuild.seed(next, counters, history, budgetMeters));
        responseCache = responseCache(context);
        dev.caravan.config.CacheConfig.Exact bounds = config.get().cache().exact();
        if (config.get().cache().semanticAnywhere()) {
            responseCache.prepareSemantic(); // the model loads off the request path, before the first lookup
        }
        config.onChange(next -> {
            if (next.cache().semanticAnywhere()) {
                responseCache.prepareSemantic();
            }
            dev.caravan.config.CacheConfig.Exact now = next.cache().exact();
            if (now.maxEntries() != bounds.maxEntries() || now.maxBytes() != bounds.maxBytes()) {
                LOG.info("cache.exact.maxEntries and maxBytes apply at the next start: the cache keeps {} entries and {} bytes at most",
                        bounds.maxEntries(), bounds.maxBytes());
            }
        });
        policies.register("cache", (settings, gateway) -> new CachePolicy(gateway.cache(), responseCache));
        GuardrailEvents guardrailEvents = new GuardrailEvents(metrics.registry());
        policies.register("guardrail", (settings, gateway) -> new GuardrailPolicy(guardrails(gateway, guardrailEvents)));
        policies.register("guardrail-output", (settings, gateway) ->
                new GuardrailOutputPolicy(guardrails(gateway, guardrailEvents)));
        r.bind("cacheAdmin", new CacheAdmin(responseCache));
        AdminApi admin = adminApi();
        r.bind("adminApi", admin);
        // admin endpoints: one registration line per group (docs/architecture.md, "Admin API")
        if (database != null) {
            keyDirectory = new dev.caravan.auth.KeyDirectory(database.dataSource(), config, (keyId, request) -> {
                auditLog.record(new dev.caravan.policy.audit.AuditEvent(System.currentTimeMillis(), keyId, null,
                        "key.revoked_use", "key:" + keyId, null, "failure", null,
                        Json.object().put("path", request.path()), null, null));
            });
            keyDirectory.start(redisUrl(context), property(context, "caravan.redisPrefix", "caravan:") + "keys");
            authenticator.keyUses(keyDirectory);
        }
        dev.caravan.admin.KeysEndpoints.register(admin, keyDirectory, auditLog, config);
        dev.caravan.admin.TeamsEndpoints.register(admin, keyDirectory, auditLog, config);
        dev.caravan.admin.ConfigEndpoints.register(admin, config, this::reloadConfigNow);
        dev.caravan.admin.SpendEndpoints.register(admin, database); // GET /admin/spend, /admin/requests
        new dev.caravan.admin.AuditEndpoints(auditLog).register(admin);
        dev.caravan.admin.OpenApiEndpoint.register(admin); // GET /admin/openapi.json

        PolicyChains chains = new PolicyChains(policies, config.get());
        config.onChange(chains::rebuild); // a block its policy refuses refuses the reload
        r.bind("policyChain", chains);
        r.bind("policyBefore", new BeforeCall(chains));
        r.bind("policyAfter", new AfterCall());
        Cors cors = new Cors(property(context, "caravan.cors.allowedOrigins", ""),
                Long.parseLong(property(context, "caravan.cors.maxAge", "600")));
        r.bind("cors", cors);
        r.bind("errorRenderer", new ErrorRenderer(cors));
        r.bind("metrics", metrics);
        r.bind("costMeter", new CostMeter());
        r.bind("metricsRegistry", metrics.registry());
        AccessLog accessLog = new AccessLog();
        r.bind("accessLog", accessLog);
        // X-Forwarded-For names the client only when the peer is one of these (IPs or CIDRs; empty: the peer)
        ingress.trustProxies(dev.caravan.transport.http.TrustedProxies.parse(property(context, "caravan.trustedProxies", "")));
        r.bind("streamFinisher", new StreamFinisher(context));
        bindBus(context, r);
        r.bind("health", new Health(context, config, ingress, deployments, busRoutes::status));
        r.bind("caravanHttp", new GatewayChannelHandlerFactory(maxBody, new dev.caravan.observe.DoorRefusals(metrics, accessLog)));
        r.bind("caravanGuard", new ListenerGuard(ListenerLimits.read(k -> property(context, k, null)),
                authenticator::knowsKey, metrics.registry()));
        Json.allowStringsUpTo(maxBody);
        r.bind("caravanHeaderFilter", new GatewayHeaderFilter());
    }

    /**
     * The message buses (routes/ingress-bus.camel.yaml): the door shared by every bus, its reply memory (in this
     * process, or in Redis with {@code CARAVAN_REDIS_URL} so a restarted or second gateway knows every reply), and
     * one adapter per bus, whose route is stamped at start when its block is configured.
     */
    private void bindBus(CamelContext context, Registry r) {
        dev.caravan.config.BusConfig bus = config.get().bus();
        dev.caravan.transport.bus.LocalReplyMemory local = new dev.caravan.transport.bus.LocalReplyMemory(bus.dedupMaxBytes(), bus.dedupTtl());
        busMemory = local;
        String redis = redisUrl(context);
        if (redis != null && bus.any()) {
            io.micrometer.core.instrument.Counter outages = io.micrometer.core.instrument.Counter
                    .builder("caravan_bus_memory_outages_total")
                    .description("calls to Redis by the bus reply memory that failed (this gateway's memory answered)")
                    .register(metrics.registry());
            busMemory = new dev.caravan.transport.bus.RedisReplyMemory(redis, property(context, "caravan.redisPrefix", "caravan:"),
                    bus.dedupTtl(), local, outages::increment);
        }
        r.bind("busStream", new dev.caravan.transport.bus.BusStream(loops));
        r.bind("busDoor", new dev.caravan.transport.bus.BusDoor(() -> config.get().bus(), busMemory, metrics.registry()));
        busRoutes = new dev.caravan.transport.bus.BusRoutes(java.util.List.of(
                new dev.caravan.transport.bus.JmsBus(),
                new dev.caravan.transport.bus.AmqpBus(),
                new dev.caravan.transport.bus.KafkaBus()
        ));
    }

    /**
     * The hot counters of limits and budgets: in this process, or in Redis when {@code CARAVAN_REDIS_URL} (or
     * {@code caravan.redisUrl}) names one, so every replica counts against the same numbers.
     */
    private Counters counters(CamelContext context) {
        String redis = redisUrl(context);
        if (redis == null) {
            return new LocalCounters();
        }
        // fail-open by default: with Redis gone each replica counts alone (logged, caravan_limits_degraded = 1)
        LOG.info("Limits and budgets are counted in Redis ({})", redactedUrl(redis));
        return new DegradingCounters(RedisCounters.connect(redis, property(context, "caravan.redisPrefix", null)),
                new LocalCounters(), metrics.registry(), () -> config.get().cost().failClosed());
    }

    /**
     * The spend ledger: H2 under {@code CARAVAN_DATA_DIR} ({@code data/}) by default, PostgreSQL with
     * {@code CARAVAN_DB_URL}; a database that cannot be opened stops the start (budgets could not be rebuilt).
     */
    private dev.caravan.policy.ledger.LedgerDatabase database(CamelContext context) {
        try {
            ledgerSettings = LedgerSettings.fromEnvironment(System::getenv, k -> property(context, k, null));
            return ledgerSettings.enabled() ? dev.caravan.policy.ledger.LedgerDatabase.open(ledgerSettings) : null;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new StartFailure.ServiceUnavailable("the spend ledger cannot be opened: " + e.getMessage());
        }
    }

    /**
     * The admin API under {@code /admin}: its endpoints run on two threads of their own (they use JDBC), with at
     * most 256 calls waiting; past that a call gets 503.
     */
    private AdminApi adminApi() {
        adminPool = twoThreads("caravan-admin", 256);
        return new AdminApi(adminPool);
    }

    private Guardrails guardrails;          // the last config's, so its two halves share one compile
    private InjectionDetector injection;    // rules only until a config turns the semantic detector on
    private MiniLmEmbedder injectionModel;  // the semantic detector's own model session, closed at shutdown
    private java.net.http.HttpClient webhooks;
    private java.util.concurrent.ExecutorService webhookPool;

    /**
     * The guardrail policies of {@code gateway}, compiled once for both halves. The semantic injection detector's
     * model loads here, the first time a config turns it on: at start, or on the reload thread, never on a request.
     */
    private synchronized Guardrails guardrails(dev.caravan.config.GatewayConfig gateway, GuardrailEvents events) {
        if (guardrails != null && guardrails.config() == gateway.guardrails()) {
            return guardrails;
        }
        boolean semantic = gateway.guardrails().policies().values().stream()
                .anyMatch(g -> !g.injection().input().equals("off") && g.injection().semantic());
        if (semantic && injectionModel == null) {
            long start = System.nanoTime();
            injectionModel = new MiniLmEmbedder(cpu);
            injectionModel.warm();
            injection = new InjectionDetector(injectionModel);
            // its exemplars are embedded by the first check: here, not on the first request
            injection.check(java.util.List.of("warm up the exemplars"), InjectionDetector.DEFAULT_THRESHOLD)
                    .toCompletableFuture().join();
            LOG.info("The semantic prompt-injection detector is ready ({} ms)", (System.nanoTime() - start) / 1_000_000);
        } else if (injection == null) {
            injection = new InjectionDetector(null);
        }
        if (webhooks == null) {
            // two threads for the webhooks' callbacks (they parse a small JSON answer); the queue is bounded by the
            // webhook calls in flight, which the connection cap bounds; idle threads end after 30 s
            webhookPool = twoThreads("caravan-guardrail-webhook", 100_000);
            webhooks = java.net.http.HttpClient.newBuilder().executor(webhookPool)
                    .connectTimeout(java.time.Duration.ofSeconds(2)).build();
        }
        guardrails = new Guardrails(gateway.guardrails(), injection, webhooks, events, this::classifier, cpu);
        return guardrails;
    }

    // an operator's ONNX injection classifiers by model and tokenizer path: bounded by the config that names them,
    // loaded once (at start or on the reload thread), closed at shutdown
    private final java.util.Map<String, dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier> classifiers =
            new java.util.HashMap<>();

    private synchronized dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier classifier(
            dev.caravan.config.GuardrailConfig.Classifier c) {
        return classifiers.computeIfAbsent(c.model() + '\u0000' + c.tokenizer() + '\u0000' + c.label(), k -> {
            var loaded = new dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier(java.nio.file.Path.of(c.model()),
                    java.nio.file.Path.of(c.tokenizer()), c.label(),
                    dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier.DEFAULT_MAX_TOKENS, cpu);
            LOG.info("The ONNX prompt-injection classifier {} is loaded", c.model());
            return loaded;
        });
    }

    private synchronized void closeGuardrails() {
        if (injectionModel != null) {
            injectionModel.close();
        }
        if (webhookPool != null) {
            webhookPool.shutdownNow();
        }
        classifiers.values().forEach(dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier::close);
    }

    /**
     * The response cache: answers in this process (Caffeine, bounded by {@code cache.exact.maxEntries} and
     * {@code maxBytes} as configured at start), or in Redis with {@code CARAVAN_REDIS_URL}, shared by every replica.
     */
    private ResponseCache responseCache(CamelContext context) {
        dev.caravan.config.CacheConfig.Exact exact = config.get().cache().exact();
        String redis = redisUrl(context);
        String prefix = property(context, "caravan.redisPrefix", null);
        ResponseStore store;
        if (redis == null) {
            // a cache that filled the heap would fail the requests it serves: at most a quarter of the maximum heap
            long heapShare = Runtime.getRuntime().maxMemory() / 4;
            long maxBytes = Math.min(exact.maxBytes(), heapShare);
            if (maxBytes < exact.maxBytes() && exact.enabled()) {
                LOG.info("cache.exact.maxBytes ({} MB) is more than a quarter of the heap: the cache holds {} MB at most; raise -Xmx to hold more",
                        exact.maxBytes() >> 20, maxBytes >> 20);
            }
            store = new LocalResponseStore(exact.maxEntries(), maxBytes);
        } else {
            // Redis down: every lookup is a miss and every store a no-op (counted); requests still succeed
            LOG.info("The response cache is shared in Redis ({})", redactedUrl(redis));
            store = new DegradingResponseStore(RedisResponseStore.connect(redis, prefix), metrics.registry());
        }
        return new ResponseCache(store, () -> semanticCache(redis, prefix), metrics.registry(), cpu);
    }

    /** {@code CARAVAN_REDIS_URL} (or {@code caravan.redisUrl}): the Redis replicas share, or null for none. */
    private static String redisUrl(CamelContext context) {
        String redis = property(context, "caravan.redisUrl", System.getenv("CARAVAN_REDIS_URL"));
        return redis == null || redis.isBlank() ? null : redis.trim();
    }

    /**
     * The semantic cache, made the first time a config turns it on (its model loads here, on the warm-up thread):
     * all-MiniLM-L6-v2 on the CPU pool and an index of {@code cache.semantic.maxEntries} as configured then; with
     * Redis, replicas hear each other's additions and clears.
     */
    private SemanticSide semanticCache(String redis, String prefix) {
        int configured = config.get().cache().semantic().maxEntries();
        // about 2 KB a prompt (a 384-float vector and the text): at most an eighth of the maximum heap
        int maxEntries = (int) Math.min(configured, Runtime.getRuntime().maxMemory() / 8 / 2048);
        if (maxEntries < configured) {
            LOG.info("cache.semantic.maxEntries ({}) needs more than an eighth of the heap: the index holds {} prompts at most; raise -Xmx to hold more",
                    configured, maxEntries);
        }
        MiniLmEmbedder embedder = new MiniLmEmbedder(cpu);
        embedder.warm();
        SemanticCache semantic = new SemanticCache(embedder, new SemanticIndex(maxEntries, java.time.Clock.systemUTC()), cpu);
        if (redis != null) {
            semantic.share(SemanticShare.connect(redis, prefix, maxEntries, semantic::heard, semantic::heardClear,
                    metrics.registry()));
        }
        LOG.info("The semantic cache is ready ({} prompts at most{})", maxEntries, redis == null ? "" : ", shared in Redis");
        return semantic;
    }

    /** A Redis URL as a log line may show it: without its password. */
    private static String redactedUrl(String url) {
        return url.replaceAll("//[^@/]*@", "//***@");
    }

    private void startWatcher(CamelContext context) {
        // made whether or not it watches: POST /admin/config/reload reloads through it
        watcher = new ReloadWatcher(context, config, configLoader(), options.configFile(), options.routesDir(), metrics::configReload,
                () -> deploymentRoutes.restamp(config.get()));
        watcher.onConfigReload(new dev.caravan.policy.audit.ConfigReloadAudit(auditLog));
        if (Boolean.parseBoolean(property(context, "caravan.reload", "true"))) {
            watcher.start();
        }
    }

    /** Two daemon threads named {@code name}, at most {@code queue} tasks waiting; idle threads end after 30 s. */
    private static java.util.concurrent.ThreadPoolExecutor twoThreads(String name, int queue) {
        java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(2, 2, 30,
                java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(queue), task -> {
            Thread t = new Thread(task, name);
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** {@code POST /admin/config/reload}: null when the file applied, else why not (the running config stays). */
    private String reloadConfigNow() {
        ReloadWatcher w = watcher;
        if (w == null) {
            return "the gateway is still starting";
        }
        String problem = null;
        try {
            configLoader().load(options.configFile());
        } catch (dev.caravan.config.ConfigException e) {
            problem = e.getMessage();
        }
        boolean applied = w.reloadConfig(); // counted, logged and shown in /health/ready like an edit
        return applied ? null : problem != null ? problem : "it could not be applied; the log says why";
    }

    private void drain(CamelContext context) {
        if (watcher != null) {
            watcher.stop();
        }
        ingress.startDraining();
        Duration grace = ConfigLoader.parseDuration(property(context, "caravan.shutdownGrace", "30s"));
        int open = streams.openStreams();
        if (open > 0) {
            LOG.info("Shutting down: waiting up to {} s for {} open stream(s)", grace.toSeconds(), open);
        }
        try {
            if (!streams.awaitDrained(grace)) {
                LOG.warn("Shutting down with {} stream(s) still open after the grace period", streams.openStreams());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String property(CamelContext context, String key, String fallback) {
        return context.getPropertiesComponent().resolveProperty(key).orElse(fallback);
    }
}
