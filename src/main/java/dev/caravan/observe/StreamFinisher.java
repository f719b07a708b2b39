package dev.caravan.observe;

import dev.caravan.core.ExchangeKeys;
import dev.caravan.stream.MeteredStream;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.ExchangeHelper;

/**
 * Post-processing for a stream waits for its end: the exchange is done long before the last chunk, so a copy of
 * it is sent to the recording route once the stream says how it ended (done, client gone, failed).
 */
public final class StreamFinisher {

    private final ProducerTemplate template;

    public StreamFinisher(CamelContext context) {
        this.template = context.createProducerTemplate();
    }

    public void deferUntilEnd(Exchange exchange, String endpointUri) {
        MeteredStream stream = exchange.getProperty(ExchangeKeys.RELAY, MeteredStream.class);
        Exchange copy = ExchangeHelper.createCopy(exchange, true);
        copy.removeProperty(ExchangeKeys.RELAY);
        stream.onEnd(end -> {
            if (end.outcome() == MeteredStream.Outcome.ABANDONED) {
                return; // the error path records this request
            }
            copy.setProperty(ExchangeKeys.USAGE, end.usage());
            copy.setProperty(ExchangeKeys.TTFT_NANOS, end.ttftNanos());
            copy.setProperty(ExchangeKeys.OUTCOME, end.outcome().name().toLowerCase(java.util.Locale.ROOT));
            if (end.error() != null) {
                copy.setProperty(ExchangeKeys.ERROR_CODE, end.error().code());
            }
            // synchronous and cheap (metrics, an async log appender): done before the relay counts the stream closed (its listener comes last),
            // so a shutdown that waits for open streams also waits for their records
            template.send(endpointUri, copy);
        });
    }
}
