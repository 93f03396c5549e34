# syntax=docker/dockerfile:1
# Container image of dameng_exporter: debian:bookworm-slim, unixODBC, a non-root user, the
# binary from the release tarball that scripts/package.sh builds (glibc 2.17, so it runs here).
#
#   scripts/package.sh                       # target/dist/dameng_exporter-<version>-linux-*.tar.gz
#   docker build -t dameng_exporter:0.1.0 .                         # this machine's architecture
#   docker buildx build --platform linux/amd64,linux/arm64 -t dameng_exporter:0.1.0 .
#
# DM's ODBC driver is NOT in the image (it comes with DM, under DM's licence). Mount the
# directory that holds libdodbc.so and the libraries beside it (libdmdpi.so, libdmfldr.so, ...;
# $DM_HOME/bin of a DM server or client installation) at /opt/dmdbms/bin, read-only:
#
#   docker run -d -p 9200:9200 \
#     -v /opt/dmdbms/bin:/opt/dmdbms/bin:ro \
#     -v /etc/dameng_exporter:/etc/dameng_exporter:ro \
#     dameng_exporter:0.1.0
#
# The image registers that path in /etc/odbcinst.ini as "DM8 ODBC DRIVER" (the default
# odbcDriver), puts /opt/dmdbms/bin on LD_LIBRARY_PATH, and provides libodbcinst.so under
# exactly that name, which libdodbc.so needs (DM ODBC guide §3.4.2, docs/DM8_EVIDENCE.md F7;
# Debian's unixodbc ships only libodbcinst.so.2). To copy the driver into a derived image
# instead:  FROM dameng_exporter:0.1.0  +  COPY dm-odbc/ /opt/dmdbms/bin/
# Check it with: docker run --rm -v ... dameng_exporter:0.1.0 --check-config --config ...
FROM debian:bookworm-slim

# set by buildx (amd64, arm64); plain `docker build` sets it to the build host's architecture
ARG TARGETARCH
ARG VERSION=0.1.0

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends unixodbc ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    multiarch="$(uname -m)-linux-gnu"; \
    ln -sf libodbcinst.so.2 "/usr/lib/$multiarch/libodbcinst.so"; \
    printf '[DM8 ODBC DRIVER]\nDescription = DM8 ODBC driver (mounted at /opt/dmdbms/bin)\nDriver = /opt/dmdbms/bin/libdodbc.so\n' >>/etc/odbcinst.ini; \
    mkdir -p /opt/dmdbms/bin; \
    useradd --system --uid 10001 --user-group --home-dir /var/lib/dameng_exporter \
        --create-home --shell /usr/sbin/nologin dameng_exporter

# the tarball of the image's architecture, extracted without keeping it in a layer
RUN --mount=type=bind,source=target/dist,target=/dist set -eux; \
    case "${TARGETARCH:-$(dpkg --print-architecture)}" in \
        amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; \
        *) echo "unsupported architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    tar -xzf "/dist/dameng_exporter-${VERSION}-linux-${arch}.tar.gz" -C /tmp; \
    src="/tmp/dameng_exporter-${VERSION}-linux-${arch}"; \
    install -m 0755 "$src/dameng_exporter" /usr/local/bin/dameng_exporter; \
    install -d -m 0755 /etc/dameng_exporter /usr/share/dameng_exporter; \
    install -m 0644 "$src/dameng_exporter.toml" /etc/dameng_exporter/dameng_exporter.toml; \
    cp -r "$src/examples" /usr/share/dameng_exporter/; \
    rm -rf "$src"; \
    dameng_exporter --version

ENV LD_LIBRARY_PATH=/opt/dmdbms/bin
USER dameng_exporter
WORKDIR /var/lib/dameng_exporter
EXPOSE 9200
# the packaged configuration sets logDir = "": logs go to stdout (docker logs)
ENTRYPOINT ["/usr/local/bin/dameng_exporter"]
CMD ["--config", "/etc/dameng_exporter/dameng_exporter.toml"]
