# Build with the Maven wrapper, run on a JRE as a non-root user.
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
RUN ./mvnw -B -ntp dependency:go-offline
COPY src src
COPY config config
RUN ./mvnw -B -ntp -DskipTests package

FROM eclipse-temurin:17-jre
RUN useradd --system --uid 10001 --home-dir /app caravan
WORKDIR /app
COPY --from=build /src/target/caravan.jar /app/caravan.jar
COPY config /app/config
COPY routes /app/routes
# the spend ledger's H2 file (CARAVAN_DATA_DIR): writable by the gateway's user; mount a volume to keep it, or set
# CARAVAN_DB_URL to use PostgreSQL instead
RUN mkdir -p /app/data && chown 10001 /app/data
VOLUME /app/data
ENV CARAVAN_DATA_DIR=/app/data
# the semantic cache's tokenizer library is unpacked once into DJL_CACHE_DIR (ONNX Runtime's into /tmp at each start)
ENV DJL_CACHE_DIR=/app/data/djl
USER 10001
EXPOSE 4000
# as bin/caravan, measured in bench/README.md ("Tuning"): the parallel collector, a heap touched at start that may
# grow (sized by the container's memory limit: give it 640 MiB or more, so the heap can reach bin/caravan's 384 MB,
# which one 32 MiB request body needs), the young generation held at 48 MB, two malloc arenas
ENV JAVA_OPTS="-XX:+UseParallelGC -XX:InitialRAMPercentage=25 -XX:MaxRAMPercentage=60 -XX:MaxNewSize=48m -XX:+AlwaysPreTouch -XX:+ExitOnOutOfMemoryError" \
    MALLOC_ARENA_MAX=2
# ready = GET /health/ready answers 200 (503 while shutting down; no answer while starting). The JRE image
# promises no curl or wget: bash's /dev/tcp speaks the one request; CARAVAN_PORT moves the listener and the check with it
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${CARAVAN_PORT:-4000} && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["sh", "-c", "exec java $JAVA_OPTS -jar /app/caravan.jar"]
