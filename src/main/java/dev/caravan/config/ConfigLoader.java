package dev.caravan.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.caravan.config.ProviderConfig.MockSettings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads config/gateway.yaml into a {@link GatewayConfig}: JSON Schema first, then the checks a schema cannot
 * express (references between sections; each value read as the type and within the range it is used as, so that
 * nothing accepted here fails later), then secrets resolved from the environment or files. Whatever goes wrong
 * comes out as a {@link ConfigException}.
 */
public final class ConfigLoader {

    private static final Pattern SECRET = Pattern.compile("^\\$\\{(env|file):([^}]+)}$");
    private static final Pattern DURATION = Pattern.compile("^([0-9]+)(ms|s|m|h|d)$");
    /**
     * The schema's pattern for explicit deployment ids, which a default {@code <provider>-<model>} id must match too:
     * what is safe in a route id, a {@code direct:} URI, a header and a metric label ({@code ?} starts a query,
     * {@code {{} a property placeholder). {@code :}, {@code /} and {@code @} stay: Ollama, Hugging Face, Vertex names.
     */
    private static final Pattern ID = Pattern.compile("^[A-Za-z0-9._:/@+-]+$");
    private static final Pattern CONTROL = Pattern.compile("\\p{Cntrl}");

    // what the gateway can use; each bound keeps a value from failing (or wrapping) where it is used, later
    static final Duration MIN_TIMEOUT = Duration.ofMillis(1);
    static final Duration MAX_TIMEOUT = Duration.ofHours(1);       // timeout, streamIdleTimeout
    static final Duration MAX_MOCK_DELAY = Duration.ofHours(1);
    static final int MAX_WEIGHT = 1_000_000;                       // a sum of weights stays far from overflow
    static final int MAX_IN_FLIGHT = 1_000_000;
    static final double MAX_PRICE = 1_000_000;                     // USD per million tokens
    static final int MAX_RATE = 1_000_000_000;                     // requests or tokens per minute
    static final double MAX_BUDGET_USD = 1_000_000_000;            // in nano-dollars: 1e18, within a long
    static final long MAX_SECRET_FILE_BYTES = 65_536;
    static final long MAX_FILE_BYTES = 16L << 20;                  // the config file itself; read whole, in memory
    static final Duration MAX_CACHE_TTL = Duration.ofDays(30);
    static final int MAX_CACHE_ENTRIES = 100_000_000;
    static final int MAX_SEMANTIC_ENTRIES = 10_000_000;
    static final long MAX_CACHE_BYTES = 64L << 30;
    private static final Pattern BYTES = Pattern.compile("^([0-9]{1,12})\\s*(B|KB|MB|GB)$", Pattern.CASE_INSENSITIVE);

    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    private final JsonSchema schema;
    private final Function<String, String> env;
    private final java.util.function.Predicate<String> knownPolicy;
    private final List<String> implied;
    private PriceTable prices = PriceTable.shipped();

    public ConfigLoader() {
        this(System::getenv);
    }

    public ConfigLoader(Function<String, String> env) {
        this(env, name -> true);
    }

    /** @param knownPolicy whether a {@code policies:} name is registered (the policy registry) */
    public ConfigLoader(Function<String, String> env, java.util.function.Predicate<String> knownPolicy) {
        this(env, knownPolicy, List.of());
    }

