package dev.caravan.auth;

import dev.caravan.core.ClientRequest;
import dev.caravan.core.GatewayException;
import org.apache.camel.Exchange;

/** Who may pass where: any caller to the model endpoints, operators to metrics and health, admins to /admin. */
public enum Gate {
    /** The model endpoints: anyone the gateway knows. */
    CALLER,
    /** {@code /metrics} and {@code /health/deployments}: role admin or viewer; on the management listener, anyone. */
    OBSERVER,
    /** The admin API: role admin. */
    ADMIN;

    /** Whether this gate lets {@code exchange} through without asking who calls. */
    public boolean open(Exchange exchange) {
        return this == OBSERVER && ClientRequest.viaManagementListener(exchange);
    }

    /** {@code principal}, if this gate admits it; else 403. */
    public Principal admit(Principal principal) {
        if (this == OBSERVER && !principal.mayObserve()) {
            throw GatewayException.forbidden("insufficient_role",
                    "This API key or token may not read metrics or deployment health; it needs role admin or viewer.");
        }
        if (this == ADMIN && !"admin".equals(principal.role())) {
            throw GatewayException.forbidden("insufficient_role", "This API key or token may not use the admin API; it needs role admin.");
        }
        return principal;
    }
}
