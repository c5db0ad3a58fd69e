# One image for a KCL worker, on a laptop (docker run) and on ECS Fargate.
#   DOCKER_BUILDKIT=1 docker build --network host -t kinesis-aggs-consumer .
# Every stage starts from one base made of Debian's packages (debian:trixie-slim; where
# Docker Hub cannot be reached, .ci/base-image.sh makes it with mmdebstrap: docs/docker.md).
# Python, the Java runtime, Maven, Node and tini are Debian's packages; the app and its
# Python dependencies come from PyPI into a venv; the KCL jars from Maven Central through
# pom.xml.  Stages: jars + a jlink Java runtime, the venv, two emulator images and a tools
# image (the devkit package) used only by compose.yaml, and the runtime (last, so it is what
# `docker build` produces; it holds the product package and the producer, no dev tools).
# No `# syntax=` line: BuildKit's built-in frontend serves RUN --mount.

ARG BASE_IMAGE=debian:trixie-slim

# --- the KCL jars (exactly the set `make setup` resolves), the launcher, a small JRE --------
FROM ${BASE_IMAGE} AS jars
# (the slim base has no man pages; the JDK's alternatives need the directory: Debian #863199)
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-21-jdk-headless maven binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pom.xml .
COPY launcher launcher
RUN --mount=type=cache,target=/root/.m2 \
    mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/app/jars \
        -Dmdep.prependGroupId=true \
 && mvn -q -B dependency:list -DincludeScope=runtime -DoutputFile=/app/jars/artifacts.txt \
        -DoutputAbsoluteArtifactFilename=false \
 && mvn -q -B package -DskipTests \
 && mkdir /app/launcher && cp target/kinesis-aggs-launcher.jar /app/launcher/
# The Java runtime: only the modules the jars use (jdeps), plus the ones they load by name
# (TLS's elliptic curves, Unsafe for netty, DNS); binutils strips the native libraries.
RUN modules=$(jdeps --ignore-missing-deps -q --recursive --multi-release 21 --print-module-deps \
                    --class-path '/app/jars/*' /app/launcher/kinesis-aggs-launcher.jar) \
 && echo "jdeps: $modules" \
 && jlink --add-modules "$modules,jdk.crypto.ec,jdk.unsupported,jdk.naming.dns" \
          --strip-debug --no-man-pages --no-header-files --compress=zip-6 --output /opt/java

# --- the venv: the app and its Python dependencies (amazon-kclpy without its jars) ---------
FROM ${BASE_IMAGE} AS venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/bin:/bin
COPY .ci/build-kclpy-wheel.sh .ci/build-kclpy-wheel.sh
RUN --mount=type=cache,target=/root/.cache/pip \
    bash .ci/build-kclpy-wheel.sh 3.2.0 /wheels python
COPY pyproject.toml README.md ./
COPY consumer_app consumer_app
COPY producer producer
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -q --find-links /wheels . \
 && pip uninstall -q -y pip

# --- emulators for compose.yaml (not part of the runtime image) ---------------------------
FROM ${BASE_IMAGE} AS kinesis-local-build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /emulator
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM ${BASE_IMAGE} AS kinesis-local
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10003 emulator \
 && useradd --system --uid 10003 --gid 10003 --no-create-home emulator
COPY --from=kinesis-local-build /emulator/node_modules /emulator/node_modules
WORKDIR /emulator/node_modules/kinesis-local
ENV KINESIS_MOCK_PLAIN_PORT=4567 KINESIS_MOCK_TLS_PORT=4566 CREATE_STREAM_DURATION=0ms \
    UPDATE_SHARD_COUNT_DURATION=200ms
EXPOSE 4567
USER 10003:10003
CMD ["node", "main.js"]

FROM ${BASE_IMAGE} AS dynamodb-local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10002 emulator \
 && useradd --system --uid 10002 --gid 10002 --no-create-home emulator
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/moto && /opt/moto/bin/pip install -q "moto[server]==5.2.5"
# the serialized moto server (devkit/local/dynamodb_server.py: moto alone loses
# concurrent first writes to a new item)
COPY devkit/local/dynamodb_server.py /srv/dynamodb_server.py
EXPOSE 4568
USER 10002:10002
CMD ["/opt/moto/bin/python", "/srv/dynamodb_server.py", "-H", "0.0.0.0", "-p", "4568"]

# --- tools for compose.yaml (not part of the runtime image): the stream and tables
# (`python -m devkit local init`), the producer and the reconciliation (`devkit local check`)
FROM ${BASE_IMAGE} AS tools
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10004 tools \
 && useradd --system --uid 10004 --gid 10004 --no-create-home tools
COPY --from=venv /opt/venv /opt/venv
WORKDIR /tools
COPY devkit devkit
ENV PATH=/opt/venv/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10004:10004
ENTRYPOINT ["python", "-m", "devkit"]

# --- runtime --------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ARG BASE_IMAGE
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kinesis-aggs-consumer" \
      org.opencontainers.image.description="KCL MultiLangDaemon worker: exact per-vendor tumbling-window aggregates of NYC-taxi trips from Kinesis into DynamoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# tini is PID 1: it forwards SIGTERM to the JVM (which runs the graceful shutdown:
# shutdown_requested and a final checkpoint per shard), reaps zombies, and with -e 143
# reports the JVM's "stopped by SIGTERM" status 143 as a clean exit 0.
# The user kcl (10001) has a group of its own (10001), not root's group 0, as every user of
# this file: nothing here is readable or writable through a shared group.  No file keeps a
# setuid or setgid bit (su, passwd, mount...): no-new-privileges cannot be set on Fargate
# (docs/deploy-aws.md, "Hardening"), so nothing here could raise a process's privileges.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 kcl \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home kcl \
 && find / -xdev -type f -perm /6000 -exec chmod a-s {} + \
 && chown 10001:10001 /tmp
# /tmp is the one writable path (rendered properties, heartbeats, the JVM's temp files).  On
# ECS it is Fargate task storage, which Fargate mounts as root's with mode 0755 unless the
# image declares the path a VOLUME: then it takes this directory (owner kcl, mode 1777).
VOLUME ["/tmp"]
COPY --from=jars /opt/java /opt/java
COPY --from=jars /app/jars /app/jars
COPY --from=jars /app/launcher /app/launcher
COPY --from=venv /opt/venv /opt/venv

ENV JAVA_HOME=/opt/java \
    PATH=/opt/venv/bin:/opt/java/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KCL_JARS_DIR=/app/jars \
    KCL_LAUNCHER_JAR=/app/launcher/kinesis-aggs-launcher.jar \
    KCL_PROPERTIES_DIR=/app/properties \
    KCL_RUN_DIR=/tmp/kcl-run \
    HEARTBEAT_DIR=/tmp/kcl-health \
    KCL_PROFILE=aws \
    JAVA_OPTS="-XX:+UseSerialGC -XX:MaxRAMPercentage=60 -XX:+ExitOnOutOfMemoryError"

WORKDIR /app
COPY properties /app/properties

USER 10001:10001
STOPSIGNAL SIGTERM
# Healthy = the daemon runs and every leased shard made progress (batch, idle poll or
# write attempt) within HEALTH_MAX_AGE_SECONDS (default 180).  The same figures as the ECS
# task definition (infra/kinesis_aggs_infra/service.py).
HEALTHCHECK --interval=10s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "consumer_app", "health"]
ENTRYPOINT ["tini", "-e", "143", "--", "python", "-m", "consumer_app"]
CMD ["run"]
