# syntax=docker/dockerfile:1
# One image for a KCL worker, on a laptop (docker run) and on ECS Fargate.
#   docker build -t kinesis-aggs-consumer .
# Stages: jars (Maven resolves the KCL MultiLangDaemon jars from pom.xml), wheels (the
# app and amazon-kclpy), two emulator images used only by compose.yaml, and the slim
# runtime (last, so it is what `docker build` produces).

ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm
ARG MAVEN_IMAGE=maven:3.9.9-eclipse-temurin-17
ARG JRE_IMAGE=eclipse-temurin:17.0.13_11-jre-jammy
ARG NODE_IMAGE=node:20.18.1-bookworm-slim

# --- the KCL jars, exactly the set `make setup` resolves, and the worker launcher -----------
FROM ${MAVEN_IMAGE} AS jars
WORKDIR /build
COPY pom.xml .
COPY launcher launcher
RUN mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/jars \
        -Dmdep.prependGroupId=true \
 && mvn -q -B dependency:list -DincludeScope=runtime -DoutputFile=/jars/artifacts.txt \
 && mvn -q -B package \
 && mkdir /launcher && cp target/kinesis-aggs-launcher.jar /launcher/ \
 && rm -rf /root/.m2

# --- Python wheels: the app and amazon-kclpy (Python only: the jars come from Maven) --------
FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /build
COPY .ci/build-kclpy-wheel.sh .ci/build-kclpy-wheel.sh
RUN bash .ci/build-kclpy-wheel.sh 3.2.0 /wheels python
COPY pyproject.toml README.md ./
COPY consumer_app consumer_app
COPY producer producer
RUN pip wheel --no-cache-dir --find-links /wheels -w /wheels .

# --- emulators for compose.yaml (not part of the runtime image) ---------------------------
FROM ${NODE_IMAGE} AS kinesis-local
WORKDIR /emulator
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
WORKDIR /emulator/node_modules/kinesis-local
ENV KINESIS_MOCK_PLAIN_PORT=4567 KINESIS_MOCK_TLS_PORT=4566 CREATE_STREAM_DURATION=0ms \
    UPDATE_SHARD_COUNT_DURATION=200ms
EXPOSE 4567
USER 1000
CMD ["node", "main.js"]

FROM ${PYTHON_IMAGE} AS dynamodb-local
RUN pip install --no-cache-dir "moto[server]==5.2.5" \
 && useradd --system --uid 10002 --no-create-home emulator
# the serialized moto server (consumer_app/local/dynamodb_server.py: moto alone loses
# concurrent first writes to a new item)
COPY consumer_app/local/dynamodb_server.py /srv/dynamodb_server.py
EXPOSE 4568
USER 10002
CMD ["python", "/srv/dynamodb_server.py", "-H", "0.0.0.0", "-p", "4568"]

# --- the Java runtime, copied into the Python image ------------------------------------------
FROM ${JRE_IMAGE} AS jre

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kinesis-aggs-consumer" \
      org.opencontainers.image.description="KCL MultiLangDaemon worker: exact per-vendor tumbling-window aggregates of NYC-taxi trips from Kinesis into DynamoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# tini is PID 1: it forwards SIGTERM to the JVM (which runs the graceful shutdown:
# shutdown_requested and a final checkpoint per shard), reaps zombies, and with -e 143
# reports the JVM's "stopped by SIGTERM" status 143 as a clean exit 0.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --gid 0 --home-dir /app --no-create-home kcl
COPY --from=jre /opt/java/openjdk /opt/java/openjdk

ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:/usr/local/bin:/usr/bin:/bin \
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
COPY --from=jars /jars /app/jars
COPY --from=jars /launcher /app/launcher
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "kinesis-aggs-consumer==${VERSION}"
COPY properties /app/properties

USER 10001
STOPSIGNAL SIGTERM
# Healthy = the daemon runs and every leased shard made progress (batch, idle poll or
# write attempt) within HEALTH_MAX_AGE_SECONDS (default 180). KCL can take 2 min to start.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "consumer_app", "health"]
ENTRYPOINT ["tini", "-e", "143", "--", "python", "-m", "consumer_app"]
CMD ["run"]
