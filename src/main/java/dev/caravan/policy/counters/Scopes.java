package dev.caravan.policy.counters;

/** The names counters go by: {@code <what>:<kind>:<id>}, e.g. {@code rpm:key:search-prod}, {@code budget:team:search:30d}. */
public final class Scopes {

    public static final String KEY = "key";
    public static final String TEAM = "team";
    public static final String MODEL = "model";

    private Scopes() {
    }

    public static String of(String what, String kind, String id) {
        return what + ":" + kind + ":" + id;
    }

    /** The kind ({@code key}, {@code team}, {@code model}) of a scope name. */
    public static String kind(String scope) {
        int a = scope.indexOf(':');
        int b = scope.indexOf(':', a + 1);
        return scope.substring(a + 1, b);
    }

    /** The id in a scope name (a budget scope's period suffix excluded). */
    public static String id(String scope) {
        int a = scope.indexOf(':');
        int b = scope.indexOf(':', a + 1);
        String rest = scope.substring(b + 1);
        return scope.startsWith("budget:") ? rest.substring(0, rest.lastIndexOf(':')) : rest;
    }
}
