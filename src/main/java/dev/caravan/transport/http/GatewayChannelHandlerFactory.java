package dev.caravan.transport.http;

import io.netty.channel.ChannelHandler;
import org.apache.camel.component.netty.DefaultChannelHandlerFactory;

/** Gives each HTTP connection its own {@link GatewayChannelHandler}; bound as a bean for the endpoint's {@code encoders}. */
public final class GatewayChannelHandlerFactory extends DefaultChannelHandlerFactory {

    private final long maxBodyBytes;
    private final DoorWitness witness;

    public GatewayChannelHandlerFactory(long maxBodyBytes) {
        this(maxBodyBytes, DoorWitness.NONE);
    }

    /** @param witness hears of each request the listener answers without a route (counted, logged) */
    public GatewayChannelHandlerFactory(long maxBodyBytes, DoorWitness witness) {
        this.maxBodyBytes = maxBodyBytes;
        this.witness = witness;
    }

    @Override
    public ChannelHandler newChannelHandler() {
        return new GatewayChannelHandler(maxBodyBytes, witness);
    }
}
