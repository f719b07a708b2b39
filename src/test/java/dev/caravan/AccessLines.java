package dev.caravan;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.Json;

import java.util.List;

/** Access-log lines as a test reads them from a list appender on logger {@code caravan.access}. */
public final class AccessLines {

    private AccessLines() {
    }

    /** The line of one request, once written (waits as {@link TestGateway#eventually} does). */
    public static JsonNode of(ListAppender<ILoggingEvent> access, String requestId) throws InterruptedException {
        JsonNode[] found = new JsonNode[1];
        TestGateway.eventually(() -> {
            for (ILoggingEvent e : List.copyOf(access.list)) {
                JsonNode line = Json.parseObjectOrNull(e.getFormattedMessage());
                if (line != null && requestId.equals(line.path("request_id").asText())) {
                    found[0] = line;
                    return true;
                }
            }
            return false;
        }, "the access log line of " + requestId);
        return found[0];
    }
}
