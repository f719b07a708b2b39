package dev.caravan.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * {@code auth:} in config/gateway.yaml: who else may call besides virtual keys.
 *
 * @param oidc the OpenID Connect / OAuth 2.0 issuers whose JWT access tokens are accepted, in config order; empty:
 *             only virtual keys (and the master key)
 */
public record AuthConfig(List<Oidc> oidc) {

    public static final AuthConfig NONE = new AuthConfig(List.of());

    public AuthConfig {
        oidc = oidc == null ? List.of() : List.copyOf(oidc);
    }

    /**
     * One trusted issuer ({@code auth.oidc: {...}} or one entry of a list of them).
     *
     * @param issuer       the {@code iss} a token must carry, exactly
     * @param audiences    a token's {@code aud} must hold one of these
     * @param jwksUrl      where the signing keys are; null: read {@code jwks_uri} from
     *                     {@code <issuer>/.well-known/openid-configuration}
     * @param teamClaim    the claim that names the caller's team (a dotted path reaches into objects:
     *                     {@code realm_access.roles}); null: the default team
     * @param roleClaim    the claim that names the caller's role (a string, or an array: the first value that is a
     *                     Caravan role wins); null: the default role
     * @param subjectClaim the claim that names the caller (default {@code sub}); it stands where a key id would
     * @param defaultTeam  the team when the claim is absent, or null (no team)
     * @param defaultRole  the role when the claim is absent or names no Caravan role (default {@code user})
     * @param leeway       clock skew allowed on {@code exp} and {@code nbf} (default 60 s)
     */
    public record Oidc(String issuer, List<String> audiences, URI jwksUrl, String teamClaim, String roleClaim,
                       String subjectClaim, String defaultTeam, String defaultRole, Duration leeway) {
        public static final Duration DEFAULT_LEEWAY = Duration.ofSeconds(60);

        public Oidc {
            audiences = List.copyOf(audiences);
            subjectClaim = subjectClaim == null ? "sub" : subjectClaim;
            defaultRole = defaultRole == null ? "user" : defaultRole;
            leeway = leeway == null ? DEFAULT_LEEWAY : leeway;
        }
    }
}
