package dev.caravan.config;

import org.apache.camel.FailedToCreateRouteException;
import org.apache.camel.FailedToStartRouteException;
import org.apache.camel.NoSuchBeanException;
import org.apache.camel.NoSuchEndpointException;
import org.apache.camel.PropertyBindingException;
import org.apache.camel.ResolveEndpointFailedException;

import java.net.BindException;
import java.util.Optional;

/**
 * Why the gateway could not start, in one line for an operator: a config problem (config/gateway.yaml, a route
 * file, a property) is a usage error, exit code 2, with no stack trace: the line says what to fix.
 */
public final class StartFailure {

    public static final int CONFIG_EXIT_CODE = 2;
    public static final int OTHER_EXIT_CODE = 1;

    private StartFailure() {
    }

    /** The one-line reason if {@code failure} comes from what the operator configured, else empty. */
    public static Optional<String> fromConfig(Throwable failure) {
        String route = null;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ConfigException e) {
                return Optional.of(e.getMessage());
            }
            if (t instanceof org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException y && y.getProblemMark().isPresent()) {
                return Optional.of(routeYaml(y)); // a route file Camel's YAML DSL cannot parse
            }
            if (route == null && t instanceof FailedToCreateRouteException e) {
                route = e.getRouteId();
            } else if (route == null && t instanceof FailedToStartRouteException e) {
                route = e.getRouteId();
            }
        }
        Throwable root = root(failure);
        boolean camelConfig = route != null || root instanceof ResolveEndpointFailedException
                || root instanceof NoSuchEndpointException || root instanceof PropertyBindingException
                || root instanceof NoSuchBeanException || root instanceof IllegalArgumentException;
        if (!camelConfig) {
            return Optional.empty();
        }
        return Optional.of((route == null ? "" : "route " + route + ": ") + oneLine(root));
    }

    /** {@code routes/x.camel.yaml: not valid YAML at line 5, column 6: ...}, as config/gateway.yaml's errors read. */
    private static String routeYaml(org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException y) {
        org.snakeyaml.engine.v2.exceptions.Mark at = y.getProblemMark().orElseThrow();
        String file = at.getName() == null ? "a route file" : at.getName().replaceFirst("^file:", "");
        return file + ": not valid YAML at line " + (at.getLine() + 1) + ", column " + (at.getColumn() + 1) + ": "
                + oneLine(new IllegalArgumentException(y.getProblem()))
                + (y.getContext() == null ? "" : " (" + y.getContext().strip() + ")");
    }

    /** The one-line reason of any other failure to start (a port already taken, ...). */
    public static String other(Throwable failure) {
        return oneLine(root(failure));
    }

    /** Whether the one line says enough (a port in use, a database down) or a stack trace is worth printing (a bug). */
    public static boolean isEnvironmental(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ServiceUnavailable) {
                return true;
            }
        }
        return root(failure) instanceof BindException;
    }

    /** A service the gateway needs at start (the ledger's database) cannot be used: its message says which and why. */
    public static final class ServiceUnavailable extends RuntimeException {
        public ServiceUnavailable(String message) {
            super(message, null, false, false);
        }
    }

    private static Throwable root(Throwable failure) {
        Throwable t = failure;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    private static String oneLine(Throwable t) {
        if (t instanceof BindException && t.getMessage() != null && t.getMessage().contains("in use")) {
            // taken between the check before start and Camel's bind (PortCheck names the port in all other cases)
            return "a port is already in use (caravan.port or caravan.managementPort): " + t.getMessage();
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }
}
