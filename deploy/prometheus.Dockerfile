# Prometheus from Debian's package, for deploy/compose.yaml (works where no image registry is
# reachable; Docker users may use prom/prometheus instead, with the same prometheus.yml).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/*
USER prometheus
EXPOSE 9090
CMD ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", \
     "--storage.tsdb.path=/tmp/prometheus", "--web.listen-address=0.0.0.0:9090"]
