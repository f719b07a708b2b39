package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.auth.Principal;
import dev.caravan.auth.Role;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.transport.http.Responder;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * The admin API's dispatcher: matches {@code method} and path against the endpoint table, and runs the endpoint on
 * the admin thread pool (endpoints use JDBC; an event loop never waits for them). The authenticate step has set
 * the principal; a {@code user} gets 403 here, whatever the path. Errors travel back to the ingress, which renders
 * them in the OpenAI error shape.
 */
public final class AdminApi extends AsyncProcessorSupport {

    private record Entry(String method, String[] pattern, AdminEndpoint endpoint) {
    }

    private final List<Entry> table = new ArrayList<>();
    private final ExecutorService pool;

    /** @param pool where endpoints run: bounded (threads and queue), its rejection answering 503 */
    public AdminApi(ExecutorService pool) {
        this.pool = pool;
    }

    /** Adds an endpoint: {@code pattern} is a path with {@code {name}} segments, such as {@code /admin/keys/{id}}. */
    public synchronized AdminApi add(String method, String pattern, AdminEndpoint endpoint) {
        table.add(new Entry(method, split(pattern), endpoint));
        return this;
    }

    /** Every endpoint as {@code METHOD /pattern}, in the order added (what the OpenAPI document must describe). */
    synchronized List<String> endpoints() {
        return table.stream().map(e -> e.method + " /" + String.join("/", e.pattern)).toList();
    }

    /** The methods some endpoint answers on {@code path} (for {@code Allow}), or null when none. */
    public synchronized String allowed(String path) {
        Set<String> methods = new LinkedHashSet<>();
        String[] segments = split(path);
        for (Entry e : table) {
            if (match(e.pattern, segments) != null) {
                methods.add(e.method);
            }
        }
        return methods.isEmpty() ? null : String.join(", ", methods) + ", OPTIONS";
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        AdminRequest request;
        AdminEndpoint endpoint;
        try {
            ClientRequest client = ClientRequest.of(exchange);
            Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
            Role role = principal == null ? null : principal.roleKind();
            if (role == null || role == Role.USER) {
                throw GatewayException.forbidden("insufficient_role",
                        "The admin API needs a key with role viewer, team-admin or admin.");
            }
            String method = "HEAD".equals(client.method()) ? "GET" : client.method();
            String[] segments = split(client.path());
            Entry found = null;
            Map<String, String> params = null;
            synchronized (this) {
                for (Entry e : table) {
                    Map<String, String> p = match(e.pattern, segments);
                    if (p != null && e.method.equals(method)) {
                        found = e;
                        params = p;
                        break;
                    }
                }
            }
            if (found == null) {
                String allow = allowed(client.path());
                if (allow == null) {
                    throw GatewayException.notFound("not_found", "No endpoint " + GatewayException.quote(client.method())
                            + " " + GatewayException.quote(client.path()) + ".");
                }
                throw GatewayException.methodNotAllowed(client.method(), client.path(), allow);
            }
            endpoint = found.endpoint;
            request = new AdminRequest(method, client.path(), params,
                    new QueryStringDecoder(client.query() == null ? "" : client.query(), false).parameters(),
                    body(client.body()), principal, exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class),
                    exchange.getProperty(ExchangeKeys.CLIENT_ADDRESS, String.class));
        } catch (RuntimeException e) {
            exchange.setException(e);
            callback.done(true);
            return true;
        }
        try {
            pool.execute(() -> {
                try {
                    AdminReply reply = endpoint.handle(request);
                    Responder.json(exchange, reply.status(), reply.body());
                } catch (Exception e) {
                    exchange.setException(e);
                } finally {
                    callback.done(false);
                }
            });
        } catch (RejectedExecutionException e) {
            exchange.setException(GatewayException.unavailable("admin_busy",
                    "The admin API is busy; retry in a moment."));
            callback.done(true);
            return true;
        }
        return false;
    }

    private static JsonNode body(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw GatewayException.badRequest("invalid_json", null, "The body is not valid JSON.");
        }
    }

    private static String[] split(String path) {
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        return trimmed.isEmpty() ? new String[0] : trimmed.split("/", -1);
    }

    private static Map<String, String> match(String[] pattern, String[] segments) {
        if (pattern.length != segments.length) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < pattern.length; i++) {
            String p = pattern[i];
            if (p.startsWith("{") && p.endsWith("}")) {
                if (segments[i].isEmpty()) {
                    return null;
                }
                // the ingress decoded the path once already: a second decoding would turn "%2541" into "A"
                params.put(p.substring(1, p.length() - 1), segments[i]);
            } else if (!p.equals(segments[i])) {
                return null;
            }
        }
        return params;
    }
}
