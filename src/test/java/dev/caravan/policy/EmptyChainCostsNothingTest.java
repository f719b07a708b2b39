package dev.caravan.policy;

import dev.caravan.config.GatewayConfig;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** With no policy configured the seams cost nothing: no allocation per request in before, after or end. */
class EmptyChainCostsNothingTest {

    @Test
    void theSeamsAllocateNothingWhenNoPolicyIsConfigured() throws Exception {
        PolicyChains chains = new PolicyChains(new PolicyRegistry(), new GatewayConfig(Map.of(), Map.of(), Map.of()));
        BeforeCall before = new BeforeCall(chains);
        AfterCall after = new AfterCall();
        try (DefaultCamelContext context = new DefaultCamelContext()) {
            Exchange exchange = new DefaultExchange(context);
            exchange.setProperty("caravan.requestId", "r"); // the exchange has its property map, as every request's does
            AsyncCallback done = doneSync -> { };
            Runnable request = () -> {
                before.process(exchange, done);
                after.process(exchange, done);
                chains.end(exchange);
            };
            for (int i = 0; i < 20_000; i++) {
                request.run(); // warm up: the JIT settles, lazy class state is made
            }
            com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long id = Thread.currentThread().getId();
            long start = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < 100_000; i++) {
                request.run();
            }
            long perRequest = (threads.getThreadAllocatedBytes(id) - start) / 100_000;
            assertThat(perRequest).as("bytes allocated per request").isZero();
        }
    }
}
