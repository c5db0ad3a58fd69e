"""Dashboard and alarms: is the consumer keeping up, is anything throttled, are workers up.

Lag and throughput come from the stream's own metrics (always there, whatever KCL's
metrics level); KCL's metrics (namespace = application name) are shown through SEARCH
expressions, which do not depend on the dimensions KCL picks.  The record processors' own
counters arrive as Embedded Metric Format lines in the task's log stream (same namespace,
dimension ``Stream``: consumer_app/metrics.py, docs/metrics.md): rejects by reason, replays
the fence absorbed, throttled attempts by kind, processing time and lag; the processors'
late and refused records and the finalizer's WindowsFinalized and GlobalWatermarkLag tell
whether windows become final (docs/windows.md).  Running vs desired tasks come from
Container Insights.
"""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from consumer_app import metrics as emf
from consumer_app.rules.validation import REASONS
from kinesis_aggs_infra.config import InfraConfig
from kinesis_aggs_infra.data import DataPlane
from kinesis_aggs_infra.service import WorkerService

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)


def dashboard_name(cfg: InfraConfig) -> str:
    """Dashboard names allow letters, digits, '-' and '_' only."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", cfg.application_name)


class Observability(Construct):
    """One dashboard and seven alarms (lag, sustained throttling, missing workers, rejects, a record
    refused for a final window, windows not becoming final, a blocked shard)."""

    def __init__(self, scope: Construct, construct_id: str, cfg: InfraConfig, data: DataPlane,
                 workers: WorkerService) -> None:
        super().__init__(scope, construct_id)
        stream = data.stream
        service = workers.service
        app = cfg.application_name

        iterator_age = stream.metric_get_records_iterator_age_milliseconds(
            statistic="Maximum", period=ONE_MINUTE, label="stream iterator age (max)")
        incoming = stream.metric_incoming_records(statistic="Sum", period=ONE_MINUTE,
                                                  label="records in (PutRecords)")
        read = stream.metric_get_records(statistic="Sum", period=ONE_MINUTE,
                                                 label="records out (GetRecords)")
        read_throttles = stream.metric_read_provisioned_throughput_exceeded(
            statistic="Sum", period=ONE_MINUTE, label=f"{cfg.stream_name} read throttles")

        def kcl(metric: str, stat: str, label: str) -> cw.MathExpression:
            return cw.MathExpression(
                expression=f"SEARCH('Namespace=\"{app}\" MetricName=\"{metric}\"', '{stat}', 60)",
                label=label, period=ONE_MINUTE)

        def ddb(table: str, metric: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/DynamoDB", metric_name=metric,
                             dimensions_map={"TableName": table}, statistic="Sum", period=ONE_MINUTE,
                             label=f"{table} {metric}")

        throttles = {
            "agg": ddb(cfg.aggregates_table_name, "WriteThrottleEvents"),
            "rej": ddb(cfg.rejects_table_name, "WriteThrottleEvents"),
            "lsw": ddb(app, "WriteThrottleEvents"),
            "lsr": ddb(app, "ReadThrottleEvents"),
            "kin": read_throttles,
        }
        def ours(metric: str, stat: str, label: str, **dims: str) -> cw.Metric:
            """A record processors' metric (EMF), summed over shards and workers."""
            return cw.Metric(namespace=app, metric_name=metric, statistic=stat, period=ONE_MINUTE,
                             dimensions_map={"Stream": cfg.stream_name, **dims}, label=label)

        records_in = ours(emf.COUNTS["records_in"], "Sum", "records in (processors)")
        rejected = {f"r{i}": ours(emf.REJECTED, "Sum", reason, Reason=reason)
                    for i, reason in enumerate(REASONS)}
        watermark_lag = ours(emf.WATERMARK_LAG, "Maximum", "global watermark lag (max, s)")
        finalized = ours(emf.WINDOWS_FINALIZED, "Sum", "windows finalized")
        late = ours(emf.COUNTS["late_records"], "Sum", "late records (behind their shard's watermark)")
        refused = ours(emf.COUNTS["refused_final"], "Sum", "records refused: window already final")
        blocked = ours(emf.BLOCKED, "Maximum", "longest blocked shard (s)")
        ecs_dims = {"ClusterName": workers.cluster.cluster_name, "ServiceName": service.service_name}
        running = cw.Metric(namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
                            dimensions_map=ecs_dims, statistic="Average", period=ONE_MINUTE,
                            label="running tasks")
        desired = cw.Metric(namespace="ECS/ContainerInsights", metric_name="DesiredTaskCount",
                            dimensions_map=ecs_dims, statistic="Average", period=ONE_MINUTE,
                            label="desired tasks")

        # -- alarms ----------------------------------------------------------------------
        self.iterator_age_alarm = cw.Alarm(
            self, "IteratorAgeAlarm",
            alarm_description=(f"{cfg.stream_name}: the oldest unread record is older than "
                               f"{cfg.iterator_age_alarm_seconds} s for 5 minutes, or nobody reads "
                               "the stream (missing data counts as breaching)"),
            metric=iterator_age,
            threshold=cfg.iterator_age_alarm_seconds * 1000,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5, datapoints_to_alarm=5,
            treat_missing_data=cw.TreatMissingData.BREACHING)
        self.throttle_alarm = cw.Alarm(
            self, "ThrottlingAlarm",
            alarm_description=(f"Throttling every minute for {cfg.throttle_alarm_minutes} minutes: "
                               "DynamoDB (aggregates, rejects, lease table) or Kinesis reads. "
                               "The worker retries throttled writes, so this means it is falling behind"),
            metric=cw.MathExpression(
                expression=" + ".join(f"FILL({k}, 0)" for k in throttles),
                using_metrics=throttles, label="throttled requests", period=ONE_MINUTE),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=cfg.throttle_alarm_minutes,
            datapoints_to_alarm=cfg.throttle_alarm_minutes,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        self.tasks_alarm = cw.Alarm(
            self, "TasksBelowDesiredAlarm",
            alarm_description=(f"Fewer workers running than desired for {cfg.tasks_below_desired_minutes} "
                               "minutes: tasks failing to start or to pass their health check"),
            metric=cw.MathExpression(expression="desired - running",
                                     using_metrics={"desired": desired, "running": running},
                                     label="desired - running", period=ONE_MINUTE),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=cfg.tasks_below_desired_minutes,
            datapoints_to_alarm=cfg.tasks_below_desired_minutes,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        rejects_share = cw.MathExpression(
            expression=f"100 * ({' + '.join(f'FILL({k}, 0)' for k in rejected)}) / records_in",
            using_metrics={**rejected, "records_in": records_in}, label="rejects (% of records in)",
            period=ONE_MINUTE)
        self.rejects_alarm = cw.Alarm(
            self, "RejectsShareAlarm",
            alarm_description=(f"Rejected records above {cfg.rejects_alarm_percent:g} % of the records read, "
                               "every minute for 5 minutes: a producer gone wrong (rejects by reason on "
                               "the dashboard, the records in the rejects table)"),
            metric=rejects_share, threshold=cfg.rejects_alarm_percent,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5, datapoints_to_alarm=5,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        self.finality_violation_alarm = cw.Alarm(
            self, "FinalityViolationAlarm",
            alarm_description=("A record processor refused a record because its window was already marked "
                               "final (EMF RefusedForFinalWindow): a watermark was wrong, which should never "
                               "happen. The record is in the rejects table with reason window_final; the "
                               "window's aggregate lacks it"),
            metric=refused.with_(period=FIVE_MINUTES, label="records refused (5 min)"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1, datapoints_to_alarm=1,
            # the processors report a counter only when it moved: no data is none refused
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        self.finality_lag_alarm = cw.Alarm(
            self, "FinalityLagAlarm",
            alarm_description=(f"The global watermark (the finalizer's GlobalWatermarkLag, max) is more than "
                               f"{cfg.finality_lag_alarm_seconds} s behind for 15 minutes, or the finalizer "
                               "reports nothing (missing data counts as breaching): windows are not becoming "
                               "final. A shard not publishing its watermark, or the finalizer service down"),
            metric=watermark_lag.with_(period=FIVE_MINUTES),
            threshold=cfg.finality_lag_alarm_seconds,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3, datapoints_to_alarm=3,
            # The finalizer reports the lag on every pass (FINALIZE_INTERVAL_SECONDS) once every
            # shard has a watermark (consumer_app/finality.py).  15 minutes without it: no
            # finalizer runs, its passes fail, or a shard never published a watermark; in each
            # case no window becomes final, the very failure this alarm is for (no other alarm
            # watches the finalizer's task), hence breaching, as the iterator age alarm treats
            # "nobody reads".
            treat_missing_data=cw.TreatMissingData.BREACHING)
        self.blocked_shard_alarm = cw.Alarm(
            self, "BlockedShardAlarm",
            alarm_description=(f"A shard has been blocked for {cfg.blocked_shard_alarm_seconds} s or more "
                               "(EMF ShardBlockedSeconds, max): its writes are not durable after a whole "
                               "retry budget, so it retries the same records and does not move, while the "
                               "other shards go on. The worker's ERROR lines (event=blocked) name the shard "
                               "and the cause; once it is fixed the shard resumes by itself "
                               "(docs/guarantees.md)"),
            metric=blocked, threshold=cfg.blocked_shard_alarm_seconds,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1, datapoints_to_alarm=1,
            # only a blocked shard reports it (at least every 30 s): no data is none blocked
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        self.alarms = [self.iterator_age_alarm, self.throttle_alarm, self.tasks_alarm, self.rejects_alarm,
                       self.finality_violation_alarm, self.finality_lag_alarm, self.blocked_shard_alarm]
        if cfg.alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", cfg.alarm_topic_arn)
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
                alarm.add_ok_action(cw_actions.SnsAction(topic))

        # -- dashboard ---------------------------------------------------------------------
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name(cfg),
                                      default_interval=Duration.hours(3))
        width = 12
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Lag: iterator age (ms)", width=width,
                left=[iterator_age, kcl("MillisBehindLatest", "Maximum", "KCL MillisBehindLatest")],
                left_annotations=[cw.HorizontalAnnotation(value=cfg.iterator_age_alarm_seconds * 1000,
                                                          label="alarm")]),
            cw.GraphWidget(
                title="Records in and out (per minute)", width=width,
                left=[incoming, read, records_in, kcl("RecordsProcessed", "Sum", "KCL RecordsProcessed")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Rejects by reason (per minute)", width=width, stacked=True,
                           left=list(rejected.values()),
                           right=[rejects_share], right_annotations=[cw.HorizontalAnnotation(
                               value=cfg.rejects_alarm_percent, label="alarm (%)")]),
            cw.GraphWidget(title="Throttled requests (per minute)", width=width,
                           left=list(throttles.values())),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Our writes: throttled attempts by kind, retries (per minute)", width=width,
                           left=[ours(emf.COUNTS["all_failed"], "Sum", "attempts: all writes throttled"),
                                 ours(emf.COUNTS["some_failed"], "Sum", "attempts: some writes throttled"),
                                 ours(emf.COUNTS["throttled_writes"], "Sum", "throttled writes"),
                                 ours(emf.COUNTS["retries"], "Sum", "retries")]),
            cw.GraphWidget(title="Replays absorbed by the fence, aggregate writes (per minute)", width=width,
                           left=[ours(emf.COUNTS["skipped_replays"], "Sum", "replayed records skipped"),
                                 ours(emf.COUNTS["aggregate_writes"], "Sum", "aggregate writes"),
                                 ours(emf.COUNTS["checkpoints"], "Sum", "checkpoints")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Batch processing time (ms)", width=width,
                           left=[ours(emf.BATCH_TIME, "p50", "p50"), ours(emf.BATCH_TIME, "p99", "p99"),
                                 ours(emf.BATCH_TIME, "Maximum", "max")]),
            cw.GraphWidget(title="Lag seen by the processors: millisBehindLatest (max, ms)", width=width,
                           left=[ours(emf.BEHIND, "Maximum", "millisBehindLatest (max)")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Workers: running vs desired tasks", width=width,
                           left=[running, desired], left_y_axis=cw.YAxisProps(min=0)),
            cw.GraphWidget(title="Worker CPU and memory (%)", width=width,
                           left=[service.metric_cpu_utilization(period=ONE_MINUTE),
                                 service.metric_memory_utilization(period=ONE_MINUTE)],
                           left_y_axis=cw.YAxisProps(min=0, max=100)),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Final windows: global watermark lag (max, s); windows finalized, late "
                                 "and refused records (per minute)", width=24,
                           left=[watermark_lag], left_y_axis=cw.YAxisProps(min=0, label="seconds"),
                           left_annotations=[cw.HorizontalAnnotation(
                               value=cfg.finality_lag_alarm_seconds, label="lag alarm")],
                           right=[finalized, late, refused],
                           right_y_axis=cw.YAxisProps(min=0, label="count")),
        )
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=3))
