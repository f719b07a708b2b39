package dev.caravan.audit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.config.AuditConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.audit.AuditEvent;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import dev.caravan.policy.audit.AuditLog.AuditQuery;
import dev.caravan.policy.audit.SqlAuditLog;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.caravan.TestGateway.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/** The JSON-lines copy for a SIEM ({@code audit: { sink: stdout | file }}): committed rows only, following reloads. */
class AuditSinkTest {

    @TempDir
    Path dir;

    final AtomicReference<AuditConfig> sink = new AtomicReference<>(AuditConfig.NONE);
    LedgerDatabase database;
    SqlAuditLog audit;

    @BeforeEach
    void open() {
        database = LedgerDatabase.open(new LedgerSettings(true, dir.resolve("data"), null, null, null, 1000, 100,
                Duration.ofMillis(50)));
        audit = new SqlAuditLog(database.dataSource(), sink::get, new SimpleMeterRegistry());
    }

    @AfterEach
    void close() {
        audit.close();
        database.close();
    }

    void append(String target, boolean commit) throws Exception {
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, AuditLogContract.event(System.currentTimeMillis(), "alice", "key.update", target, "t"));
            if (commit) {
                tx.commit();
            } else {
                tx.rollback();
            }
        }
    }

    List<String> lines(Path file) throws Exception {
        return Files.exists(file) ? Files.readAllLines(file) : List.of();
    }

    @Test
    void eachCommittedRowIsAppendedToTheFileAsOneJsonLineAndARolledBackOneNever() throws Exception {
        Path file = dir.resolve("siem/audit.jsonl");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "{\"earlier\":true}\n");
        sink.set(new AuditConfig("file", file));

        append("key:one", true);
        append("key:rolled-back", false);
        audit.record(new AuditEvent(2, "gateway", null, "config.reload", "config:gateway.yaml", null, "success",
                null, Json.object().put("secret", "never").put("ok", true), null, null));
        append("key:two", true);

        eventually(() -> uncheckedLines(file).size() == 4, "three rows copied after the line already there");
        List<String> lines = lines(file);
        assertThat(lines.get(0)).isEqualTo("{\"earlier\":true}");
        List<JsonNode> rows = lines.subList(1, 4).stream().map(l -> (JsonNode) Json.parseObjectOrNull(l)).toList();
        assertThat(rows).extracting(r -> r.get("target").asText())
                .containsExactlyInAnyOrder("key:one", "config:gateway.yaml", "key:two");
        List<AuditRow> stored = audit.find(new AuditQuery(null, null, null, null, null, 10, null));
        for (JsonNode row : rows) {
            AuditRow same = stored.stream().filter(s -> s.seq() == row.get("seq").asLong()).findFirst().orElseThrow();
            assertThat(row.get("hash").asText()).isEqualTo(same.hash());
            assertThat(row.get("prev_hash").asText()).isEqualTo(same.prevHash());
        }
        assertThat(String.join("\n", lines)).doesNotContain("rolled-back").doesNotContain("never");
    }

    @Test
    void theSinkFollowsItsConfigFromNoneToAFileToAnotherFileToStdout() throws Exception {
        Path first = dir.resolve("first.jsonl");
        Path second = dir.resolve("second.jsonl");
        append("key:unsunk", true);
        sink.set(new AuditConfig("file", first));
        append("key:a", true);
        eventually(() -> uncheckedLines(first).size() == 1, "the first file has its row");
        sink.set(new AuditConfig("file", second));
        append("key:b", true);
        eventually(() -> uncheckedLines(second).size() == 1, "the second file has its row");

        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            sink.set(new AuditConfig("stdout", null));
            append("key:c", true);
            eventually(() -> captured.toString(StandardCharsets.UTF_8).contains("\"target\":\"key:c\""),
                    "the row on stdout");
        } finally {
            System.setOut(original);
        }
        sink.set(AuditConfig.NONE);
        append("key:d", true);
        Thread.sleep(500);
        assertThat(String.join("\n", lines(first)) + lines(second) + captured)
                .doesNotContain("key:unsunk").doesNotContain("key:d");
        assertThat(lines(first)).hasSize(1).allMatch(l -> l.contains("\"target\":\"key:a\""));
        assertThat(lines(second)).hasSize(1).allMatch(l -> l.contains("\"target\":\"key:b\""));
    }

    List<String> uncheckedLines(Path file) {
        try {
            return lines(file);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
