package dev.caravan.policy.guardrail;

import dev.caravan.config.GuardrailConfig;
import dev.caravan.policy.guardrail.injection.InjectionDetector;
import dev.caravan.policy.guardrail.injection.OnnxInjectionClassifier;
import dev.caravan.policy.guardrail.pii.Entity;
import dev.caravan.policy.guardrail.pii.PiiDetector;

import java.net.http.HttpClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The guardrail policies of one config, made ready to run: each named policy's checks compiled once (its
 * recognizers, its deny patterns, its webhook), and which one a request gets. Immutable; made again on each reload.
 */
public final class Guardrails {

    /** One named policy, compiled. */
    public record Guard(String name, TextCheck inputCheck, Action piiInput, TextCheck piiOutput, Action piiOutputAction,
                        TextCheck deny, Action injection, double threshold, boolean semantic,
                        OnnxInjectionClassifier classifier, double classifierThreshold, WebhookGuard webhook,
                        boolean allowOnWebhookError) {

        /** Whether anything looks at the answer. */
        public boolean checksOutput() {
            return piiOutput != null || deny != null;
        }
    }

    private final GuardrailConfig config;
    private final Map<String, Guard> guards;
    private final InjectionDetector injection;
    private final GuardrailEvents events;
    private final dev.caravan.work.CpuPool cpu;

    /**
     * @param injection   the prompt-injection detector (its semantic side may be absent: rules only)
     * @param http        the client webhooks are called with (shared by every config the process loads)
     * @param classifiers loads (or returns the one already loaded for) an operator's ONNX injection classifier; it
     *                    may throw, naming the file, which refuses the config
     * @param cpu         where large requests and answers are checked, off the event loop
     */
    public Guardrails(GuardrailConfig config, InjectionDetector injection, HttpClient http, GuardrailEvents events,
                      java.util.function.Function<GuardrailConfig.Classifier, OnnxInjectionClassifier> classifiers,
                      dev.caravan.work.CpuPool cpu) {
        this.config = config;
        this.cpu = cpu;
        this.injection = injection;
        this.events = events;
        Map<String, Guard> compiled = new HashMap<>();
        config.policies().forEach((name, g) -> compiled.put(name, compile(g, http, classifiers)));
        this.guards = Map.copyOf(compiled);
    }

    private static Guard compile(GuardrailConfig.Guard g, HttpClient http,
                                 java.util.function.Function<GuardrailConfig.Classifier, OnnxInjectionClassifier> classifiers) {
        GuardrailConfig.Pii pii = g.pii();
        Set<Entity> entities = pii.entities().stream().map(Entity::named).collect(Collectors.toUnmodifiableSet());
        PiiDetector detector = new PiiDetector(pii.allow(), pii.phoneRegion());
        List<Pattern> deny = g.deny().stream().map(Pattern::compile).toList();
        Action in = Action.named(pii.input());
        Action out = Action.named(pii.output());
        boolean piiIn = in != Action.OFF && !entities.isEmpty();
        boolean piiOut = out != Action.OFF && !entities.isEmpty();
        TextCheck inputCheck = piiIn || !deny.isEmpty()
                ? new ContentCheck(detector, piiIn ? entities : Set.of(), deny) : null;
        return new Guard(g.name(), inputCheck, piiIn ? in : Action.OFF,
                piiOut ? new ContentCheck(detector, entities, List.of()) : null, piiOut ? out : Action.OFF,
                deny.isEmpty() ? null : new ContentCheck(detector, Set.of(), deny),
                Action.named(g.injection().input()),
                g.injection().threshold() != null ? g.injection().threshold() : InjectionDetector.DEFAULT_THRESHOLD,
                g.injection().semantic(),
                g.injection().classifier() == null || g.injection().input().equals("off") ? null
                        : classifiers.apply(g.injection().classifier()),
                g.injection().classifier() == null ? 0.5 : g.injection().classifier().threshold(),
                g.webhook() == null ? null : new WebhookGuard(http, g.webhook()),
                g.webhook() != null && g.webhook().onError().equals("allow"));
    }

    /** The policy a call by {@code keyId} of {@code team} gets, or null for none. */
    public Guard forCall(String keyId, String team) {
        GuardrailConfig.Guard g = config.forCall(keyId, team);
        return g == null ? null : guards.get(g.name());
    }

    /** The config these were compiled from. */
    public GuardrailConfig config() {
        return config;
    }

    public boolean any() {
        return config.any();
    }

    dev.caravan.work.CpuPool cpu() {
        return cpu;
    }

    InjectionDetector injection() {
        return injection;
    }

    GuardrailEvents events() {
        return events;
    }

    /** Whether any policy of this config runs the semantic injection detector (its model is loaded at start). */
    public boolean semanticInjection() {
        return guards.values().stream().anyMatch(g -> g.injection() != Action.OFF && g.semantic());
    }
}
