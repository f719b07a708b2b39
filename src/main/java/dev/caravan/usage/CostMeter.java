package dev.caravan.usage;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The record route's first step: what the request cost ({@code caravan.costNanos}), from its usage
 * ({@code caravan.usage}) at the price of the deployment that answered ({@code caravan.deployment}). Metrics, the
 * access log and the policies' end-hooks read it after. A stream is measured when it ends, on the copy recorded then.
 */
public final class CostMeter {

    private static final Logger LOG = LoggerFactory.getLogger(CostMeter.class);

    // deployment ids already said to have no price: ids come from config (tens, a few hundred across reloads); past
    // the bound one may be said again, never a map that grows with traffic
    private final Cache<String, Boolean> saidUnpriced = Caffeine.newBuilder().maximumSize(1_000).build();

    public void measure(Exchange exchange) {
        Usage usage = exchange.getProperty(ExchangeKeys.USAGE, Usage.NONE, Usage.class);
        DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
        long cost = 0;
        if (deployment != null && !usage.isEmpty()) {
            if (deployment.price() == null) {
                sayUnpriced(deployment);
            } else {
                cost = Pricing.costNanos(usage, deployment.price());
            }
        }
        exchange.setProperty(ExchangeKeys.COST_NANOS, cost);
    }

    private void sayUnpriced(DeploymentConfig deployment) {
        if (saidUnpriced.asMap().putIfAbsent(deployment.id(), Boolean.TRUE) == null) {
            LOG.info("Deployment {} (model {}) has no price in gateway.yaml or prices.yaml: its requests cost 0",
                    deployment.id(), deployment.model());
        }
    }
}
