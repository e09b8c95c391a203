# syntax=docker/dockerfile:1
# Packages come from tools/packages.txt through tools/setup, the same list ./tools/run installs.
# Stages: build, cluster (deploy/compose.yaml's Redis, Sentinels, nginx), runtime (callsignd; default).

FROM debian:bookworm AS build
WORKDIR /src
COPY tools/setup tools/packages.txt tools/
RUN ./tools/setup build
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCALLSIGN_TESTS=OFF -DCALLSIGN_BENCH=OFF \
 && cmake --build /build --target callsignd callsign -j"$(nproc)"

# Redis, its Sentinels and nginx for the three-node example (deploy/compose.yaml): the `cluster`
# packages of tools/packages.txt, run as the same uid as the nodes. Not the default target.
FROM debian:bookworm-slim AS cluster
COPY tools/setup tools/packages.txt /opt/callsign/tools/
RUN /opt/callsign/tools/setup cluster && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin callsign \
 && install -d -o callsign -g callsign -m 0700 /data
USER callsign
WORKDIR /data

# The node image (the default target): the `runtime` packages, the same list the .deb's
# dependencies are checked against (tests/packaging/package_test.py).
FROM debian:bookworm-slim AS runtime
COPY tools/setup tools/packages.txt /opt/callsign/tools/
RUN /opt/callsign/tools/setup runtime && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /var/lib/callsign --shell /usr/sbin/nologin callsign \
 && install -d -o callsign -g callsign -m 0700 /var/lib/callsign
COPY --from=build /build/server/callsignd /build/tools/callsign /usr/local/bin/
COPY web/ /usr/share/callsign/web/
# server.web_root defaults to "web" relative to the working directory: /usr/share/callsign/web.
WORKDIR /usr/share/callsign
USER callsign
VOLUME ["/var/lib/callsign"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/callsignd", "--data-dir", "/var/lib/callsign", "--listen", "0.0.0.0:8080"]