    /**
     * @param implied policies every chain holds, in this order before the listed ones, unless {@code policies:}
     *                places them itself (the built-in cost control: ledger, limits, budget)
     */
    public ConfigLoader(Function<String, String> env, java.util.function.Predicate<String> knownPolicy, List<String> implied) {
        this.env = env;
        this.knownPolicy = knownPolicy;
        this.implied = List.copyOf(implied);
        try (InputStream in = ConfigLoader.class.getResourceAsStream("/caravan/gateway.schema.json")) {
            if (in == null) {
                throw new IllegalStateException("gateway.schema.json is missing from the classpath");
            }
            schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public GatewayConfig load(Path file) throws ConfigException {
        String text;
        try {
            if (Files.exists(file) && (!Files.isRegularFile(file) || Files.size(file) > MAX_FILE_BYTES)) {
                throw new ConfigException(file.toString(), List.of("not a regular file of at most " + MAX_FILE_BYTES + " bytes"));
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), List.of("cannot read file: " + e.getMessage()));
        }
        // prices.yaml beside gateway.yaml replaces the shipped table; read on each load, so edits apply on reload
        Path beside = file.toAbsolutePath().resolveSibling(PriceTable.FILE_NAME);
        prices = Files.isRegularFile(beside) ? PriceTable.load(beside) : PriceTable.shipped();
        return parse(file.toString(), text);
    }

    public GatewayConfig parse(String source, String text) throws ConfigException {
        try {
            return check(source, text);
        } catch (RuntimeException e) {
            // a check this class lacks: still a refused file (one line, no stack trace), never a crash of the caller
            throw new ConfigException(source, List.of("cannot be used (" + e.getClass().getSimpleName() + ": "
                    + firstLine(e.getMessage()) + ")"));
        }
    }

    private GatewayConfig check(String source, String text) throws ConfigException {
        JsonNode root;
        try {
            root = yaml.readTree(text);
        } catch (IOException e) {
            throw new ConfigException(source, List.of(yamlProblem(e)));
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(source, List.of("the file must hold a YAML mapping with providers and models"));
        }
        Set<ValidationMessage> violations = schema.validate(root);
        if (!violations.isEmpty()) {
            throw new ConfigException(source, violations.stream().map(ConfigLoader::readable).sorted().toList());
        }
        List<String> problems = new ArrayList<>();
        GatewayConfig config = build(root, problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return config.withDocument(root);
    }

    /** A YAML syntax error as an operator reads it: where (line and column, from 1) and what. */
    private static String yamlProblem(IOException e) {
        if (e.getCause() instanceof org.yaml.snakeyaml.error.MarkedYAMLException y && y.getProblemMark() != null
                && y.getProblem() != null) {
            // SnakeYAML's own words for what is wrong, at the place it found it (its marks count from 0)
            return "not valid YAML at line " + (y.getProblemMark().getLine() + 1) + ", column "
                    + (y.getProblemMark().getColumn() + 1) + ": " + firstLine(y.getProblem())
                    + (y.getContext() == null ? "" : " (" + firstLine(y.getContext()) + ")");
        }
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException p && p.getLocation() != null
                && p.getLocation().getLineNr() > 0) {
            return "not valid YAML at line " + p.getLocation().getLineNr() + ", column " + p.getLocation().getColumnNr()
                    + ": " + firstLine(p.getOriginalMessage());
        }
        return "not valid YAML: " + firstLine(e.getMessage());
    }

    /**
     * A schema violation in words rather than the schema's text: a literal secret (where {@code $defs/secret} wants
     * a reference) says what to write instead of quoting the regex.
     */
    private static String readable(ValidationMessage m) {
        if ("pattern".equals(m.getType()) && String.valueOf(m.getSchemaLocation()).contains("$defs/secret")) {
            return m.getInstanceLocation() + ": literal secrets are refused; write ${env:NAME}";
        }
        return m.getMessage();
    }

    private GatewayConfig build(JsonNode root, List<String> problems) {
        FieldReader read = new FieldReader(problems);
        Map<String, ProviderConfig> providers = new LinkedHashMap<>();
        root.get("providers").fields().forEachRemaining(e -> providers.put(e.getKey(), provider(e.getKey(), e.getValue(), read)));
        RoutingSettings global = RoutingSettings.DEFAULT.with(root.get("routing"), "routing", read);

        Map<String, ModelConfig> models = new LinkedHashMap<>();
        Map<String, DeploymentConfig> deploymentsById = new HashMap<>();
        int modelIndex = 0;
        for (JsonNode m : root.get("models")) {
            String path = "models[" + modelIndex++ + "]";
            String name = m.get("name").asText();
            RoutingSettings routing = global.with(m, path, read);
            List<DeploymentConfig> deployments = new ArrayList<>();
            int deploymentIndex = 0;
            for (JsonNode d : m.get("deployments")) {
                String at = path + ".deployments[" + deploymentIndex++ + "]";
                String providerName = d.get("provider").asText();
                ProviderConfig provider = providers.get(providerName);
                if (provider == null) {
                    problems.add("models." + name + ": provider '" + providerName + "' is not defined under providers");
                    continue;
                }
                String upstreamModel = d.get("model").asText();
                if (CONTROL.matcher(upstreamModel).find()) {
                    read.problem(at + ".model", "must not contain control characters (line breaks, tabs)");
                    continue;
                }
                String id;
                if (d.hasNonNull("id")) {
                    id = d.get("id").asText();
                } else {
                    id = providerName + "-" + upstreamModel;
                    if (!ID.matcher(id).matches()) {
                        // the id names a route and its direct: endpoint; '?', '/' or a space there breaks both
                        read.problem(at + ".model", "the default deployment id " + FieldReader.quote(id)
                                + " (<provider>-<model>) may only hold letters, digits and . _ - : / @ +; give the deployment an explicit id");
                        continue;
                    }
                }
                JsonNode price = d.get("price");
                DeploymentConfig deployment = new DeploymentConfig(id, provider, upstreamModel,
                        read.integer(d, at, "weight", 1, 0, MAX_WEIGHT),
                        read.integer(d, at, "maxInFlight", 0, 0, MAX_IN_FLIGHT),
                        price == null ? prices.priceOf(upstreamModel) : price(price, at + ".price", "config", read),
                        routing.breaker(), d.hasNonNull("region") ? d.get("region").asText() : null);
                DeploymentConfig same = deploymentsById.putIfAbsent(id, deployment);
                if (same != null && !same.sameAs(deployment)) {
                    problems.add("models." + name + ": deployment id '" + id + "' is used for two different deployments");
                }
                // models that list the same id share one deployment: its first definition
                deployments.add(same != null ? same : deployment);
            }
            Duration timeout = read.duration(m, path, "timeout", ModelConfig.DEFAULT_TIMEOUT, MIN_TIMEOUT, MAX_TIMEOUT);
            Duration idle = read.duration(m, path, "streamIdleTimeout", ModelConfig.DEFAULT_STREAM_IDLE_TIMEOUT,
                    MIN_TIMEOUT, MAX_TIMEOUT);
            ModelConfig model = new ModelConfig(name, deployments, timeout, idle, routing,
                    texts(m.get("fallbacks")), texts(m.get("contextWindowFallbacks")), limits(m, path, read));
            if (models.put(name, model) != null) {
                problems.add("models: the name '" + name + "' is defined twice");
            }
        }
        for (ModelConfig model : models.values()) {
            for (String fallback : concat(model.fallbacks(), model.contextWindowFallbacks())) {
                if (!models.containsKey(fallback)) {
                    problems.add("models." + model.name() + ": fallback model '" + fallback + "' is not defined under models");
                } else if (fallback.equals(model.name())) {
                    problems.add("models." + model.name() + ": a model cannot be its own fallback");
                }
            }
        }

        Map<String, TeamConfig> teams = new LinkedHashMap<>();
        root.path("teams").fields().forEachRemaining(e -> {
            String at = "teams." + e.getKey();
            JsonNode t = e.getValue();
            Set<String> allowed = t.has("models") ? new TreeSet<>(texts(t.get("models"))) : null;
            if (allowed != null) {
                allowed.stream().filter(m -> !models.containsKey(m)).forEach(m ->
                        problems.add(at + ".models: model '" + m + "' is not defined under models"));
            }
            teams.put(e.getKey(), new TeamConfig(e.getKey(), limits(t, at, read), budget(t, at, read), allowed,
                    regions(t), KeyConfig.CONFIG));
        });

        Map<String, KeyConfig> keys = new HashMap<>();
        Set<String> keyIds = new HashSet<>();
        int keyIndex = 0;
        for (JsonNode k : root.path("keys")) {
            String id = k.get("id").asText();
            String at = "keys[" + keyIndex++ + "]";
            String team = k.hasNonNull("team") ? k.get("team").asText() : null;
            if (team != null && !teams.containsKey(team)) {
                problems.add(at + ".team: team '" + team + "' is not defined under teams");
            }
            Set<String> allowed = new TreeSet<>();
            k.path("models").forEach(n -> allowed.add(n.asText()));
            for (String model : allowed) {
                if (!models.containsKey(model)) {
                    problems.add("keys." + id + ": model '" + model + "' is not defined under models");
                }
            }
            Map<String, String> metadata = new java.util.TreeMap<>();
            k.path("metadata").fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
            KeyConfig key = new KeyConfig(id, k.get("sha256").asText(), k.path("role").asText("user"),
                    team, k.has("models") ? allowed : null, limits(k, at, read), budget(k, at, read),
                    expiry(k, at, read), regions(k), metadata, KeyConfig.CONFIG, null);
            if (!keyIds.add(id)) {
                problems.add("keys: the id '" + id + "' is used twice");
            }
            if (keys.put(key.sha256(), key) != null) {
                problems.add("keys." + id + ": the same key hash is configured twice");
            }
        }
        JsonNode limits = root.path("limits");
        CostSettings cost = new CostSettings(limits.path("failClosed").asBoolean(false),
                read.integer(limits, "limits", "defaultMaxTokens", (int) CostSettings.DEFAULT_MAX_TOKENS, 1, 10_000_000),
                root.path("metrics").path("keyLabels").asBoolean(false));
        return new GatewayConfig(providers, models, keys, policies(root, models, keys, problems), teams, cost,
                cache(root, read), guardrails(root, read), auth(root, teams, read), audit(root, read), bus(root, read),
                null);
    }

    /** A team's or key's {@code regions: [eu]}; absent: null (any region). */
    private static Set<String> regions(JsonNode owner) {
        return owner.has("regions") ? new TreeSet<>(texts(owner.get("regions"))) : null;
    }

    /** {@code auth: { oidc: {...} | [...] }}: the trusted token issuers. */
    private static AuthConfig auth(JsonNode root, Map<String, TeamConfig> teams, FieldReader read) {
        JsonNode oidc = root.path("auth").path("oidc");
        if (oidc.isMissingNode() || oidc.isNull()) {
            return AuthConfig.NONE;
        }
        List<JsonNode> entries = new ArrayList<>();
        if (oidc.isArray()) {
            oidc.forEach(entries::add);
        } else {
            entries.add(oidc);
        }
        List<AuthConfig.Oidc> issuers = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < entries.size(); i++) {
            JsonNode o = entries.get(i);
            String at = oidc.isArray() ? "auth.oidc[" + i + "]" : "auth.oidc";
            String issuer = o.get("issuer").asText();
            if (!seen.add(issuer)) {
                read.problem(at + ".issuer", FieldReader.quote(issuer) + " is configured twice");
            }
            List<String> audiences = o.get("audience").isArray() ? texts(o.get("audience")) : List.of(o.get("audience").asText());
            URI jwks = null;
            if (o.hasNonNull("jwksUrl")) {
                jwks = baseUrl(at + ".jwksUrl", o.get("jwksUrl").asText(), read);
            } else {
                baseUrl(at + ".issuer", issuer, read); // discovery reads <issuer>/.well-known/openid-configuration
            }
            JsonNode claims = o.path("claims");
            JsonNode defaults = o.path("defaults");
            String defaultTeam = defaults.hasNonNull("team") ? defaults.get("team").asText() : null;
            if (defaultTeam != null && !teams.containsKey(defaultTeam)) {
                read.problem(at + ".defaults.team", "team " + FieldReader.quote(defaultTeam) + " is not defined under teams");
            }
            Duration leeway = read.duration(o, at, "leeway", AuthConfig.Oidc.DEFAULT_LEEWAY, Duration.ZERO, Duration.ofHours(1));
            issuers.add(new AuthConfig.Oidc(issuer, audiences, jwks, claims.hasNonNull("team") ? claims.get("team").asText() : null,
                    claims.hasNonNull("role") ? claims.get("role").asText() : null,
                    claims.hasNonNull("subject") ? claims.get("subject").asText() : null, defaultTeam,
                    defaults.hasNonNull("role") ? defaults.get("role").asText() : null, leeway));
        }
        return new AuthConfig(issuers);
    }

