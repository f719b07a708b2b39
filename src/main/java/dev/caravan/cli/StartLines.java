package dev.caravan.cli;

import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.GatewayConfig;

import java.util.Optional;

/** What the log says once the gateway serves: one summary line, and a warning when no caller can get in. */
public final class StartLines {

    private StartLines() {
    }

    /**
     * {@code Caravan listening on 0.0.0.0:4000: 3 models, 5 deployments, 2 keys; reload on} (and the management
     * listener when one is set). Keys count the file's and the run-time ones; deployments shared by models once.
     */
    public static String summary(GatewayConfig config, String host, String port, boolean reload,
                                 String managementHost, String managementPort) {
        long deployments = config.models().values().stream().flatMap(m -> m.deployments().stream())
                .map(DeploymentConfig::id).distinct().count();
        return "Caravan listening on " + host + ":" + port + ": " + count(config.models().size(), "model") + ", "
                + count(deployments, "deployment") + ", " + count(config.keysBySha256().size(), "key")
                + "; reload " + (reload ? "on" : "off")
                + (managementPort == null || managementPort.isBlank() ? ""
                        : "; management on " + managementHost + ":" + managementPort.trim());
    }

    /**
     * A gateway no one can call: no key in the file or the database, no master key (the only way to make run-time
     * keys) and no OIDC issuer. It still starts (health and metrics answer), but says so.
     */
    public static Optional<String> noKeyWarning(GatewayConfig config, String masterKey) {
        boolean noMaster = masterKey == null || masterKey.isBlank();
        if (config.keysBySha256().isEmpty() && noMaster && config.auth().oidc().isEmpty()) {
            return Optional.of("no key can call this gateway: add keys to config/gateway.yaml or set CARAVAN_MASTER_KEY");
        }
        return Optional.empty();
    }

    private static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
