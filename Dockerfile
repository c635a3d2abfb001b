# Build and run Hearth (used by fly.toml; works with any container runtime). One process serves
# the PDS and the AppView on one port, told apart by hostname (HEARTH_SINGLE_PORT): put one TLS
# front before it for every hostname. docs/deploy.md has the rest.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin hearth

FROM debian:bookworm-slim
# curl only for the container health check below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin hearth \
 && mkdir -p /data && chown hearth:hearth /data && chmod 700 /data
COPY --from=build /src/target/release/hearth /usr/local/bin/hearth
COPY scripts/docker-entrypoint /usr/local/bin/docker-entrypoint
ENV HEARTH_DATA_DIR=/data \
    HEARTH_BIND=0.0.0.0 \
    HEARTH_PORT=8080 \
    HEARTH_SINGLE_PORT=true \
    HEARTH_METRICS_PORT=9091 \
    HEARTH_METRICS_BIND=0.0.0.0 \
    HEARTH_LOG_FORMAT=json
VOLUME /data
# 8080: the PDS and the AppView (by hostname). 9091: /metrics and /xrpc/_health, unauthenticated:
# publish it only on a private network.
EXPOSE 8080 9091
# hearth finishes in-flight requests, closes firehose subscribers and checkpoints its databases
# on SIGTERM, within 10 s: give it at least that before SIGKILL (docker stop -t 15).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s \
  CMD curl -fsS "http://127.0.0.1:${HEARTH_METRICS_PORT}/xrpc/_health" || exit 1
ENTRYPOINT ["docker-entrypoint"]
CMD ["hearth", "serve"]
