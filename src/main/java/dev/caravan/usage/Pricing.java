package dev.caravan.usage;

import dev.caravan.config.DeploymentConfig;

/** Placeholder until the pricing branch lands: same signature. */
public final class Pricing {
    private Pricing() {
    }

    public static long costNanos(Usage usage, DeploymentConfig.Price price) {
        if (price == null || usage == null) {
            return 0;
        }
        long cached = Math.min(usage.cachedTokens(), usage.promptTokens());
        java.math.BigInteger pico = java.math.BigInteger.valueOf(usage.promptTokens() - cached)
                .multiply(java.math.BigInteger.valueOf(DeploymentConfig.Price.picoPerToken(price.input())))
                .add(java.math.BigInteger.valueOf(cached).multiply(java.math.BigInteger.valueOf(DeploymentConfig.Price.picoPerToken(price.cachedInput()))))
                .add(java.math.BigInteger.valueOf(usage.completionTokens()).multiply(java.math.BigInteger.valueOf(DeploymentConfig.Price.picoPerToken(price.output()))));
        java.math.BigInteger nanos = pico.add(java.math.BigInteger.valueOf(500)).divide(java.math.BigInteger.valueOf(1000));
        return nanos.bitLength() < 63 ? nanos.longValue() : Long.MAX_VALUE;
    }
}
