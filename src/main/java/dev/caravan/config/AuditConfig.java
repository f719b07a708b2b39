package dev.caravan.config;

import java.nio.file.Path;

/**
 * {@code audit:} in config/gateway.yaml. The audit log itself is always kept in the gateway's database; this adds a
 * copy of every row as one JSON line for a SIEM.
 *
 * @param sink {@code none} (default), {@code stdout} or {@code file}
 * @param file the JSON-lines file for {@code sink: file} (appended to), else null
 */
public record AuditConfig(String sink, Path file) {

    public static final AuditConfig NONE = new AuditConfig("none", null);

    public AuditConfig {
        sink = sink == null ? "none" : sink;
    }
}
