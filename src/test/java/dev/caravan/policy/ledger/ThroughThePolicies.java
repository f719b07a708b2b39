package dev.caravan.policy.ledger;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.caravan.config.GatewayConfig;
import dev.caravan.policy.BeforeCall;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyChains;
import dev.caravan.policy.PolicyRegistry;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;

import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Requests through the gateway's own policy seams with {@code policies: [ledger]}: the before-call step makes the
 * PolicyCall from the exchange, the record route's end step hands the ledger its EndFacts, as in production.
 */
final class ThroughThePolicies implements AutoCloseable {

    private final DefaultCamelContext context = new DefaultCamelContext();
    private final PolicyChains chains;
    private final BeforeCall before;

    ThroughThePolicies(Policy ledger) {
        PolicyRegistry registry = new PolicyRegistry().register("ledger", settings -> ledger);
        GatewayConfig.Policies policies = new GatewayConfig.Policies(
                List.of(new GatewayConfig.Policies.Entry("ledger", JsonNodeFactory.instance.objectNode())),
                Map.of(), Map.of());
        chains = new PolicyChains(registry, new GatewayConfig(Map.of(), Map.of(), Map.of(), policies));
        before = new BeforeCall(chains);
    }

    /** One request: {@code asked} sets what the steps before the policies set, {@code ended} how it ended. */
    void request(Consumer<Exchange> asked, Consumer<Exchange> ended) {
        Exchange exchange = new DefaultExchange(context);
        asked.accept(exchange);
        before.process(exchange, doneSync -> { });
        ended.accept(exchange);
        chains.end(exchange);
    }

    @Override
    public void close() {
        context.stop();
    }
}
