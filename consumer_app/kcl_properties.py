"""MultiLangDaemon properties: parse, merge, validate and render (pure).

The daemon's properties are case-sensitive, silently ignore unknown keys and do no
``${ENV}`` substitution (docs/design.md#the-properties-file).  So the file it reads is rendered at start from
``properties/base.properties``, the profile's overrides and the settings, and any key
not in :data:`KNOWN_KEYS` is an error instead of a silent no-op.
"""

from __future__ import annotations

from collections.abc import Mapping

from consumer_app.settings import RETRIEVAL_MODES, Settings


class PropertiesError(ValueError):
    pass


#: Keys of KCL 3.x MultiLangDaemonConfiguration (its bean setters) plus executableName.
#: tests/unit/test_kcl_properties.py checks this list against the jar on the classpath.
KNOWN_KEYS = frozenset(
    (
        "executableName", "processingLanguage", "allowThroughputOvershoot", "applicationName",
        "AwsCredentialsProvider", "AwsCredentialsProviderCloudWatch",
        "AwsCredentialsProviderDynamoDB", "callProcessRecordsEvenForEmptyRecordList",
        "cleanupLeasesUponShardCompletion", "clientVersionConfig", "coordinatorStateBillingMode",
        "coordinatorStateDeletionProtectionEnabled", "coordinatorStatePointInTimeRecoveryEnabled",
        "coordinatorStateReadCapacity", "coordinatorStateTableName", "coordinatorStateTags",
        "coordinatorStateWriteCapacity", "dampeningPercentage", "disableWorkerMetrics",
        "dynamoDBEndpoint", "enablePriorityLeaseAssignment", "failoverTimeMillis",
        "gracefulLeaseHandoffTimeoutMillis", "idleTimeBetweenReadsInMillis",
        "ignoreUnexpectedChildShards", "inMemoryWorkerMetricsCaptureFrequencyMillis",
        "initialLeaseTableReadCapacity", "initialLeaseTableWriteCapacity",
        "initialPositionInStream", "initialPositionInStreamExtended",
        "isGracefulLeaseHandoffEnabled", "kinesisEndpoint", "leaseAssignmentIntervalMillis",
        "leaseTableDeletionProtectionEnabled", "leaseTablePitrEnabled",
        "listShardsBackoffTimeInMillis", "logWarningForTaskAfterMillis", "maxGetRecordsThreadPool",
        "maxLeaseRenewalThreads", "maxLeasesForWorker", "maxLeasesToStealAtOneTime",
        "maxListShardsRetryAttempts", "maxRecords", "maxThroughputPerHostKBps",
        "metricsBufferTimeMillis", "metricsEnabledDimensions", "metricsLevel",
        "metricsMaxQueueSize", "millisBehindLatestThresholdForReducedTps",
        "noOfPersistedMetricsPerWorkerMetrics", "parentShardPollIntervalMillis",
        "reBalanceThresholdPercentage", "regionName", "retrievalMode", "retryGetRecordsInSeconds",
        "schedulerInitializationBackoffTimeMillis", "shardPrioritization",
        "shardSyncIntervalMillis", "shutdownGraceMillis",
        "skipShardSyncAtWorkerInitializationIfLeasesExist",
        "staleWorkerMetricsEntryCleanupDuration", "streamArn", "streamName", "tableName",
        "taskBackoffTimeMillis", "timeoutInSeconds", "validateSequenceNumberBeforeCheckpointing",
        "varianceBalancingFrequency", "workerId", "workerIdentifier", "workerMetricsBillingMode",
        "workerMetricsDeletionProtectionEnabled", "workerMetricsEMAAlpha",
        "workerMetricsPointInTimeRecoveryEnabled", "workerMetricsReadCapacity",
        "workerMetricsReporterFreqInMillis", "workerMetricsTableName", "workerMetricsTags",
        "workerMetricsWriteCapacity",
    )
)
#: KCL Java settings the daemon's properties do not expose, read from the same file by the
#: worker launcher (launcher/src/main/java/kinesisaggs/launcher/Tuning.java; the daemon's
#: own parser skips them).  tests/unit/test_kcl_properties.py checks the list against it.
LAUNCHER_KEYS = frozenset({
    "shardConsumerDispatchPollIntervalMillis", "leaseAssignmentStrategy",
    "dynamoDbLockBasedLeaderLeaseDurationInMillis", "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis",
    "releaseLeasesOnShutdown",
})
#: Nested client settings (``cloudWatchClient.endpointOverride`` and the like).
KNOWN_PREFIXES = ("kinesisClient.", "dynamoDBClient.", "cloudWatchClient.")
#: Keys only the environment may set: a file that sets them is refused.  ``retrievalMode``
#: is one of them: RETRIEVAL_MODE (POLLING by default, or FANOUT) decides, and the daemon's own
#: default when the key is missing would be enhanced fan-out, which a file must not pick by
#: accident.  With FANOUT, KCL registers a stream consumer named after ``applicationName``
#: (the daemon exposes no consumerName/consumerArn key), which the CDK app's grants rely on
#: (docs/fanout.md).
FROM_SETTINGS = frozenset(
    {"executableName", "streamName", "applicationName", "regionName", "initialPositionInStream",
     "shutdownGraceMillis", "workerId", "kinesisEndpoint", "dynamoDBEndpoint", "retrievalMode"}
)


