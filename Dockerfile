# syntax=docker/dockerfile:1
# Packages come from tools/packages.txt through tools/setup, the same list ./tools/run installs.

FROM debian:bookworm AS build
WORKDIR /src
COPY tools/setup tools/packages.txt tools/
RUN ./tools/setup build
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCALLSIGN_TESTS=OFF -DCALLSIGN_BENCH=OFF \
 && cmake --build /build --target callsignd callsign -j"$(nproc)"

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
