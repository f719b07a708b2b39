package dev.caravan.config;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One immutable snapshot of config/gateway.yaml, swapped whole on reload.
 *
 * @param providers     providers by name
 * @param models        models by the name clients send, in file order
 * @param keysBySha256  virtual keys by the SHA-256 hex of the key
 * @param policies      the {@code policies:} list in order, and where each is switched off
 * @param teams         teams by name
 * @param cost          the gateway-wide cost-control switches
 * @param auth          who may call besides virtual keys (OIDC issuers)
 * @param audit         where the audit log is copied to besides the database
 * @param bus           the message buses whose requests come in beside HTTP (read at start)
 * @param document      the file as it was read (secrets as their {@code ${env:...}} references), or null; read-only
 */
public record GatewayConfig(Map<String, ProviderConfig> providers,
                            Map<String, ModelConfig> models,
                            Map<String, KeyConfig> keysBySha256,
                            Policies policies,
                            Map<String, TeamConfig> teams,
                            CostSettings cost,
                            CacheConfig cache,
                            GuardrailConfig guardrails,
                            AuthConfig auth,
                            AuditConfig audit,
                            BusConfig bus,
                            com.fasterxml.jackson.databind.JsonNode document) {

    /**
     * @param chain       each {@code policies:} entry: its name and its block (an empty object for a bare name)
     * @param offForModel model name -> the policies switched off for it ({@code policies: { name: false }})
     * @param offForKey   key id -> the policies switched off for it
     */
    public record Policies(List<Entry> chain, Map<String, Set<String>> offForModel, Map<String, Set<String>> offForKey) {
        public static final Policies NONE = new Policies(List.of(), Map.of(), Map.of());

        public Policies {
            chain = List.copyOf(chain);
            offForModel = Map.copyOf(offForModel);
            offForKey = Map.copyOf(offForKey);
        }

        /** One policy as configured; {@code settings} is read-only by convention (a fresh copy per load). */
        public record Entry(String name, com.fasterxml.jackson.databind.JsonNode settings) {
        }
    }

    public GatewayConfig(Map<String, ProviderConfig> providers, Map<String, ModelConfig> models,
                         Map<String, KeyConfig> keysBySha256, Policies policies, Map<String, TeamConfig> teams,
                         CostSettings cost, CacheConfig cache, GuardrailConfig guardrails, AuthConfig auth,
                         AuditConfig audit) {
        this(providers, models, keysBySha256, policies, teams, cost, cache, guardrails, auth, audit, BusConfig.NONE, null);
    }

    /** This snapshot, remembering the file it was read from. */
    public GatewayConfig withDocument(com.fasterxml.jackson.databind.JsonNode document) {
        return new GatewayConfig(providers, models, keysBySha256, policies, teams, cost, cache, guardrails, auth,
                audit, bus, document);
    }

    public GatewayConfig(Map<String, ProviderConfig> providers, Map<String, ModelConfig> models,
                         Map<String, KeyConfig> keysBySha256) {
        this(providers, models, keysBySha256, Policies.NONE, Map.of(), CostSettings.DEFAULT, CacheConfig.DEFAULT, GuardrailConfig.NONE, AuthConfig.NONE, AuditConfig.NONE, BusConfig.NONE, null);
    }

    public GatewayConfig(Map<String, ProviderConfig> providers, Map<String, ModelConfig> models,
                         Map<String, KeyConfig> keysBySha256, Policies policies) {
        this(providers, models, keysBySha256, policies, Map.of(), CostSettings.DEFAULT, CacheConfig.DEFAULT, GuardrailConfig.NONE, AuthConfig.NONE, AuditConfig.NONE, BusConfig.NONE, null);
    }

    public GatewayConfig {
        policies = policies == null ? Policies.NONE : policies;
        teams = teams == null ? Map.of() : Map.copyOf(teams);
        cost = cost == null ? CostSettings.DEFAULT : cost;
        cache = cache == null ? CacheConfig.DEFAULT : cache;
        guardrails = guardrails == null ? GuardrailConfig.NONE : guardrails;
        auth = auth == null ? AuthConfig.NONE : auth;
        audit = audit == null ? AuditConfig.NONE : audit;
        bus = bus == null ? BusConfig.NONE : bus;
        providers = Map.copyOf(providers);
        models = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(models));
        keysBySha256 = Map.copyOf(keysBySha256);
    }

    public Optional<TeamConfig> team(String name) {
        return Optional.ofNullable(name == null ? null : teams.get(name));
    }

    public Optional<ModelConfig> model(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public List<DeploymentConfig> allDeployments() {
        return models.values().stream().flatMap(m -> m.deployments().stream()).distinct().toList();
    }

    /**
     * This snapshot with the keys and teams made through the admin API added beside the file's. The file wins a
     * clash (a name it defines is not the API's to change); the API's keys and teams carry source {@code api}.
     *
     * @param apiKeys  run-time keys by the SHA-256 hex of their secret (a rotated key's old secret too, while valid)
     * @param apiTeams run-time teams by name
     */
    public GatewayConfig withRuntime(Map<String, KeyConfig> apiKeys, Map<String, TeamConfig> apiTeams) {
        if (apiKeys.isEmpty() && apiTeams.isEmpty()) {
            return this;
        }
        Map<String, TeamConfig> allTeams = new java.util.LinkedHashMap<>(apiTeams);
        allTeams.putAll(teams);
        java.util.Set<String> fileKeyIds = new java.util.HashSet<>();
        keysBySha256.values().forEach(k -> fileKeyIds.add(k.id()));
        Map<String, KeyConfig> allKeys = new java.util.HashMap<>();
        apiKeys.forEach((hash, key) -> {
            if (!fileKeyIds.contains(key.id())) {
                allKeys.put(hash, key);
            }
        });
        allKeys.putAll(keysBySha256);
        return new GatewayConfig(providers, models, allKeys, policies, allTeams, cost, cache, guardrails, auth, audit,
                bus, document);
    }
}
