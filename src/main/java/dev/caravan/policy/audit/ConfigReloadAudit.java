package dev.caravan.policy.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.ReloadWatcher;
import dev.caravan.core.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.TreeSet;

/**
 * Every reload of gateway.yaml as a {@code config.reload} row: {@code after} names the top-level sections that
 * changed ({@code {"sections": ["models", "teams"]}}), and for a refused one the reason's first line. Sections are
 * compared by name only, and no value of the file is ever copied into the row (it holds {@code ${env:...}}
 * references, but a row has no need of any value). Runs on the reload thread.
 */
public final class ConfigReloadAudit implements ReloadWatcher.ConfigReloads {

    static final int MAX_REASON = 500;
    private static final long MAX_FILE_BYTES = 16L << 20; // the loader reads no larger file either

    private final AuditLog log;
    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());

    public ConfigReloadAudit(AuditLog log) {
        this.log = log;
    }

    @Override
    public void reloaded(GatewayConfig previous, GatewayConfig next, Path file, String refusal) {
        JsonNode before = previous == null ? null : previous.document();
        JsonNode after = next != null ? next.document() : readable(file);
        ObjectNode facts = Json.object();
        ArrayNode sections = facts.putArray("sections");
        if (after != null || refusal == null) {
            changedSections(before, after).forEach(sections::add);
        } else {
            facts.putNull("sections"); // the file is not even YAML: which sections it meant to change is unknown
        }
        if (refusal != null) {
            facts.put("reason", firstLine(refusal));
        }
        log.record(new AuditEvent(System.currentTimeMillis(), "gateway", null, "config.reload",
                "config:" + file.getFileName(), null, refusal == null ? "success" : "failure", null, facts, null,
                null));
    }

    /** The top-level fields added, removed or changed between the two documents, sorted. */
    static TreeSet<String> changedSections(JsonNode before, JsonNode after) {
        TreeSet<String> changed = new TreeSet<>();
        JsonNode a = before == null ? Json.object() : before;
        JsonNode b = after == null ? Json.object() : after;
        for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!a.get(name).equals(b.get(name))) {
                changed.add(name);
            }
        }
        for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!a.has(name)) {
                changed.add(name);
            }
        }
        return changed;
    }

    /** A refused file as a YAML mapping, if it is one, to name its sections; null when it is not even that. */
    private JsonNode readable(Path file) {
        try {
            if (!Files.isRegularFile(file) || Files.size(file) > MAX_FILE_BYTES) {
                return null;
            }
            JsonNode root = yaml.readTree(file.toFile());
            return root != null && root.isObject() ? root : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String firstLine(String text) {
        int nl = text.indexOf('\n');
        String line = nl < 0 ? text : text.substring(0, nl);
        return line.length() <= MAX_REASON ? line : line.substring(0, MAX_REASON) + "...";
    }
}