    /** {@code bus: { jms, amqp, kafka, maxInFlight, redeliveries, dedupTtl, dedupMaxMegabytes }}. */
    private BusConfig bus(JsonNode root, FieldReader read) {
        JsonNode b = root.path("bus");
        if (b.isMissingNode() || b.isNull()) {
            return BusConfig.NONE;
        }
        BusConfig.Jms jms = null;
        if (b.hasNonNull("jms")) {
            JsonNode j = b.get("jms");
            jms = new BusConfig.Jms(j.get("url").asText(), text(j, "username", null),
                    j.hasNonNull("password") ? secret("bus.jms.password", j.get("password").asText(), read) : null,
                    text(j, "requestQueue", BusConfig.DEFAULT_REQUESTS), text(j, "deadLetterQueue", BusConfig.DEFAULT_DEAD_LETTERS),
                    read.integer(j, "bus.jms", "concurrency", 8, 1, 256));
            if (jms.requestQueue().equals(jms.deadLetterQueue())) {
                read.problem("bus.jms.deadLetterQueue", "must differ from requestQueue");
            }
        }
        BusConfig.Amqp amqp = null;
        if (b.hasNonNull("amqp")) {
            JsonNode a = b.get("amqp");
            // no username or password: the URL's user info, else the client's own default (guest)
            amqp = new BusConfig.Amqp(text(a, "url", "amqp://localhost:5672"), text(a, "username", null),
                    a.hasNonNull("password") ? secret("bus.amqp.password", a.get("password").asText(), read) : null,
                    text(a, "requestQueue", BusConfig.DEFAULT_REQUESTS), text(a, "deadLetterQueue", BusConfig.DEFAULT_DEAD_LETTERS),
                    read.integer(a, "bus.amqp", "concurrency", 8, 1, 256));
            if (amqp.requestQueue().equals(amqp.deadLetterQueue())) {
                read.problem("bus.amqp.deadLetterQueue", "must differ from requestQueue");
            }
        }
        BusConfig.Kafka kafka = null;
        if (b.hasNonNull("kafka")) {
            JsonNode k = b.get("kafka");
            kafka = new BusConfig.Kafka(k.get("bootstrap").asText(), text(k, "requestTopic", BusConfig.DEFAULT_REQUESTS),
                    text(k, "replyTopic", BusConfig.DEFAULT_REPLIES), text(k, "deadLetterTopic", BusConfig.DEFAULT_DEAD_LETTERS),
                    text(k, "groupId", "caravan"), read.integer(k, "bus.kafka", "concurrency", 1, 1, 64),
                    kafkaClient(k.path("client"), read));
            if (kafka.requestTopic().equals(kafka.replyTopic()) || kafka.requestTopic().equals(kafka.deadLetterTopic())) {
                read.problem("bus.kafka.requestTopic", "must differ from replyTopic and deadLetterTopic");
            }
        }
        return new BusConfig(jms, amqp, kafka,
                read.integer(b, "bus", "maxInFlight", BusConfig.DEFAULT_MAX_IN_FLIGHT, 1, 10_000),
                read.integer(b, "bus", "redeliveries", BusConfig.DEFAULT_REDELIVERIES, 0, 100),
                read.duration(b, "bus", "dedupTtl", BusConfig.DEFAULT_DEDUP_TTL, Duration.ofMinutes(1), Duration.ofDays(30)),
                read.integer(b, "bus", "dedupMaxMegabytes", BusConfig.DEFAULT_DEDUP_MAX_MEGABYTES, 1, 16_384) * 1024L * 1024L);
    }

