package dev.caravan.transport.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the ordering does with the buffers it holds, seen on one connection: nothing is lost or leaked, and reading
 * pauses rather than buffering without end.
 */
class GatewayChannelHandlerTest {

    static HttpRequest post() {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions");
    }

    static FullHttpResponse ok() {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.copiedBuffer("{}", StandardCharsets.US_ASCII));
        r.headers().set("content-length", 2);
        return r;
    }

    @Test
    void aRequestWaitsForTheAnswerBeforeItThenGoesUpWithItsBody() {
        EmbeddedChannel ch = new EmbeddedChannel(new GatewayChannelHandler(1024));
        HttpRequest first = post();
        ch.writeInbound(first, LastHttpContent.EMPTY_LAST_CONTENT);
        assertThat((Object) ch.readInbound()).isSameAs(first);
        assertThat((Object) ch.readInbound()).isSameAs(LastHttpContent.EMPTY_LAST_CONTENT);

        HttpRequest second = post();
        ByteBuf body = Unpooled.copiedBuffer("{\"model\":\"x\"}", StandardCharsets.US_ASCII);
        ch.writeInbound(second, new DefaultHttpContent(body), LastHttpContent.EMPTY_LAST_CONTENT);
        assertThat((Object) ch.readInbound()).as("held while the first is answered").isNull();

        ch.writeOutbound(ok());
        assertThat((Object) ch.readInbound()).isSameAs(second);
        assertThat(((DefaultHttpContent) ch.readInbound()).content()).isSameAs(body);
        assertThat((Object) ch.readInbound()).isSameAs(LastHttpContent.EMPTY_LAST_CONTENT);
        ch.finishAndReleaseAll();
    }

    @Test
    void heldRequestsAreDroppedWithTheirBuffersWhenTheClientLeaves() {
        EmbeddedChannel ch = new EmbeddedChannel(new GatewayChannelHandler(1024));
        ch.writeInbound(post(), LastHttpContent.EMPTY_LAST_CONTENT);
        ByteBuf body = Unpooled.copiedBuffer("held body", StandardCharsets.US_ASCII);
        ch.writeInbound(post(), new DefaultHttpContent(body));
        assertThat(body.refCnt()).isEqualTo(1);
        ch.close();
        assertThat(body.refCnt()).as("released on close").isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void readingPausesWhileHeldBodiesPileUpAndResumesWhenTheirTurnComes() {
        EmbeddedChannel ch = new EmbeddedChannel(new GatewayChannelHandler(1024));
        ch.writeInbound(post(), LastHttpContent.EMPTY_LAST_CONTENT);
        ch.writeInbound(post());
        for (long held = 0; held < GatewayChannelHandler.PAUSE_HELD_BYTES; held += 8192) {
            ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[8192])));
        }
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.writeOutbound(ok());
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void aPipelinedRequestWithRefusedFramingWaitsItsTurnThenCloses() {
        EmbeddedChannel ch = new EmbeddedChannel(new GatewayChannelHandler(1024));
        ch.writeInbound(post(), LastHttpContent.EMPTY_LAST_CONTENT);
        HttpRequest smuggled = post();
        smuggled.headers().set("content-length", 4).set("transfer-encoding", "chunked");
        ch.writeInbound(smuggled);
        assertThat((Object) ch.readOutbound()).as("nothing overtakes the answer in flight").isNull();
        ch.writeOutbound(ok());
        assertThat(((FullHttpResponse) ch.readOutbound()).status().code()).isEqualTo(200);
        FullHttpResponse refusal = ch.readOutbound();
        assertThat(refusal.status().code()).isEqualTo(400);
        assertThat(refusal.content().toString(StandardCharsets.UTF_8)).contains("\"error\":{");
        refusal.release();
        ch.runPendingTasks();
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }
}