def parse(text: str, source: str) -> dict[str, str]:
    """Parse ``key = value`` lines (``#``/``!`` comments); duplicate keys are an error."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if sep < 0:
            raise PropertiesError(f"{source}:{n}: expected 'key = value', got {raw!r}")
        key, value = line[:sep].strip(), line[sep + 1:].strip()
        if key in out:
            raise PropertiesError(f"{source}:{n}: {key} is set twice")
        out[key] = value
    return out


def check_keys(props: Mapping[str, str], source: str) -> None:
    known = KNOWN_KEYS | LAUNCHER_KEYS
    unknown = sorted(k for k in props if k not in known and not k.startswith(KNOWN_PREFIXES))
    if unknown:
        near = {k: [x for x in known if x.lower() == k.lower()] for k in unknown}
        hints = ", ".join(f"{k} (did you mean {near[k][0]}?)" if near[k] else k for k in unknown)
        raise PropertiesError(f"{source}: unknown KCL properties (the daemon would silently "
                              f"ignore them): {hints}")
    reserved = sorted(FROM_SETTINGS & set(props))
    if reserved:
        raise PropertiesError(f"{source}: {', '.join(reserved)} come from the environment "
                              "(docs/configuration.md); remove them from the file")


def from_settings(settings: Settings, executable: str) -> dict[str, str]:
    props = {
        "executableName": executable,
        "streamName": settings.stream_name,
        "applicationName": settings.application_name,
        "regionName": settings.region,
        "initialPositionInStream": settings.initial_position,
        "shutdownGraceMillis": str(settings.shutdown_grace_millis),
        "workerId": settings.worker_id,
        "retrievalMode": settings.retrieval_mode,
    }
    if settings.kinesis_endpoint:
        props["kinesisEndpoint"] = settings.kinesis_endpoint
    if settings.dynamodb_endpoint:
        props["dynamoDBEndpoint"] = settings.dynamodb_endpoint
    return props


def merge(layers: list[tuple[str, str]], settings: Settings, executable: str) -> dict[str, str]:
    """Merge (source name, text) layers in order, then the settings; validate the result."""
    props: dict[str, str] = {}
    for source, text in layers:
        layer = parse(text, source)
        check_keys(layer, source)
        props.update(layer)
    props.update(from_settings(settings, executable))
    if props["retrievalMode"] not in RETRIEVAL_MODES:  # Settings checks it; a hand-made one may not
        raise PropertiesError(f"retrievalMode must be one of {', '.join(RETRIEVAL_MODES)} "
                              f"(got {props['retrievalMode']!r})")
    return props


def render(props: Mapping[str, str]) -> str:
    return "".join(f"{k} = {v}\n" for k, v in props.items())