    /** What Caravan sets on its Kafka clients itself: a {@code bus.kafka.client} entry may not change it. */
    private static final java.util.Set<String> KAFKA_OWN = java.util.Set.of("bootstrap.servers", "group.id",
            "key.deserializer", "value.deserializer", "key.serializer", "value.serializer", "enable.auto.commit",
            "auto.offset.reset", "isolation.level", "acks", "max.poll.records", "max.poll.interval.ms");

    /**
     * {@code bus.kafka.client}: Kafka client settings, as Kafka spells them; the schema makes a password, a JAAS
     * config, a secret or a token a {@code ${env:...}} or {@code ${file:...}} reference, resolved here.
     */
    private Map<String, String> kafkaClient(JsonNode client, FieldReader read) {
        Map<String, String> settings = new java.util.LinkedHashMap<>();
        client.fields().forEachRemaining(e -> {
            String where = "bus.kafka.client." + e.getKey();
            if (KAFKA_OWN.contains(e.getKey())) {
                read.problem(where, "is set by Caravan (bus.kafka and caravan.bus.kafka.* in application.properties)");
                return;
            }
            String value = e.getValue().asText();
            String resolved = SECRET.matcher(value).matches() ? secret(where, value, read) : value;
            if (resolved != null) {
                settings.put(e.getKey(), resolved);
            }
        });
        return settings;
    }

    private static String text(JsonNode parent, String field, String fallback) {
        return parent.hasNonNull(field) ? parent.get(field).asText() : fallback;
    }

    /** {@code audit: { sink, file }}. */
    private static AuditConfig audit(JsonNode root, FieldReader read) {
        JsonNode a = root.path("audit");
        if (a.isMissingNode() || a.isNull()) {
            return AuditConfig.NONE;
        }
        String sink = a.path("sink").asText("none");
        java.nio.file.Path file = a.hasNonNull("file") ? java.nio.file.Path.of(a.get("file").asText()) : null;
        if (sink.equals("file") && file == null) {
            read.problem("audit.file", "is required with sink: file");
        }
        if (!sink.equals("file") && file != null) {
            read.problem("audit.file", "is only read with sink: file");
        }
        return new AuditConfig(sink, file);
    }

