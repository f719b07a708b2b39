package dev.caravan.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.provider.ChatResult;

/** What a before-hook decided. A closed family: the chain handles each kind. */
public sealed interface Decision {

    /** Go on with the request as it is. */
    Decision CONTINUE = new Continue(null);

    /** Go on; {@code request} (canonical, non-null) replaces the one the next policies and the call see. */
    static Decision proceed(ObjectNode request) {
        return new Continue(request);
    }

    /** Answer now: the call is skipped (a cache hit). A streaming client gets the answer as a stream. */
    static Decision answer(ChatResult answer) {
        return new Answer(answer);
    }

    /** Refuse: the client gets this error in its dialect's shape; no later policy and no call runs. */
    static Decision refuse(GatewayException error) {
        return new Refuse(error);
    }

    record Continue(ObjectNode request) implements Decision {
    }

    record Answer(ChatResult answer) implements Decision {
    }

    record Refuse(GatewayException error) implements Decision {
    }
}
