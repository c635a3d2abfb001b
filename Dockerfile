# Build and run Hearth (used by fly.toml).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin hearth

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hearth /usr/local/bin/hearth
VOLUME /data
EXPOSE 2583 2584
CMD ["hearth", "serve"]