    /** {@code guardrails:} and the teams' and keys' {@code guardrails:} choices (each naming a defined policy). */
    private GuardrailConfig guardrails(JsonNode root, FieldReader read) {
        JsonNode g = root.path("guardrails");
        Set<String> allowAll = new TreeSet<>(texts(g.path("allow")));
        Map<String, GuardrailConfig.Guard> policies = new HashMap<>();
        g.path("policies").fields().forEachRemaining(e -> policies.put(e.getKey(),
                guard(e.getKey(), e.getValue(), allowAll, read)));
        String defaultPolicy = guardChoice(g, "guardrails", policies, read);
        Map<String, String> byTeam = new HashMap<>();
        root.path("teams").fields().forEachRemaining(t -> {
            String choice = guardChoice(t.getValue(), "teams." + t.getKey(), policies, read);
            if (choice != null) {
                byTeam.put(t.getKey(), choice);
            }
        });
        Map<String, String> byKey = new HashMap<>();
        int i = 0;
        for (JsonNode k : root.path("keys")) {
            String choice = guardChoice(k, "keys[" + i++ + "]", policies, read);
            if (choice != null) {
                byKey.put(k.get("id").asText(), choice);
            }
        }
        return new GuardrailConfig(defaultPolicy == null || defaultPolicy.isEmpty() ? null : defaultPolicy,
                policies, byTeam, byKey);
    }

    /** A {@code default:} or {@code guardrails:} choice: a defined policy's name, "" for none, null when absent. */
    private static String guardChoice(JsonNode parent, String path, Map<String, GuardrailConfig.Guard> policies,
                                      FieldReader read) {
        String field = path.equals("guardrails") ? "default" : "guardrails";
        JsonNode n = parent.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        String name = n.asText().trim();
        if (n.isBoolean() && !n.asBoolean() || name.equalsIgnoreCase("off") || name.equalsIgnoreCase("none")) {
            return "";
        }
        if (!policies.containsKey(name)) {
            read.problem(FieldReader.at(path, field), "no guardrail policy is named " + FieldReader.quote(name)
                    + (policies.isEmpty() ? " (guardrails.policies defines none)"
                    : " (defined: " + String.join(", ", new TreeSet<>(policies.keySet())) + ")"));
            return null;
        }
        return name;
    }

    private GuardrailConfig.Guard guard(String name, JsonNode g, Set<String> allowAll, FieldReader read) {
        String at = "guardrails.policies." + name;
        GuardrailConfig.Pii pii = GuardrailConfig.Pii.OFF;
        if (g.has("pii")) {
            JsonNode p = g.get("pii");
            Set<String> entities = p.has("entities") ? new TreeSet<>(texts(p.get("entities")))
                    : Set.of("email", "phone", "card", "iban", "ssn", "ip", "secret");
            Set<String> allow = new TreeSet<>(allowAll);
            allow.addAll(texts(p.path("allow")));
            String input = action(p.get("input"), "redact");
            String output = action(p.get("output"), "off");
            if (output.equals("deidentify")) {
                read.problem(at + ".pii.output", "deidentify applies to the input (the answer gets the originals back); "
                        + "the output takes redact, mask, block, alert or off");
            }
            pii = new GuardrailConfig.Pii(entities, input, output, allow, p.path("phoneRegion").asText("US")
                    .toUpperCase(Locale.ROOT));
        }
        GuardrailConfig.Injection injection = GuardrailConfig.Injection.OFF;
        if (g.has("injection")) {
            JsonNode j = g.get("injection");
            Double threshold = j.has("threshold") ? read.number(j, at + ".injection", "threshold", 0.5, 0, 1) : null;
            GuardrailConfig.Classifier classifier = null;
            if (j.has("classifier")) {
                JsonNode c = j.get("classifier");
                String model = c.path("model").asText();
                String tokenizer = c.path("tokenizer").asText();
                for (String[] file : new String[][]{{"model", model}, {"tokenizer", tokenizer}}) {
                    if (!readable(file[1])) {
                        read.problem(at + ".injection.classifier." + file[0], "the file " + file[1] + " cannot be read");
                    }
                }
                classifier = new GuardrailConfig.Classifier(model, tokenizer,
                        read.number(c, at + ".injection.classifier", "threshold", 0.5, 0, 1),
                        read.integer(c, at + ".injection.classifier", "label", 1, 0, 1000));
            }
            injection = new GuardrailConfig.Injection(action(j.get("input"), "block"), threshold,
                    j.path("semantic").asBoolean(true), classifier);
        }
        List<String> deny = new ArrayList<>();
        int i = 0;
        for (JsonNode d : g.path("deny")) {
            String where = at + ".deny[" + i++ + "]";
            try {
                java.util.regex.Pattern.compile(d.asText());
                deny.add(d.asText());
            } catch (java.util.regex.PatternSyntaxException e) {
                // the pattern is the operator's own, not a secret: naming what is wrong in it helps
                read.problem(where, "is not a valid regular expression: " + e.getDescription() + " at index " + e.getIndex());
            }
        }
        GuardrailConfig.Webhook webhook = null;
        if (g.has("webhook")) {
            JsonNode w = g.get("webhook");
            URI url = baseUrl(at + ".webhook.url", w.path("url").asText(), read);
            Map<String, String> headers = new HashMap<>();
            w.path("headers").fields().forEachRemaining(h -> {
                String value = secret(at + ".webhook.headers." + h.getKey(), h.getValue().asText(), read);
                if (value != null) {
                    headers.put(h.getKey(), value);
                }
            });
            webhook = new GuardrailConfig.Webhook(url,
                    read.duration(w, at + ".webhook", "timeout", Duration.ofMillis(300), Duration.ofMillis(1), MAX_TIMEOUT),
                    w.path("onError").asText("block"), headers);
        }
        return new GuardrailConfig.Guard(name, pii, injection, deny, webhook);
    }

