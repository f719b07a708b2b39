package dev.caravan.policy;

import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.GatewayConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.usage.Usage;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The live chain, rebuilt from each config the gateway swaps in (a factory that refuses its block refuses the
 * reload), and the end of every request that reached the policies: the record route's {@code end} step.
 */
public final class PolicyChains {

    private static final Logger LOG = LoggerFactory.getLogger(PolicyChains.class);

    private final PolicyRegistry registry;
    private final AtomicReference<PolicyChain> current = new AtomicReference<>();

    public PolicyChains(PolicyRegistry registry, GatewayConfig initial) {
        this.registry = registry;
        rebuild(initial);
    }

    /** For ConfigHolder.onChange: builds the whole chain first, so a failure leaves the running one in place. */
    public void rebuild(GatewayConfig config) {
        current.set(PolicyChain.build(config, registry));
    }

    public PolicyChain current() {
        return current.get();
    }

    /**
     * The end-hooks, once per request (the record route is reached once for a whole answer or an error, and once
     * when a stream ends; a second sighting is ignored). Every policy switched on for the request hears it, whether
     * its before-hook ran or not, so a ledger placed after a limit still sees the limit's refusals.
     */
    public void end(Exchange exchange) {
        PolicyCall call = exchange.getProperty(ExchangeKeys.POLICY_CALL, PolicyCall.class);
        if (call == null || !call.end()) {
            return; // no policy configured, or already ended
        }
        String outcome = exchange.getProperty(ExchangeKeys.OUTCOME, String.class);
        String errorCode = exchange.getProperty(ExchangeKeys.ERROR_CODE, String.class);
        DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
        Long start = exchange.getProperty(ExchangeKeys.START_NANOS, Long.class);
        EndFacts facts = new EndFacts(outcome != null ? outcome : errorCode != null ? "failed" : "answered",
                exchange.getProperty(ExchangeKeys.STATUS, 0, Integer.class),
                exchange.getProperty(ExchangeKeys.USAGE, Usage.NONE, Usage.class), errorCode,
                deployment == null ? null : deployment.id(),
                exchange.getProperty(ExchangeKeys.COST_NANOS, 0L, Long.class),
                start == null ? 0 : System.nanoTime() - start,
                deployment == null ? null : deployment.region());
        PolicyChain chain = call.chain();
        for (int i = 0; i < chain.size(); i++) {
            if (call.enabled(i)) {
                try {
                    chain.policy(i).end(call, facts);
                } catch (RuntimeException e) {
                    // an end-hook cannot change the answer any more; the others still hear the end
                    LOG.warn("Policy {} failed at the end of request {}: {}", chain.name(i), call.requestId(), e.toString());
                }
            }
        }
    }
}
