package dev.caravan.admin;

import dev.caravan.auth.Role;
import dev.caravan.core.GatewayException;

/**
 * What a caller of the admin API may see and touch: an admin everything; a team-admin and a viewer only their own
 * team. Something outside a caller's scope is "not found" (404), never "forbidden", so ids do not leak.
 */
public final class AdminScope {

    private AdminScope() {
    }

    /** 403 unless the caller's role is at least {@code least}. */
    public static void require(AdminRequest request, Role least) {
        Role role = request.role();
        if (role == null || role.ordinal() < least.ordinal()) {
            throw GatewayException.forbidden("insufficient_role", "This endpoint needs role " + least.text()
                    + " or above; this caller has role " + request.principal().role() + ".");
        }
    }

    /** The team the caller is bound to, or null for an admin (every team). A team role without a team: 403. */
    public static String team(AdminRequest request) {
        if (request.role() == Role.ADMIN) {
            return null;
        }
        String team = request.principal().team();
        if (team == null) {
            throw GatewayException.forbidden("insufficient_role",
                    "This caller has role " + request.principal().role() + " but no team, so no team's data to see.");
        }
        return team;
    }

    /** Whether something of {@code team} is within the caller's scope. */
    public static boolean sees(AdminRequest request, String team) {
        String own = team(request);
        return own == null || own.equals(team);
    }

    /** A 404 in the OpenAI error shape, naming what was asked for. */
    public static GatewayException notFound(String what, String id) {
        return GatewayException.notFound("not_found", "No " + what + " '" + id + "' exists.");
    }
}