    /** An action as written; YAML's bare {@code off} is false. */
    private static String action(JsonNode n, String fallback) {
        if (n == null || n.isNull()) {
            return fallback;
        }
        return n.isBoolean() && !n.asBoolean() ? "off" : n.asText().trim().toLowerCase(Locale.ROOT);
    }

    /** {@code cache:} at the top, and the models', teams' and keys' own {@code cache:} switches. */
    private static CacheConfig cache(JsonNode root, FieldReader read) {
        JsonNode c = root.path("cache");
        JsonNode e = c.path("exact");
        CacheConfig.Exact ed = CacheConfig.Exact.DEFAULT;
        // a cache: block turns the exact cache on; without one it is off (CacheConfig.DEFAULT)
        CacheConfig.Exact exact = new CacheConfig.Exact(e.path("enabled").asBoolean(c.isObject()),
                read.duration(e, "cache.exact", "ttl", ed.ttl(), Duration.ofSeconds(1), MAX_CACHE_TTL),
                read.integer(e, "cache.exact", "maxEntries", (int) ed.maxEntries(), 1, MAX_CACHE_ENTRIES),
                bytes(e, "cache.exact", "maxBytes", ed.maxBytes(), read));
        JsonNode s = c.path("semantic");
        CacheConfig.Semantic sd = CacheConfig.Semantic.DEFAULT;
        CacheConfig.Semantic semantic = new CacheConfig.Semantic(s.path("enabled").asBoolean(sd.enabled()),
                read.number(s, "cache.semantic", "threshold", sd.threshold(), 0.5, 1.0),
                read.duration(s, "cache.semantic", "ttl", sd.ttl(), Duration.ofSeconds(1), MAX_CACHE_TTL),
                read.integer(s, "cache.semantic", "maxEntries", sd.maxEntries(), 1, MAX_SEMANTIC_ENTRIES),
                read.integer(s, "cache.semantic", "maxMessages", sd.maxMessages(), 1, 64),
                read.number(s, "cache.semantic", "maxTemperature", sd.maxTemperature(), 0, 2));
        JsonNode k = c.path("coalesce");
        CacheConfig.Coalesce kd = CacheConfig.Coalesce.DEFAULT;
        CacheConfig.Coalesce coalesce = new CacheConfig.Coalesce(k.path("enabled").asBoolean(kd.enabled()),
                read.duration(k, "cache.coalesce", "timeout", kd.timeout(), Duration.ofMillis(1), MAX_TIMEOUT),
                read.integer(k, "cache.coalesce", "maxFollowers", kd.maxFollowers(), 1, 100_000),
                read.integer(k, "cache.coalesce", "maxKeys", kd.maxKeys(), 1, 1_000_000));
        Map<String, CacheConfig.Switch> byModel = new HashMap<>();
        int i = 0;
        for (JsonNode m : root.get("models")) {
            cacheSwitch(m, "models[" + i++ + "]", read).ifPresent(sw -> byModel.put(m.get("name").asText(), sw));
        }
        Map<String, CacheConfig.Switch> byTeam = new HashMap<>();
        Set<String> shared = new HashSet<>();
        root.path("teams").fields().forEachRemaining(t -> {
            cacheSwitch(t.getValue(), "teams." + t.getKey(), read).ifPresent(sw -> byTeam.put(t.getKey(), sw));
            if (t.getValue().path("cache").path("shared").asBoolean(false)) {
                shared.add(t.getKey());
            }
        });
        Map<String, CacheConfig.Switch> byKey = new HashMap<>();
        i = 0;
        for (JsonNode key : root.path("keys")) {
            cacheSwitch(key, "keys[" + i++ + "]", read).ifPresent(sw -> byKey.put(key.get("id").asText(), sw));
        }
        return new CacheConfig(exact, semantic, c.path("cacheToolCalls").asBoolean(false), coalesce, byModel, byTeam,
                byKey, shared);
    }

    /** An owner's {@code cache: { exact: true | false | { enabled, ttl }, semantic: true | false | { enabled } }}. */
    private static java.util.Optional<CacheConfig.Switch> cacheSwitch(JsonNode owner, String path, FieldReader read) {
        JsonNode c = owner.get("cache");
        if (c == null || !c.isObject()) {
            return java.util.Optional.empty();
        }
        JsonNode e = c.get("exact");
        JsonNode s = c.get("semantic");
        Boolean exact = switchValue(e);
        Duration ttl = e != null && e.isObject() && e.has("ttl")
                ? read.duration(e, path + ".cache.exact", "ttl", null, Duration.ofSeconds(1), MAX_CACHE_TTL) : null;
        Boolean semantic = switchValue(s);
        CacheConfig.Switch sw = new CacheConfig.Switch(exact, semantic, ttl);
        return sw.equals(CacheConfig.Switch.NONE) ? java.util.Optional.empty() : java.util.Optional.of(sw);
    }

    /** {@code true}, {@code false}, or {@code { enabled: ... }}; null when it says nothing. */
    private static Boolean switchValue(JsonNode value) {
        if (value == null) {
            return null;
        }
        if (value.isBoolean()) {
            return value.asBoolean();
        }
        return value.has("enabled") ? Boolean.valueOf(value.get("enabled").asBoolean()) : null;
    }

