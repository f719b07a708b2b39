package dev.caravan.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code guardrails:} as configured: named policies, the one applied by default, and the teams' and keys' choices.
 * Names are kept as written (entities, actions); the guardrail policy makes its checks from them, and the schema
 * has already refused an unknown one. README, "Guardrails".
 *
 * @param defaultPolicy the policy for a request whose key and team name none; null for none
 * @param policies      by name
 * @param byTeam        team -> its policy name, or "" for none
 * @param byKey         key id -> its policy name, or "" for none
 */
public record GuardrailConfig(String defaultPolicy, Map<String, Guard> policies, Map<String, String> byTeam,
                              Map<String, String> byKey) {

    public static final GuardrailConfig NONE = new GuardrailConfig(null, Map.of(), Map.of(), Map.of());

    public GuardrailConfig {
        policies = Map.copyOf(policies);
        byTeam = Map.copyOf(byTeam);
        byKey = Map.copyOf(byKey);
    }

    /**
     * One named policy.
     *
     * @param deny operator regexes (Java syntax), refused in the input and in the output
     */
    public record Guard(String name, Pii pii, Injection injection, List<String> deny, Webhook webhook) {
        public Guard {
            deny = List.copyOf(deny);
        }
    }

    /**
     * @param entities    the config names of the entities looked for
     * @param input       redact, mask, deidentify, block, alert or off
     * @param output      redact, mask, block, alert or off
     * @param allow       words never flagged (the top-level list and the policy's own)
     * @param phoneRegion ISO 3166 region national phone numbers are read in
     */
    public record Pii(Set<String> entities, String input, String output, Set<String> allow, String phoneRegion) {
        public static final Pii OFF = new Pii(Set.of(), "off", "off", Set.of(), "US");

        public Pii {
            entities = Set.copyOf(entities);
            allow = Set.copyOf(allow);
        }
    }

    /**
     * @param input      block, alert or off
     * @param threshold  the semantic detector's threshold, or null for the detector's default
     * @param semantic   whether the local embedding detector runs besides the rules
     * @param classifier an operator's ONNX classifier, or null
     */
    public record Injection(String input, Double threshold, boolean semantic, Classifier classifier) {
        public static final Injection OFF = new Injection("off", null, false, null);
    }

    /** An ONNX sequence classifier the operator supplies: its model, its tokenizer.json, the label that is an attack. */
    public record Classifier(String model, String tokenizer, double threshold, int label) {
    }

    /** An external check: the text parts POSTed to {@code url}; {@code onError}: block or allow. */
    public record Webhook(URI url, Duration timeout, String onError, Map<String, String> headers) {
        public Webhook {
            headers = Map.copyOf(headers);
        }
    }

    /** The policy for a call by {@code keyId} of {@code team}: the key's choice, else the team's, else the default. */
    public Guard forCall(String keyId, String team) {
        String name = keyId == null ? null : byKey.get(keyId);
        if (name == null && team != null) {
            name = byTeam.get(team);
        }
        if (name == null) {
            name = defaultPolicy;
        }
        return name == null || name.isEmpty() ? null : policies.get(name);
    }

    /** Whether any request can meet a guardrail (else the policy costs nothing). */
    public boolean any() {
        return !policies.isEmpty() && (defaultPolicy != null || byTeam.values().stream().anyMatch(n -> !n.isEmpty())
                || byKey.values().stream().anyMatch(n -> !n.isEmpty()));
    }
}
