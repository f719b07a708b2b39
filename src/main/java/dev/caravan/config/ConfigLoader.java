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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads config/gateway.yaml into a {@link GatewayConfig}: JSON Schema first, then the checks a schema cannot
 * express (references between sections), then secrets resolved from the environment or files.
 */
public final class ConfigLoader {

    private static final Pattern SECRET = Pattern.compile("^\\$\\{(env|file):([^}]+)}$");
    private static final Pattern DURATION = Pattern.compile("^([0-9]+)(ms|s|m|h)$");

    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    private final JsonSchema schema;
    private final Function<String, String> env;

    public ConfigLoader() {
        this(System::getenv);
    }

    public ConfigLoader(Function<String, String> env) {
        this.env = env;
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
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), List.of("cannot read file: " + e.getMessage()));
        }
        return parse(file.toString(), text);
    }

    public GatewayConfig parse(String source, String text) throws ConfigException {
        JsonNode root;
        try {
            root = yaml.readTree(text);
        } catch (IOException e) {
            throw new ConfigException(source, List.of("not valid YAML: " + firstLine(e.getMessage())));
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(source, List.of("the file must hold a YAML mapping with providers and models"));
        }
        Set<ValidationMessage> violations = schema.validate(root);
        if (!violations.isEmpty()) {
            throw new ConfigException(source, violations.stream().map(ValidationMessage::getMessage).sorted().toList());
        }
        List<String> problems = new ArrayList<>();
        GatewayConfig config = build(root, problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return config;
    }

    private GatewayConfig build(JsonNode root, List<String> problems) {
        Map<String, ProviderConfig> providers = new LinkedHashMap<>();
        root.get("providers").fields().forEachRemaining(e -> providers.put(e.getKey(), provider(e.getKey(), e.getValue(), problems)));
        RoutingSettings global = RoutingSettings.DEFAULT.with(root.get("routing"));

        Map<String, ModelConfig> models = new LinkedHashMap<>();
        Map<String, DeploymentConfig> deploymentsById = new HashMap<>();
        for (JsonNode m : root.get("models")) {
            String name = m.get("name").asText();
            RoutingSettings routing = global.with(m);
            List<DeploymentConfig> deployments = new ArrayList<>();
            for (JsonNode d : m.get("deployments")) {
                String providerName = d.get("provider").asText();
                ProviderConfig provider = providers.get(providerName);
                if (provider == null) {
                    problems.add("models." + name + ": provider '" + providerName + "' is not defined under providers");
                    continue;
                }
                String upstreamModel = d.get("model").asText();
                String id = d.hasNonNull("id") ? d.get("id").asText() : providerName + "-" + upstreamModel;
                JsonNode price = d.get("price");
                DeploymentConfig deployment = new DeploymentConfig(id, provider, upstreamModel, d.path("weight").asInt(1),
                        d.path("maxInFlight").asInt(0),
                        price == null ? null : new DeploymentConfig.Price(price.path("input").asDouble(0), price.path("output").asDouble(0)),
                        routing.breaker());
                DeploymentConfig same = deploymentsById.putIfAbsent(id, deployment);
                if (same != null && !same.sameAs(deployment)) {
                    problems.add("models." + name + ": deployment id '" + id + "' is used for two different deployments");
                }
                // models that list the same id share one deployment: its first definition
                deployments.add(same != null ? same : deployment);
            }
            Duration timeout = duration(m, "timeout", ModelConfig.DEFAULT_TIMEOUT);
            Duration idle = duration(m, "streamIdleTimeout", ModelConfig.DEFAULT_STREAM_IDLE_TIMEOUT);
            ModelConfig model = new ModelConfig(name, deployments, timeout, idle, routing,
                    texts(m.get("fallbacks")), texts(m.get("contextWindowFallbacks")));
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

        Map<String, KeyConfig> keys = new HashMap<>();
        Set<String> keyIds = new HashSet<>();
        for (JsonNode k : root.path("keys")) {
            String id = k.get("id").asText();
            Set<String> allowed = new TreeSet<>();
            k.path("models").forEach(n -> allowed.add(n.asText()));
            for (String model : allowed) {
                if (!models.containsKey(model)) {
                    problems.add("keys." + id + ": model '" + model + "' is not defined under models");
                }
            }
            KeyConfig key = new KeyConfig(id, k.get("sha256").asText(), k.path("role").asText("user"),
                    k.hasNonNull("team") ? k.get("team").asText() : null, k.has("models") ? allowed : null);
            if (!keyIds.add(id)) {
                problems.add("keys: the id '" + id + "' is used twice");
            }
            if (keys.put(key.sha256(), key) != null) {
                problems.add("keys." + id + ": the same key hash is configured twice");
            }
        }
        return new GatewayConfig(providers, models, keys);
    }

    private ProviderConfig provider(String name, JsonNode p, List<String> problems) {
        String type = p.get("type").asText();
        URI baseUrl = p.hasNonNull("baseUrl") ? URI.create(stripTrailingSlash(p.get("baseUrl").asText()))
                : ProviderConfig.defaultBaseUrl(type);
        String apiKey = p.hasNonNull("apiKey") ? secret("providers." + name + ".apiKey", p.get("apiKey").asText(), problems) : null;
        MockSettings mock = MockSettings.DEFAULT;
        if ("mock".equals(type)) {
            mock = new MockSettings(duration(p, "latency", Duration.ZERO), duration(p, "chunkInterval", Duration.ZERO),
                    p.path("failureRate").asDouble(0), p.path("failureStatus").asInt(503));
        }
        String caFile = p.hasNonNull("caFile") ? p.get("caFile").asText() : null;
        if (caFile != null && !Files.isReadable(Path.of(caFile))) {
            problems.add("providers." + name + ".caFile: cannot read " + caFile);
        }
        String apiVersion = p.hasNonNull("apiVersion") ? p.get("apiVersion").asText() : ProviderConfig.defaultApiVersion(type);
        return new ProviderConfig(name, type, baseUrl, apiKey, apiVersion, caFile, mock);
    }

    private String secret(String where, String reference, List<String> problems) {
        Matcher m = SECRET.matcher(reference);
        if (!m.matches()) {
            problems.add(where + ": must be ${env:NAME} or ${file:/path}");
            return null;
        }
        String kind = m.group(1);
        String name = m.group(2).trim();
        if (kind.equals("env")) {
            String value = env.apply(name);
            if (value == null || value.isBlank()) {
                problems.add(where + ": environment variable " + name + " is not set");
                return null;
            }
            return value.trim();
        }
        try {
            return Files.readString(Path.of(name), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            problems.add(where + ": cannot read secret file " + name);
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

    static Duration duration(JsonNode parent, String field, Duration fallback) {
        JsonNode n = parent == null ? null : parent.get(field);
        return n == null || n.isNull() ? fallback : parseDuration(n.asText());
    }

    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: " + text);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
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
