"""The KCL record processor (amazon_kclpy v3): one child process per leased shard.

Per batch: decode and validate every record and aggregate the clean ones per (vendorId,
windowStart).  Per flush (every batch, or at most once per ``FLUSH_INTERVAL_MILLIS``: the
batching window, rules/batching.py): write the aggregates (fenced, exactly once) and the
rejects, and only when every write is durable, checkpoint at the last position written.
After a checkpoint (at most once per flush interval, and on idle polls) the shard's
watermark is published, for final windows (rules/watermarks.py, docs/windows.md).

A flush that is not durable after a whole retry budget (or that failed with an error no
retry can fix, a 400 KB item say) **blocks this shard alone**: the processor keeps its
lease and its checkpoint and tries the same payload again with capped backoff until it is
durable, as the Lambda consumer retries a batch, while the daemon's other record
processors (one process per shard) go on.  It says so per try (an ERROR line, the
``ShardBlockedSeconds`` metric, its heartbeat file for the health report), stops trying if
its lease moved to another worker, and exits if the daemon is gone.

Every callback's failure path is explicit (:func:`_callback`): amazon_kclpy would log an
escaping exception and answer the daemon as if the callback had succeeded (a batch lost,
or a shard end never checkpointed).  What is left to end the process is what no retry
fixes: a checkpoint KCL refuses for good, a bug.  It ends without a checkpoint; KCL then
exits the daemon, the supervisor restarts the worker, and every shard resumes from its
last checkpoint (docs/guarantees.md#what-blocks-what).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from amazon_kclpy import kcl
from amazon_kclpy.checkpoint_error import CheckpointError
from amazon_kclpy.v3 import processor

from consumer_app import health, logs
from consumer_app.counters import Reporter, ShardCounters
from consumer_app.dynamo.aggregates import AggregateWriter
from consumer_app.dynamo.attempts import AttemptRunner
from consumer_app.dynamo.clients import dynamodb_client
from consumer_app.dynamo.errors import WriteFailed
from consumer_app.dynamo.lease_table import lease_owner
from consumer_app.dynamo.rejects import Reject, RejectWriter
from consumer_app.dynamo.watermarks import WatermarkStore
from consumer_app.metrics import Emitter
from consumer_app.rules.aggregation import CleanRecord, Contribution, Position, aggregate
from consumer_app.rules.batching import Pending
from consumer_app.rules.retry import CHECKPOINT_TRANSIENT, blocked_delay
from consumer_app.rules.validation import Unclean, validate
from consumer_app.rules.watermarks import ShardWatermark
from consumer_app.rules.windows import iso_utc
from consumer_app.settings import Settings, from_env_or_exit

log = logging.getLogger("consumer_app.processor")

EXIT_CHECKPOINT_FAILED = 4
EXIT_UNEXPECTED = 5
EXIT_DAEMON_GONE = 6

#: a watermark is published at most this often (and at most once per flush interval)
WATERMARK_MIN_INTERVAL_S = 1.0
#: the reason of a record refused because its window was already final (dead-lettered)
WINDOW_FINAL = "window_final"


class ShardStop(Exception):
    """This process must end without checkpointing (carries the exit code)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class CheckpointDeferred(Exception):
    """A checkpoint failed in a way that passes (KCL's lease table throttled or unreachable)."""


class LeaseMoved(Exception):
    """While this shard was blocked, its lease went to another worker, which resumes it."""


def _callback(method: Callable[..., None]) -> Callable[..., None]:
    """A KCL callback whose every failure is explicit: the process ends (no checkpoint, the
    shard resumes from its last one after the restart) instead of amazon_kclpy logging the
    exception and carrying on as if the callback had done its work."""

    @functools.wraps(method)
    def guarded(self: TripRecordProcessor, *args: Any) -> None:
        try:
            method(self, *args)
        except ShardStop as stop:
            self._die(stop)
        except Exception as exc:
            self._die(ShardStop(EXIT_UNEXPECTED, f"{method.__name__}: unexpected "
                                                 f"{type(exc).__name__}: {exc}"))

    return guarded


