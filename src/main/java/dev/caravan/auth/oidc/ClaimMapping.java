package dev.caravan.auth.oidc;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.caravan.auth.Principal;
import dev.caravan.auth.Role;
import dev.caravan.config.AuthConfig;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.GatewayException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A verified token's claims as a {@link Principal}: the subject claim stands where a key id would, the team and role
 * claims (strings or arrays) are read for the first value the gateway knows, and the team's models and regions
 * bound what the caller may use, as they bound a team's keys.
 */
final class ClaimMapping {

    private ClaimMapping() {
    }

    static Principal principal(JWTClaimsSet claims, AuthConfig.Oidc issuer, GatewayConfig config) {
        Object subject = claim(claims, issuer.subjectClaim());
        if (!(subject instanceof String id) || id.isBlank()) {
            throw GatewayException.unauthorized("The token names no subject (claim '"
                    + GatewayException.quote(issuer.subjectClaim()) + "').");
        }
        String team = team(claims, issuer, config);
        TeamConfig teamConfig = config.team(team).orElse(null);
        return new Principal(id, team, role(claims, issuer), teamConfig == null ? null : teamConfig.models(),
                teamConfig == null ? null : teamConfig.regions());
    }

    /**
     * The first value of the team claim that names a configured team; else the default team. A token that names
     * only teams the gateway does not have, with no default to fall back on, is refused (403): it would otherwise
     * run outside every team's budget and model list.
     */
    private static String team(JWTClaimsSet claims, AuthConfig.Oidc issuer, GatewayConfig config) {
        if (issuer.teamClaim() == null) {
            return issuer.defaultTeam();
        }
        List<String> named = texts(claim(claims, issuer.teamClaim()));
        for (String team : named) {
            if (config.team(team).isPresent()) {
                return team;
            }
        }
        if (issuer.defaultTeam() != null || named.isEmpty()) {
            return issuer.defaultTeam();
        }
        throw GatewayException.forbidden("team_not_found", "The token's claim '"
                + GatewayException.quote(issuer.teamClaim()) + "' names team '" + GatewayException.quote(named.get(0))
                + "'" + (named.size() > 1 ? " (and " + (named.size() - 1) + " more)" : "")
                + ", which this gateway does not have; define it under teams, or set auth.oidc defaults.team.");
    }

    /** The first value of the role claim that is a Caravan role ({@link Role}); else the default role. */
    private static String role(JWTClaimsSet claims, AuthConfig.Oidc issuer) {
        if (issuer.roleClaim() != null) {
            for (String role : texts(claim(claims, issuer.roleClaim()))) {
                if (Role.parse(role) != null) {
                    return role;
                }
            }
        }
        return issuer.defaultRole();
    }

    /**
     * A claim by name: the whole name first (Auth0's namespaced claims are URLs, dots included), else a dotted path
     * into nested objects ({@code realm_access.roles}). Null when absent.
     */
    static Object claim(JWTClaimsSet claims, String name) {
        Map<String, Object> all = claims.getClaims();
        if (all.containsKey(name)) {
            return all.get(name);
        }
        Object at = all;
        for (String part : name.split("\\.", -1)) {
            if (!(at instanceof Map<?, ?> object)) {
                return null;
            }
            at = object.get(part);
        }
        return at;
    }

    /** A string claim as one value, an array as its strings in order; anything else as none. */
    private static List<String> texts(Object claim) {
        if (claim instanceof String s) {
            return List.of(s);
        }
        List<String> texts = new ArrayList<>();
        if (claim instanceof List<?> list) {
            for (Object item : list) {
                if (item instanceof String s) {
                    texts.add(s);
                }
            }
        }
        return texts;
    }
}
