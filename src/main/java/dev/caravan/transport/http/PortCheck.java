package dev.caravan.transport.http;

import dev.caravan.config.StartFailure;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/**
 * Before Camel binds a listener: is its port free? A port in use would otherwise surface as Camel's error log of the
 * context start, a stack trace that never names the port; this says which one, in the one line of a start failure.
 */
public final class PortCheck {

    private PortCheck() {
    }

    /** @throws StartFailure.ServiceUnavailable naming the port, the host and the property that set it */
    public static void requireFree(String host, int port, String property) {
        if (port == 0) {
            return; // any free port
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true); // as Netty binds: a port left in TIME_WAIT by the last run is free
            probe.bind(new InetSocketAddress(host, port));
        } catch (BindException e) {
            String why = e.getMessage() == null ? "" : e.getMessage();
            throw new StartFailure.ServiceUnavailable(why.contains("in use")
                    ? "port " + port + " on " + host + " is already in use (" + property + ")"
                    : "cannot listen on " + host + ":" + port + " (" + property + "): " + why);
        } catch (IOException | IllegalArgumentException | SecurityException e) {
            // another reason (an unknown host): Camel's own bind reports it
        }
    }
}
