package dev.caravan.admin;

import dev.caravan.admin.LedgerQueries.Cursor;
import dev.caravan.admin.LedgerQueries.Filter;
import dev.caravan.admin.LedgerQueries.Group;
import dev.caravan.admin.LedgerQueries.GroupBy;
import dev.caravan.admin.LedgerQueries.Page;
import dev.caravan.admin.LedgerQueries.Row;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the admin API reads from the spend ledger, on either database: H2LedgerQueriesTest and
 * PostgresLedgerQueriesTest run every test here against a fresh, migrated database of their own, with rows
 * inserted as the ledger's writer stores them.
 */
abstract class LedgerQueriesContract {

    static final long DEC_1 = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
    static final long HOUR = 3_600_000;

    LedgerDatabase database;
    LedgerQueries queries;

    /** A fresh, empty database of this test's own. */
    abstract LedgerSettings settings();

    @BeforeEach
    void open() {
        database = LedgerDatabase.open(settings());
        queries = new LedgerQueries(database.dataSource());
    }

    @AfterEach
    void close() {
        database.close();
    }

    /** A row of a successful request: 10 prompt, 5 completion, 2 cached tokens. */
    static Row row(String id, long ts, String key, String team, String model, long costNanos) {
        return new Row(id, ts, key, team, model, model == null ? null : "mock-" + model, "chat", 200, "completed",
                null, 10, 5, 2, costNanos, 120, false, false);
    }

    static Row refused(String id, long ts, String key, String team, String model, int status) {
        return new Row(id, ts, key, team, model, null, "chat", status, "refused", "budget_exceeded", 0, 0, 0, 0, 3,
                false, true);
    }