    /** {@code 256MB}, {@code 64KB}, {@code 1GB} or a plain number of bytes. */
    private static long bytes(JsonNode parent, String path, String field, long fallback, FieldReader read) {
        String at = path + "." + field;
        JsonNode n = parent.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (n.isIntegralNumber()) {
            long v = n.asLong();
            if (v < 1 || v > MAX_CACHE_BYTES) {
                read.problem(at, "must be between 1 and " + MAX_CACHE_BYTES + " bytes");
            }
            return v;
        }
        Matcher m = BYTES.matcher(n.asText().trim());
        if (!m.matches()) {
            read.problem(at, FieldReader.quote(n.asText()) + " is not a size (e.g. 256MB, 64KB, 1GB)");
            return fallback;
        }
        long unit = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "KB" -> 1L << 10;
            case "MB" -> 1L << 20;
            case "GB" -> 1L << 30;
            default -> 1;
        };
        long number = Long.parseLong(m.group(1));
        if (number < 1 || number > MAX_CACHE_BYTES / unit) {
            read.problem(at, "must be between 1 byte and 64GB");
            return fallback;
        }
        return number * unit;
    }

    /** {@code limits: { rpm, tpm }} of a key, team or model; absent: none. */
    private static Limits limits(JsonNode owner, String path, FieldReader read) {
        JsonNode l = owner.get("limits");
        if (l == null || l.isNull()) {
            return Limits.NONE;
        }
        return new Limits(read.integer(l, path + ".limits", "rpm", (int) Limits.NONE_SET, 0, MAX_RATE),
                read.integer(l, path + ".limits", "tpm", (int) Limits.NONE_SET, 0, MAX_RATE));
    }

    /** {@code budget: { usd, period, alertAt }} of a key or team; absent: null. */
    private static Budget budget(JsonNode owner, String path, FieldReader read) {
        JsonNode b = owner.get("budget");
        if (b == null || b.isNull()) {
            return null;
        }
        String at = path + ".budget";
        double usd = read.number(b, at, "usd", 0, 0, MAX_BUDGET_USD);
        String periodText = b.path("period").asText("30d");
        BudgetPeriod period = BudgetPeriod.parse(periodText);
        if (period == null) {
            read.problem(at + ".period", FieldReader.quote(periodText) + " is not a budget period (1h, 1d, 7d, 30d or month)");
            period = BudgetPeriod.MONTH;
        }
        long alertAt = -1;
        if (b.hasNonNull("alertAt")) {
            double alert = read.number(b, at, "alertAt", 0, 0, MAX_BUDGET_USD);
            if (alert > usd) {
                read.problem(at + ".alertAt", "is above the budget's usd (" + usd + "): it would never fire");
            }
            alertAt = nanos(alert);
        }
        return new Budget(nanos(usd), period, alertAt);
    }

    private static long nanos(double usd) {
        return java.math.BigDecimal.valueOf(usd).movePointRight(9).setScale(0, java.math.RoundingMode.HALF_UP).longValueExact();
    }

    /** {@code expires: 2027-06-30}: the key works through that day (UTC); or a full instant. */
    private static java.time.Instant expiry(JsonNode key, String path, FieldReader read) {
        JsonNode e = key.get("expires");
        if (e == null || e.isNull()) {
            return null;
        }
        String text = e.asText();
        try {
            return text.contains("T") ? java.time.OffsetDateTime.parse(text).toInstant()
                    : java.time.LocalDate.parse(text).plusDays(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
        } catch (java.time.format.DateTimeParseException ex) {
            read.problem(path + ".expires", FieldReader.quote(text) + " is not a date (2027-06-30) or a time (2027-06-30T12:00:00Z)");
            return null;
        }
    }

    private static DeploymentConfig.Price price(JsonNode price, String at, String source, FieldReader read) {
        double input = read.number(price, at, "input", 0, 0, MAX_PRICE);
        return new DeploymentConfig.Price(input, read.number(price, at, "output", 0, 0, MAX_PRICE),
                read.number(price, at, "cachedInput", input, 0, MAX_PRICE), source);
    }

    /** The {@code policies:} list (a name, or a block with one), and the models' and keys' switches. */
    private GatewayConfig.Policies policies(JsonNode root, Map<String, ModelConfig> models, Map<String, KeyConfig> keys,
                                            List<String> problems) {
        List<GatewayConfig.Policies.Entry> chain = new ArrayList<>();
        Set<String> names = new HashSet<>();
        int index = 0;
        for (JsonNode p : root.path("policies")) {
            String at = "policies[" + index++ + "]";
            String name = p.isTextual() ? p.asText() : p.get("name").asText();
            if (!knownPolicy.test(name)) {
                problems.add(at + ": no policy is named " + FieldReader.quote(name) + " (none is registered by that name)");
            } else if (!names.add(name)) {
                problems.add(at + ": the policy " + FieldReader.quote(name) + " is listed twice");
            }
            chain.add(new GatewayConfig.Policies.Entry(name, p.isTextual() ? yaml.createObjectNode() : p.deepCopy()));
        }
        List<GatewayConfig.Policies.Entry> first = new ArrayList<>();
        for (String name : implied) {
            if (names.add(name)) {
                first.add(new GatewayConfig.Policies.Entry(name, yaml.createObjectNode()));
            }
        }
        chain.addAll(0, first);
        if (chain.size() > 64) {
            problems.add("policies: at most 64 policies"); // a request's record of which ran is one long
        }
        Map<String, Set<String>> offForModel = new HashMap<>();
        int modelIndex = 0;
        for (JsonNode m : root.get("models")) {
            switchedOff("models[" + modelIndex++ + "].policies", m.path("policies"), names, problems)
                    .ifPresent(off -> offForModel.put(m.get("name").asText(), off));
        }
        Map<String, Set<String>> offForKey = new HashMap<>();
        int keyIndex = 0;
        for (JsonNode k : root.path("keys")) {
            switchedOff("keys[" + keyIndex++ + "].policies", k.path("policies"), names, problems)
                    .ifPresent(off -> offForKey.put(k.get("id").asText(), off));
        }
        return new GatewayConfig.Policies(chain, offForModel, offForKey);
    }

    private static java.util.Optional<Set<String>> switchedOff(String at, JsonNode switches, Set<String> names,
                                                                List<String> problems) {
        Set<String> off = new TreeSet<>();
        switches.fields().forEachRemaining(e -> {
            if (!names.contains(e.getKey())) {
                problems.add(at + ": " + FieldReader.quote(e.getKey()) + " is not in the policies list");
            } else if (!e.getValue().asBoolean()) {
                off.add(e.getKey());
            }
        });
        return off.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(Set.copyOf(off));
    }

    private ProviderConfig provider(String name, JsonNode p, FieldReader read) {
        String path = "providers." + name;
        String type = p.get("type").asText();
        URI baseUrl = p.hasNonNull("baseUrl") ? baseUrl(path + ".baseUrl", p.get("baseUrl").asText(), read)
                : ProviderConfig.defaultBaseUrl(type);
        String apiKey = p.hasNonNull("apiKey") ? secret(path + ".apiKey", p.get("apiKey").asText(), read) : null;
        MockSettings mock = MockSettings.DEFAULT;
        if ("mock".equals(type)) {
            mock = new MockSettings(read.duration(p, path, "latency", Duration.ZERO, Duration.ZERO, MAX_MOCK_DELAY),
                    read.duration(p, path, "chunkInterval", Duration.ZERO, Duration.ZERO, MAX_MOCK_DELAY),
                    read.number(p, path, "failureRate", 0, 0, 1), read.integer(p, path, "failureStatus", 503, 400, 599));
        }
        String caFile = p.hasNonNull("caFile") ? p.get("caFile").asText() : null;
        if (caFile != null && !readable(caFile)) {
            read.problem(path + ".caFile", "cannot read " + FieldReader.quote(caFile));
        }
        String apiVersion = p.hasNonNull("apiVersion") ? p.get("apiVersion").asText() : ProviderConfig.defaultApiVersion(type);
        boolean completions = p.path("completions").asBoolean(false);
        if (completions && !ProviderConfig.mayHaveCompletions(type)) {
            read.problem(path + ".completions", "only openai, azure and openai-compatible servers have /completions");
        }
        return new ProviderConfig(name, type, baseUrl, apiKey, apiVersion, caFile, mock, completions);
    }

    /**
     * An absolute http(s) URL with a host, to which the adapters append their paths. The value is not quoted in a
     * problem: a URL may carry credentials.
     */
    private static URI baseUrl(String where, String text, FieldReader read) {
        URI uri;
        try {
            uri = new URI(stripTrailingSlash(text));
        } catch (URISyntaxException e) {
            read.problem(where, "is not a valid URL (" + e.getReason() + " at index " + e.getIndex() + ")");
            return null;
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!uri.isAbsolute() || !(scheme.equals("http") || scheme.equals("https"))) {
            read.problem(where, "must be an absolute http:// or https:// URL");
        } else if (uri.getHost() == null) {
            read.problem(where, "has no valid host name (letters, digits, '-' and '.'; no '_')");
        } else if (uri.getPort() > 65535) {
            read.problem(where, "has a port above 65535");
        } else if (uri.getRawUserInfo() != null) {
            read.problem(where, "must not carry credentials: use apiKey");
        } else if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            read.problem(where, "must not have a query or fragment: the adapters append paths to it");
        } else {
            return uri;
        }
        return null;
    }

    private static boolean readable(String file) {
        try {
            return Files.isReadable(Path.of(file));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private String secret(String where, String reference, FieldReader read) {
        Matcher m = SECRET.matcher(reference);
        if (!m.matches()) {
            read.problem(where, "must be ${env:NAME} or ${file:/path}");
            return null;
        }
        String kind = m.group(1);
        String name = m.group(2).trim();
        if (kind.equals("env")) {
            String value = env.apply(name);
            if (value == null || value.isBlank()) {
                read.problem(where, "environment variable " + name + " is not set");
                return null;
            }
            return value.trim();
        }
        try {
            Path file = Path.of(name);
            if (!Files.isRegularFile(file) || Files.size(file) > MAX_SECRET_FILE_BYTES) {
                read.problem(where, "secret file " + name + " is not a regular file of at most " + MAX_SECRET_FILE_BYTES + " bytes");
                return null;
            }
            return Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (IOException | InvalidPathException e) {
            read.problem(where, "cannot read secret file " + name);
            return null;
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array != null) {
            array.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /**
     * {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h} or {@code 1d}; an {@link IllegalArgumentException} for
     * anything else, a number too large for a {@link Duration} included.
     */
    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: " + FieldReader.quote(text) + " (use e.g. 250ms, 30s, 5m, 1h, 1d)");
        }
        try {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("the duration " + FieldReader.quote(text) + " is too large");
        }
    }

    private static String stripTrailingSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
