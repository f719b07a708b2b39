package dev.caravan.transport.http;

import io.netty.channel.ChannelHandler;
import org.apache.camel.component.netty.DefaultChannelHandlerFactory;

/** Gives each HTTP connection its own {@link GatewayChannelHandler}; bound as a bean for the endpoint's {@code encoders}. */
public final class GatewayChannelHandlerFactory extends DefaultChannelHandlerFactory {

    private final long maxBodyBytes;

    public GatewayChannelHandlerFactory(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public ChannelHandler newChannelHandler() {
        return new GatewayChannelHandler(maxBodyBytes);
    }
}