def split_batch(records: Iterable[Any]) -> tuple[list[CleanRecord], list[Reject], Position | None]:
    """Validate a batch of amazon_kclpy records: clean records, rejects, last position.

    This loop runs once per record: it builds the named tuples with ``tuple.__new__`` (their
    generated ``__new__`` is a Python call) and converts the sub-sequence number only when
    the daemon did not send an integer.
    """
    clean: list[CleanRecord] = []
    rejects: list[Reject] = []
    last: Position | None = None
    keep = clean.append
    for rec in records:
        sub = rec.sub_sequence_number
        position = _new(Position, (int(rec.sequence_number), sub if type(sub) is int else int(sub or 0)))
        payload = rec.binary_data
        try:
            result = validate(payload)
        except Exception as exc:  # a validator bug must not lose the batch: keep the record aside
            result = Unclean("bad_value", f"validator error {type(exc).__name__}: {exc}")
        if type(result) is Unclean:
            rejects.append(Reject(position, rec.timestamp_millis, rec.partition_key or "", result.reason,
                                  result.detail, payload))
        else:
            keep(_new(CleanRecord, (position, rec.timestamp_millis, result)))
        last = position
    return clean, rejects, last


_new = tuple.__new__


class TripRecordProcessor(processor.RecordProcessorBase):
    def __init__(self, settings: Settings, client: Any | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 lease_owner: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self.wall = wall  # arrival times are wall-clock epoch times
        self.sleep = sleep
        # who holds this shard's lease now (None: unknown), asked while the shard is blocked
        self.lease_owner = lease_owner
        self.daemon_pid = os.getppid()
        self.blocked_since: float | None = None
        self.counters = ShardCounters()
        self.reporter = Reporter(settings.stats_interval_seconds, clock())
        self.shard_id = "?"
        self.last_durable: Position | None = None  # last position whose writes are durable
        self.pending: Pending[Reject] = Pending()  # batches not written yet (batching window)
        self.flush_interval_s = settings.flush_interval_millis / 1000
        self.checkpointed: Position | None = None
        self.lost = False
        self.pool = ThreadPoolExecutor(max_workers=settings.write_concurrency,
                                       thread_name_prefix="ddb-write")
        self.metrics: Emitter | None = None  # set at initialize when METRICS=emf
        self.watermark = ShardWatermark(settings.watermark_margin_millis)
        self.vendors: set[int] = set()  # vendors written since the last watermark publish
        self.watermark_published_at: float | None = None

    # -- KCL callbacks -----------------------------------------------------------
    @_callback
    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id
        logs.configure(self.settings.log_level, shard=self.shard_id,
                       worker=self.settings.worker_id, pid=os.getpid())
        client = self.client or dynamodb_client(self.settings,
                                                max_pool=self.settings.write_concurrency + 2)
        self.runner = runner = AttemptRunner(self.settings.retry_policy, self.counters, self.pool,
                               on_attempt=self._heartbeat)
        self.aggregates = AggregateWriter(client, self.settings.aggregates_table, self.shard_id,
                                          self.settings.window_seconds, runner,
                                          sub_items=self.settings.aggregate_sub_items)
        self.rejects = RejectWriter(client, self.settings.rejects_table, self.shard_id, runner,
                                    self.settings.reject_ttl_days,
                                    self.settings.reject_payload_max_bytes)
        self.watermarks = WatermarkStore(client, self.settings.watermarks_table)
        if self.lease_owner is None:
            self.lease_owner = functools.partial(lease_owner, client, self.settings.application_name)
        self._read_watermark()
        if self.settings.metrics == "emf":
            self.metrics = Emitter(self.settings.application_name, self.settings.stream_name, self.shard_id,
                                   with_shard=self.settings.metrics_shard_dimension == "on")
        logs.event(log, logging.INFO, "shard lease taken", event="initialize",
                   from_sequence=initialize_input.sequence_number)
        self._heartbeat()

    @_callback
    def process_records(self, process_records_input: Any) -> None:
        if self.lost:  # the lease moved while this shard was blocked: the new owner has it
            return
        records = process_records_input.records
        behind = process_records_input.millis_behind_latest
        self.counters.millis_behind_latest = behind
        started = time.perf_counter()
        max_arrival = self._process(records) if records else None
        self.watermark.delivered(int(self.wall() * 1000), max_arrival, behind)
        try:
            # an idle poll too: a pending window is written once its interval is over
            if self.pending.due(self.clock(), self.flush_interval_s):
                self._flush(process_records_input.checkpointer)
            self._publish_watermark(force=False)
        except LeaseMoved:
            return
        if self.metrics is not None:
            self.metrics.observe_delivery(behind, (time.perf_counter() - started) * 1000 if records else None)
        self._heartbeat()  # also on an idle poll and while a window waits: visibly alive
        self._report(force=False)

    @_callback
    def lease_lost(self, lease_lost_input: Any) -> None:
        # Nothing more is written: the next owner reads the pending batches again from the
        # checkpoint, and the fence counts them once.
        self._let_go()
        logs.event(log, logging.INFO, "shard lease lost: another worker owns it now",
                   event="lease_lost", **self._stats())
        self._emit_metrics(final=True)

    @_callback
    def shard_ended(self, shard_ended_input: Any) -> None:
        # The shard is closed and fully read: write what is pending, then checkpoint
        # SHARD_END so that its children can start.  Each step waits until it is durable
        # (the shard blocks, alone); a failure no retry fixes ends the process before the
        # SHARD_END checkpoint, so the shard is read again from its last checkpoint and
        # comes here again: its children never start over a parent whose records are lost.
        # The ended flag goes before the checkpoint: it claims only that every record is
        # durable (true now), so a finalizer may count on it.
        try:
            self._write_pending()
            self._until_done("ended watermark",
                             lambda: self._publish_watermark(force=True, ended=True))
            self._checkpoint(shard_ended_input.checkpointer, None)
        except LeaseMoved:
            return
        self._end_heartbeat()
        logs.event(log, logging.INFO, "shard ended and checkpointed", event="shard_ended",
                   **self._stats())
        self._emit_metrics(final=True)

    @_callback
    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        # Batches are processed synchronously: what is not durable yet is the pending window.
        if self.lost:
            return
        try:
            self._flush(shutdown_requested_input.checkpointer)
            self._publish_watermark(force=True)
        except LeaseMoved:
            return
        self._end_heartbeat()
        logs.event(log, logging.INFO, "shutdown requested: checkpointed",
                   event="shutdown_requested", checkpoint=str(self.checkpointed), **self._stats())
        self._emit_metrics(final=True)

    # -- work ----------------------------------------------------------------------
    def _process(self, records: list[Any]) -> int:
        """Validate and aggregate one batch into the pending window; its latest arrival time."""
        c = self.counters
        c.batches += 1
        c.records_in += len(records)
        clean, rejects, last = split_batch(records)
        arrivals = [r.timestamp_millis for r in records]
        if self.watermark.late(min(arrivals)):
            c.late_records += sum(self.watermark.late(a) for a in arrivals)
        c.clean += len(clean)
        for r in rejects:
            c.rejected[r.reason] += 1
        self.pending.add(aggregate(clean, self.settings.window_seconds), rejects, last,
                         len(records), self.clock())
        return max(arrivals)

    def _flush(self, checkpointer: Any) -> None:
        """Write the pending window, then checkpoint after it."""
        self._write_pending()
        if self.last_durable is not None and self.last_durable != self.checkpointed:
            self._checkpoint(checkpointer, self.last_durable)

    def _write_pending(self) -> None:
        """Write the pending window (rejects, then aggregates) until it is durable.

        Trying the whole window again is safe: rejects are keyed by their position and the
        aggregates are fenced, so what an earlier try applied is not applied twice."""
        contributions, rejects, last = self.pending.take()

        def write() -> None:
            self.rejects.write(rejects)
            outcome = self.aggregates.write(contributions)
            self._dead_letter_refused(outcome.refused)

        self._until_done("flush", write)
        self.vendors.update(c.key.vendor_id for c in contributions)
        if last is not None:
            self.last_durable = last
            self.counters.flushes += 1

    def _dead_letter_refused(self, refused: Sequence[Contribution]) -> None:
        """Records refused because their window was final go to the rejects table: the
        watermark had claimed them applied, which is a bug to see, not a record to lose."""
        if not refused:
            return
        dead = [Reject(position, c.key.window_start_ms, "", WINDOW_FINAL,
                       f"vendorId {c.key.vendor_id} window {iso_utc(c.key.window_start_ms)} "
                       f"passengerCount {passengers}: the window was already final (the "
                       f"watermark had passed it); the record is in the stream at this position",
                       b"")
                for c in refused for position, passengers in c.records]
        self.rejects.write(dead)
        self.counters.refused_final += len(dead)
        logs.event(log, logging.ERROR, f"{len(dead)} records refused: their windows were already "
                   f"final (a watermark was wrong); dead-lettered with reason {WINDOW_FINAL}",
                   event="refused_final", records=len(dead),
                   windows=sorted({iso_utc(c.key.window_start_ms) for c in refused}))

    def _read_watermark(self) -> None:
        try:
            published = self.watermarks.read(self.shard_id)
        except Exception as exc:  # only finality waits for it: the first publish learns it
            logs.event(log, logging.WARNING, f"watermark not read: {type(exc).__name__}: {exc}",
                       event="watermark_error")
            return
        self.watermark.saw_published(published)
        self.aggregates.claimed_through = self.watermark.published

    def _publish_watermark(self, force: bool, ended: bool = False) -> None:
        """Publish the shard's watermark once everything delivered is durable and
        checkpointed (ended: at SHARD_END, once everything is durable)."""
        if self.pending.last is not None or (not ended and self.checkpointed != self.last_durable):
            return
        value = self.watermark.due()
        if value is None and not ended:
            return
        now = self.clock()
        if not force and self.watermark_published_at is not None and \
                now - self.watermark_published_at < max(self.flush_interval_s, WATERMARK_MIN_INTERVAL_S):
            return
        try:
            held = self.watermarks.publish(self.runner, self.shard_id, value, self.vendors,
                                           str(self.last_durable or "-"), ended=ended)
        except WriteFailed as exc:
            if ended:  # the caller tries again: the shard must not end without it
                raise
            # only finality waits for a watermark: the next publish carries it
            logs.event(log, logging.WARNING, f"watermark not published: {exc}", event="watermark_error")
            return
        self.vendors = set()
        self.watermark_published_at = now
        self.watermark.saw_published(held)
        self.aggregates.claimed_through = self.watermark.published

    def _checkpoint(self, checkpointer: Any, position: Position | None) -> None:
        """Checkpoint at ``position`` (None: SHARD_END); a failure that passes (throttling,
        the lease table unreachable) is tried again like a blocked write."""
        seq = None if position is None else str(position.sequence)
        sub = None if position is None else position.sub_sequence

        def checkpoint() -> None:
            try:
                checkpointer.checkpoint(seq, sub)
            except CheckpointError as err:
                name = str(err.value)
                if name in CHECKPOINT_TRANSIENT:
                    raise CheckpointDeferred(f"checkpoint at {position}: {name}") from None
                if name == "ShutdownException":
                    # The lease moved on: the next owner resumes from the last checkpoint and
                    # the fence makes the replay count once.  Nothing is lost by stopping here.
                    logs.event(log, logging.INFO, "checkpoint refused: lease is shutting down",
                               event="checkpoint_shutdown")
                    return
                raise ShardStop(EXIT_CHECKPOINT_FAILED,
                                f"checkpoint at {position} failed: {name}") from None
            self.checkpointed = position
            self.counters.checkpoints += 1

        self._until_done("checkpoint", checkpoint)

    def _until_done(self, what: str, step: Callable[[], None]) -> None:
        """Run ``step`` until it succeeds: the same payload again, never a skipped record.

        Between tries the shard is *blocked*: an ERROR line per try with the cause, the
        ``ShardBlockedSeconds`` metric, the heartbeat (so the health check sees it alive and
        the report names it), capped backoff (rules/retry.py).  Raises :class:`LeaseMoved`
        if another worker took the lease meanwhile, and :class:`ShardStop` if the daemon is
        gone (nobody would ever read this process's answer)."""
        attempt = 0
        while True:
            try:
                step()
            except (WriteFailed, CheckpointDeferred) as exc:
                attempt += 1
                self._blocked(what, attempt, exc)
                continue
            if self.blocked_since is not None:
                took = self.clock() - self.blocked_since
                self.blocked_since = None
                self.counters.blocked_seconds = None
                logs.event(log, logging.WARNING, f"shard unblocked: {what} durable after {took:.1f} s "
                           f"and {attempt} failed tries", event="unblocked", blocked_s=round(took, 1),
                           tries=attempt)
                self._heartbeat()
            return

    def _blocked(self, what: str, attempt: int, cause: Exception) -> None:
        now = self.clock()
        if self.blocked_since is None:
            self.blocked_since = now
        blocked_s = now - self.blocked_since
        self.counters.blocked_tries += 1
        self.counters.blocked_seconds = blocked_s
        delay = blocked_delay(attempt, random.random())
        logs.event(log, logging.ERROR, f"shard blocked for {blocked_s:.0f} s: {what} not durable "
                   f"({cause}); the same payload again in {delay:.1f} s, the other shards go on",
                   event="blocked", what=what, tries=attempt, blocked_s=round(blocked_s, 1),
                   cause=str(cause), checkpoint=str(self.checkpointed))
        self._heartbeat(blocked=f"{what}: {cause}")
        self._emit_metrics()
        if os.getppid() != self.daemon_pid:
            raise ShardStop(EXIT_DAEMON_GONE, "the MultiLangDaemon is gone")
        owner = self._current_owner()
        if owner is not None and owner != self.settings.worker_id:
            self._let_go()
            logs.event(log, logging.WARNING, f"shard blocked, and its lease is now {owner}'s: "
                       "stopping here without a checkpoint; the new owner resumes from the last one",
                       event="lease_moved", owner=owner)
            raise LeaseMoved(owner)
        self.sleep(delay)

    def _let_go(self) -> None:
        """The lease is another worker's: write nothing more; it reads the pending batches
        again from the checkpoint, and the fence counts them once."""
        self.lost = True
        self.pending.take()
        self._end_heartbeat()

    def _current_owner(self) -> str | None:
        try:
            return self.lease_owner(self.shard_id) if self.lease_owner else None
        except Exception:  # the lease table may be what is failing: keep trying
            return None

    def _die(self, stop: ShardStop) -> None:
        logs.event(log, logging.CRITICAL,
                   f"stopping shard {self.shard_id} without checkpoint: {stop}; the daemon will "
                   f"exit and, once restarted, resume from checkpoint {self.checkpointed}",
                   event="fatal", exit_code=stop.code, **self._stats())
        self._emit_metrics(final=True)
        sys.stderr.flush()
        os._exit(stop.code)

    def _heartbeat(self, blocked: str | None = None) -> None:
        """Tell the container health check this shard is alive (per batch, idle poll, retry),
        and why it is blocked if it is.  A heartbeat that cannot be written is reported and
        never stops the shard: the health check then reports the shard as without progress."""
        if self.settings.heartbeat_dir and self.shard_id != "?":
            try:
                health.beat(Path(self.settings.heartbeat_dir), self.shard_id, blocked)
            except OSError as exc:
                logs.event(log, logging.WARNING, f"heartbeat not written: {exc}", event="heartbeat_error")

    def _end_heartbeat(self) -> None:
        if self.settings.heartbeat_dir and self.shard_id != "?":
            health.stop_beating(Path(self.settings.heartbeat_dir), self.shard_id)

    def _stats(self) -> dict[str, Any]:
        return self.counters.snapshot()

    def _report(self, force: bool) -> None:
        if force or self.reporter.due(self.clock()):
            logs.event(log, logging.INFO, "shard counters", event="counters", **self._stats())
            self._emit_metrics()

    def _emit_metrics(self, final: bool = False) -> None:
        """The counters since the last report as EMF lines (stderr), at the counters' rate,
        and once when the processor ends (``final``: a line even if nothing was counted)."""
        if self.metrics is not None:
            try:
                self.metrics.emit(self.counters, final)
            except Exception as exc:  # metrics must never stop a shard
                logs.event(log, logging.WARNING, f"metrics not written: {type(exc).__name__}: {exc}",
                           event="metrics_error")


def main() -> None:
    # The daemon drives shutdown (shutdown_requested, then end of stdin).  A Ctrl-C or a
    # SIGTERM sent to the whole process group must not kill a child mid-batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = from_env_or_exit("record processor")
    logs.configure(settings.log_level, worker=settings.worker_id)
    kcl.KCLProcess(TripRecordProcessor(settings)).run()


if __name__ == "__main__":
    main()
