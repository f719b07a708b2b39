package dev.caravan.routing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.PassThrough;
import org.apache.camel.Exchange;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * The route step: the requested model name becomes the ranked list of deployments to try
 * ({@code caravan.model}, {@code caravan.deployments}), by the model's strategy. A principal bound to regions only
 * ever gets deployments in them (data residency): here for the requested model, in {@link DeploymentPicker} for
 * each fallback model, through {@link #rank(ModelConfig, Principal, PassThrough)}. A request that must pass through
 * (a hosted tool) gets only deployments whose provider serves its endpoint, the same way; with none in the model or
 * its fallbacks it is the door's 400.
 */
public final class ModelRouter {

    private final ConfigHolder config;
    private final DeploymentRegistry deployments;
    private final FallbackControls fallbackControls;

    public ModelRouter(ConfigHolder config, DeploymentRegistry deployments) {
        this.config = config;
        this.deployments = deployments;
        this.fallbackControls = new FallbackControls(config);
    }

    public void route(Exchange exchange) {
        ObjectNode request = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
        String name = request.path("model").asText();
        ModelConfig model = config.get().model(name).orElseThrow(() -> GatewayException.modelNotFound(name));
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        if (!principal.mayUse(name)) {
            throw GatewayException.forbidden("model_not_allowed",
                    "This API key is not allowed to use the model '" + GatewayException.quote(name) + "'.");
        }
        PassThrough pass = exchange.getProperty(ExchangeKeys.PASS_THROUGH, PassThrough.class);
        List<DeploymentConfig> ranked = rank(model, principal, pass);
        if (pass != null && !takesAsWritten(exchange, model, pass)) {
            if (pass.required()) {
                throw pass.refusal(); // no deployment here ever could: the client's 400, before any policy runs
            }
            exchange.removeProperty(ExchangeKeys.PASS_THROUGH); // translated like any request, the cache included
        }
        if (ranked.isEmpty() && principal.regions() != null && !aFallbackServes(exchange, model,
                d -> principal.mayBeServedIn(d.region()) && (pass == null || !pass.required() || serves(d, pass)))) {
            // refused before any policy runs: no limit is charged, no cached answer served, nothing called elsewhere
            throw GatewayException.forbidden("region_not_allowed", "The model '" + GatewayException.quote(name)
                    + "' has no deployment in the regions this API key may be served in (" + regions(principal) + ").");
        }
        exchange.setProperty(ExchangeKeys.MODEL, model);
        exchange.setProperty(ExchangeKeys.DEPLOYMENTS, ranked);
    }

    /**
     * The deployments of {@code model} that {@code principal} may be served by, in the order to try them: those that
     * can take a call now, ordered by the model's strategy, then those whose breaker is open or that cool down after
     * a rate limit (a later attempt may still reach them). Empty when none is in the principal's regions.
     */
    public List<DeploymentConfig> rank(ModelConfig model, Principal principal) {
        return rank(model, principal, null);
    }

    /**
     * The same, for a request that may be passed through: when it must be ({@link PassThrough#required()}), only the
     * deployments whose provider serves its endpoint (a hosted tool only OpenAI runs), as regions filter them.
     */
    public List<DeploymentConfig> rank(ModelConfig model, Principal principal, PassThrough pass) {
        // null for all but region-bound principals: one null check is all residency costs the others
        Set<String> regions = principal == null ? null : principal.regions();
        boolean capability = pass != null && pass.required();
        long now = System.nanoTime();
        List<DeploymentConfig> ready = new ArrayList<>();
        List<DeploymentConfig> resting = new ArrayList<>();
        for (DeploymentConfig d : model.deployments()) {
            if (regions != null && !principal.mayBeServedIn(d.region())) {
                continue;
            }
            if (capability && !serves(d, pass)) {
                continue;
            }
            DeploymentRegistry.State s = deployments.state(d);
            (s.refusing(now) || s.coolingDown(now) ? resting : ready).add(d);
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        switch (model.routing().strategy()) {
            case "weighted" -> ready = weightedOrder(ready, random);
            case "least-busy" -> {
                Collections.shuffle(ready, random); // ties go either way
                ready.sort(Comparator.comparingInt(d -> deployments.state(d).inFlight()));
            }
            case "latency" -> {
                Collections.shuffle(ready, random);
                if (random.nextDouble() >= model.routing().explore()) {
                    // unmeasured deployments first (latency -1), so each gets measured; then the fastest
                    ready.sort(Comparator.comparingDouble(d -> deployments.state(d).latencyMillis()));
                }
            }
            case "cost" -> ready.sort(Comparator.comparingDouble(
                    d -> d.price() == null ? Double.MAX_VALUE : d.price().blended()));
            default -> { } // ordered: as configured
        }
        resting.sort(Comparator.comparingLong(d -> deployments.state(d).coolDownUntilNanos()));
        ready.addAll(resting);
        return ready;
    }

    /** Only asked when the requested model has no deployment for the request: has one of its fallbacks one? */
    private boolean aFallbackServes(Exchange exchange, ModelConfig model, Predicate<DeploymentConfig> fits) {
        for (String name : fallbackControls.fallbacksFor(exchange, model)) {
            ModelConfig fallback = config.get().model(name).orElse(null);
            if (fallback != null && fallback.deployments().stream().anyMatch(fits)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a deployment of the model (or, for a request that must pass through, of a fallback) serves the
     * pass-through's endpoint, wherever it is: regions are asked separately, and say 403.
     */
    private boolean takesAsWritten(Exchange exchange, ModelConfig model, PassThrough pass) {
        return model.deployments().stream().anyMatch(d -> serves(d, pass))
                || (pass.required() && aFallbackServes(exchange, model, d -> serves(d, pass)));
    }

    /** The deployment's provider answers the pass-through's endpoint itself. */
    static boolean serves(DeploymentConfig d, PassThrough pass) {
        return d.provider().servesOwn(pass.endpoint());
    }

    /** The principal's regions for an error message: labels from config (the schema's pattern), never client text. */
    private static String regions(Principal principal) {
        return principal.regions().isEmpty() ? "none" : String.join(", ", new TreeSet<>(principal.regions()));
    }

    /** A random order in which each deployment comes first with a probability proportional to its weight. */
    static List<DeploymentConfig> weightedOrder(List<DeploymentConfig> in, ThreadLocalRandom random) {
        List<DeploymentConfig> left = new ArrayList<>(in);
        List<DeploymentConfig> out = new ArrayList<>(in.size());
        while (!left.isEmpty()) {
            long total = 0;
            for (DeploymentConfig d : left) {
                total += d.weight();
            }
            if (total <= 0) {
                out.addAll(left); // only weight-0 deployments left: last resort, in config order
                break;
            }
            long pick = random.nextLong(total);
            for (int i = 0; i < left.size(); i++) {
                pick -= left.get(i).weight();
                if (pick < 0) {
                    out.add(left.remove(i));
                    break;
                }
            }
        }
        return out;
    }
}
