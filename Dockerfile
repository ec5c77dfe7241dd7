# The sharedmetrics image: the one binary, which carries its reference data and starter
# catalogue (data/), running as an unprivileged user. Every component of the Helm chart
# (helm/sharedmetrics) runs this image with different args. From the repository:
#
#   docker build -t sharedmetrics:0.1.0 .
#
# Dockerfile.dockerignore (read by BuildKit, the default builder since Docker 23) keeps target/
# and local databases out of the context.
#
# Not built in this workplace: it has no docker engine. scripts/helm-lint.sh checks the chart
# that runs the image, not the image.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY ./ ./
# Cache mounts keep the registry and target/ between builds; the binary is copied out of the
# cached target/ into the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sharedmetrics \
    && install -D -m 0755 target/release/sharedmetrics /out/sharedmetrics

FROM debian:bookworm-slim
# checkov:skip=CKV_DOCKER_2:No HEALTHCHECK: Kubernetes ignores it and probes /health/livez, /health/readyz and gRPC health itself (helm/sharedmetrics), and the image carries no HTTP client to run one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 sharedmetrics \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/sharedmetrics \
       --shell /usr/sbin/nologin sharedmetrics \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/sharedmetrics
COPY --from=builder /out/sharedmetrics /usr/local/bin/sharedmetrics
# Listeners on every interface (the binary's defaults are 127.0.0.1); the reference data is in
# the binary (reference_data.dir points at newer files when a deployment has them).
# The working directory is the user's own, so the embedded default (SQLite at
# data/sharedmetrics.db, admin key at data/admin-api-key) works in a plain `docker run`;
# mount a volume on /var/lib/sharedmetrics to keep it.
ENV SHAREDMETRICS__GATEWAY__GRPC_ADDR=0.0.0.0:50051 \
    SHAREDMETRICS__GATEWAY__HTTP_ADDR=0.0.0.0:8080 \
    SHAREDMETRICS__SERVICES__DEFINITIONS__LISTEN_ADDR=0.0.0.0:50061 \
    SHAREDMETRICS__SERVICES__SUBMISSIONS__LISTEN_ADDR=0.0.0.0:50062 \
    SHAREDMETRICS__SERVICES__BENCHMARKING__LISTEN_ADDR=0.0.0.0:50063 \
    SHAREDMETRICS__SERVICES__COMMITMENTS__LISTEN_ADDR=0.0.0.0:50064
WORKDIR /var/lib/sharedmetrics
USER 10001:10001
# gRPC (gateway or single binary) and HTTP (health). A split service listens on 50061-50064.
EXPOSE 50051 8080
ENTRYPOINT ["sharedmetrics"]
CMD ["serve"]