    void insert(Row... rows) throws Exception {
        try (Connection c = database.dataSource().getConnection();
             PreparedStatement s = c.prepareStatement("INSERT INTO spend_ledger (request_id, ts_millis, key_id, "
                     + "team, model, deployment, operation, status, outcome, error_code, prompt_tokens, "
                     + "completion_tokens, cached_tokens, cost_nanos, latency_ms, usage_estimated, stream) "
                     + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (Row r : rows) {
                s.setString(1, r.requestId());
                s.setLong(2, r.tsMillis());
                text(s, 3, r.key());
                text(s, 4, r.team());
                text(s, 5, r.model());
                text(s, 6, r.deployment());
                text(s, 7, r.operation());
                s.setInt(8, r.status());
                text(s, 9, r.outcome());
                text(s, 10, r.errorCode());
                s.setLong(11, r.promptTokens());
                s.setLong(12, r.completionTokens());
                s.setLong(13, r.cachedTokens());
                s.setLong(14, r.costNanos());
                s.setLong(15, r.latencyMs());
                s.setBoolean(16, r.usageEstimated());
                s.setBoolean(17, r.stream());
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    private static void text(PreparedStatement s, int i, String v) throws Exception {
        if (v == null) {
            s.setNull(i, Types.VARCHAR);
        } else {
            s.setString(i, v);
        }
    }

    static Filter team(String team) {
        return Filter.ALL.withTeam(team);
    }

    static List<String> values(List<Group> groups) {
        return groups.stream().map(Group::value).toList();
    }

    @Test
    void threeRowsOfOneNanoDollarSumToExactlyThreeNanoDollars() throws Exception {
        insert(row("r1", DEC_1, "k", "t", "m", 1), row("r2", DEC_1 + 1, "k", "t", "m", 1),
                row("r3", DEC_1 + 2, "k", "t", "m", 1));

        List<Group> groups = queries.spend(GroupBy.KEY, Filter.ALL);

        assertThat(groups).hasSize(1);
        assertThat(groups.get(0).totals().costNanos()).isEqualByComparingTo("3");
        assertThat(groups.get(0).totals().costNanos().movePointLeft(9)).isEqualByComparingTo("0.000000003");
        assertThat(groups.get(0).totals().requests()).isEqualTo(3);
        assertThat(groups.get(0).totals().promptTokens()).isEqualTo(30);
        assertThat(groups.get(0).totals().completionTokens()).isEqualTo(15);
        assertThat(groups.get(0).totals().cachedTokens()).isEqualTo(6);
    }

    @Test
    void aSumLargerThanALongStaysExact() throws Exception {
        insert(row("r1", DEC_1, "k", "t", "m", Long.MAX_VALUE), row("r2", DEC_1 + 1, "k", "t", "m", Long.MAX_VALUE));

        assertThat(queries.spend(GroupBy.TEAM, Filter.ALL).get(0).totals().costNanos())
                .isEqualByComparingTo(BigDecimal.valueOf(Long.MAX_VALUE).multiply(BigDecimal.valueOf(2)));
    }

    @Test
    void spendIsGroupedByKeyTeamModelAndDeploymentCostliestFirstAndRowsWithoutAValueLast() throws Exception {
        insert(row("r1", DEC_1, "k-search", "search", "gpt-4o-mini", 100),
                row("r2", DEC_1 + 1, "k-search", "search", "claude", 300),
                row("r3", DEC_1 + 2, "k-ads", "ads", "gpt-4o-mini", 1_000),
                row("r4", DEC_1 + 3, "k-ads-2", "ads", "gpt-4o-mini", 50),
                refused("r5", DEC_1 + 4, null, null, null, 401));

        List<Group> byKey = queries.spend(GroupBy.KEY, Filter.ALL);
        assertThat(values(byKey)).containsExactly("k-ads", "k-search", "k-ads-2", null);
        assertThat(byKey.get(1).totals().costNanos()).isEqualByComparingTo("400");
        assertThat(byKey.get(1).totals().requests()).isEqualTo(2);
        assertThat(byKey.get(3).totals().requests()).isEqualTo(1);

        List<Group> byTeam = queries.spend(GroupBy.TEAM, Filter.ALL);
        assertThat(values(byTeam)).containsExactly("ads", "search", null);
        assertThat(byTeam.get(0).totals().costNanos()).isEqualByComparingTo("1050");

        List<Group> byModel = queries.spend(GroupBy.MODEL, Filter.ALL);
        assertThat(values(byModel)).containsExactly("gpt-4o-mini", "claude", null);
        assertThat(byModel.get(0).totals().requests()).isEqualTo(3);

        List<Group> byDeployment = queries.spend(GroupBy.DEPLOYMENT, Filter.ALL);
        assertThat(values(byDeployment)).containsExactly("mock-gpt-4o-mini", "mock-claude", null);
        assertThat(byDeployment.get(0).totals().costNanos()).isEqualByComparingTo("1150");
    }

    @Test
    void daysAreUtcDaysWithTheLastMillisecondBeforeMidnightInTheEarlierOne() throws Exception {
        insert(row("r1", DEC_1 - 1, "k", "t", "m", 1), // 2026-11-30T23:59:59.999Z
                row("r2", DEC_1, "k", "t", "m", 2),
                row("r3", DEC_1 + 24 * HOUR - 1, "k", "t", "m", 4),
                row("r4", DEC_1 + 24 * HOUR, "k", "t", "m", 8),
                row("r5", DEC_1 + 40 * 24 * HOUR, "k", "t", "m", 16));

        List<Group> days = queries.spend(GroupBy.DAY, Filter.ALL);

        assertThat(values(days)).containsExactly("2026-11-30", "2026-12-01", "2026-12-02", "2027-01-10");
        assertThat(days.stream().map(g -> g.totals().costNanos().longValueExact()))
                .containsExactly(1L, 6L, 8L, 16L);
    }

    @Test
    void fromIsIncludedAndToIsNot() throws Exception {
        insert(row("before", DEC_1 - 1, "k", "t", "m", 1), row("first", DEC_1, "k", "t", "m", 2),
                row("last", DEC_1 + HOUR - 1, "k", "t", "m", 4), row("after", DEC_1 + HOUR, "k", "t", "m", 8));
        Filter hour = new Filter(DEC_1, DEC_1 + HOUR, null, null, null, null, null);

        assertThat(queries.spend(GroupBy.KEY, hour).get(0).totals().costNanos()).isEqualByComparingTo("6");
        assertThat(queries.requests(hour, null, 10).rows()).extracting(Row::requestId).containsExactly("last", "first");
        assertThat(queries.requests(new Filter(DEC_1, null, null, null, null, null, null), null, 10).rows())
                .extracting(Row::requestId).containsExactly("after", "last", "first");
    }

    @Test
    void filtersByTeamKeyModelAndStatusNarrowBothQueries() throws Exception {
        insert(row("r1", DEC_1, "k-search", "search", "gpt", 1), row("r2", DEC_1 + 1, "k-search", "search", "claude", 2),
                row("r3", DEC_1 + 2, "k-ads", "ads", "gpt", 4), refused("r4", DEC_1 + 3, "k-ads", "ads", "gpt", 429),
                refused("r5", DEC_1 + 4, "k-ads", "ads", "gpt", 403));

        assertThat(values(queries.spend(GroupBy.KEY, team("search")))).containsExactly("k-search");
        assertThat(queries.spend(GroupBy.MODEL, new Filter(null, null, null, "k-search", "gpt", null, null)))
                .singleElement().satisfies(g -> assertThat(g.totals().costNanos()).isEqualByComparingTo("1"));
        assertThat(queries.requests(new Filter(null, null, "ads", null, null, 429, 430), null, 10).rows())
                .extracting(Row::requestId).containsExactly("r4");
        assertThat(queries.requests(new Filter(null, null, null, null, null, 400, 500), null, 10).rows())
                .extracting(Row::requestId).containsExactly("r5", "r4");
        assertThat(queries.requests(new Filter(null, null, "search", "k-ads", null, null, null), null, 10).rows())
                .isEmpty();
        assertThat(queries.spend(GroupBy.TEAM, team("nobody"))).isEmpty();
    }

    @Test
    void aRowComesBackWithEveryField() throws Exception {
        Row stored = new Row("req_1", DEC_1, "k", "t", "m", "d", "embeddings", 429, "refused", "rate_limited", 7, 8,
                9, 10, 11, true, true);
        insert(stored);

        assertThat(queries.requests(Filter.ALL, null, 1).rows()).containsExactly(stored);
    }

    @Test
    void requestsComeNewestFirstWithRowsOfOneMillisecondOrderedById() throws Exception {
        insert(row("b", DEC_1, "k", "t", "m", 1), row("a", DEC_1, "k", "t", "m", 1), row("old", DEC_1 - 5, "k", "t", "m", 1),
                row("new", DEC_1 + 5, "k", "t", "m", 1), row("c", DEC_1, "k", "t", "m", 1));

        assertThat(queries.requests(Filter.ALL, null, 10).rows()).extracting(Row::requestId)
                .containsExactly("new", "c", "b", "a", "old");
    }

    @Test
    void pagesCoverEveryRowExactlyOnceWhileNewerAndLateRowsArrive() throws Exception {
        List<Row> initial = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            initial.add(row("r" + i, DEC_1 + (i / 3) * 1000L, "k", "t", "m", 1)); // three rows share each second
        }
        insert(initial.toArray(Row[]::new));

        List<String> seen = new ArrayList<>();
        Cursor after = null;
        int pages = 0;
        do {
            Page page = queries.requests(Filter.ALL, after, 7);
            page.rows().forEach(r -> seen.add(r.requestId()));
            after = page.next();
            pages++;
            // while the client pages: newer requests end, and a batch of older ones lands late
            insert(row("new" + pages, DEC_1 + 100_000L + pages, "k", "t", "m", 1));
            if (pages == 2) {
                insert(row("late", DEC_1 - 1, "k", "t", "m", 1));
            }
        } while (after != null);

        assertThat(pages).isEqualTo(4);
        assertThat(new HashSet<>(seen)).hasSameSizeAs(seen); // no row twice
        assertThat(seen).containsAll(initial.stream().map(Row::requestId).toList()).contains("late")
                .noneMatch(id -> id.startsWith("new"));
    }

    @Test
    void theLastPageSaysSoAndAFullPageWithNothingAfterItToo() throws Exception {
        insert(row("r1", DEC_1, "k", "t", "m", 1), row("r2", DEC_1 + 1, "k", "t", "m", 1));

        Page first = queries.requests(Filter.ALL, null, 1);
        assertThat(first.rows()).extracting(Row::requestId).containsExactly("r2");
        assertThat(first.next()).isEqualTo(new Cursor(DEC_1 + 1, "r2"));
        Page second = queries.requests(Filter.ALL, first.next(), 1);
        assertThat(second.rows()).extracting(Row::requestId).containsExactly("r1");
        assertThat(second.next()).isNull();
        assertThat(queries.requests(Filter.ALL, null, 2).next()).isNull();
    }

    @Test
    void aCursorIsOpaqueAndComesBackAsItWas() {
        Cursor cursor = new Cursor(DEC_1, "chatcmpl-9f:x/y");
        String text = cursor.encode();

        assertThat(text).matches("[A-Za-z0-9_-]+");
        assertThat(Cursor.decode(text)).isEqualTo(cursor);
        assertThatThrownBy(() -> Cursor.decode("not a cursor")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Cursor.decode("eHl6")).isInstanceOf(IllegalArgumentException.class); // "xyz"
    }

    @Test
    void aKeyIsInATeamWhenTheLedgerHoldsARowOfItThere() throws Exception {
        insert(row("r1", DEC_1, "k-ads", "ads", "m", 1));

        assertThat(queries.keyHasRowsIn("k-ads", "ads")).isTrue();
        assertThat(queries.keyHasRowsIn("k-ads", "search")).isFalse();
        assertThat(queries.keyHasRowsIn("k-none", "ads")).isFalse();
    }
}
