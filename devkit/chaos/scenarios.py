"""The fault scenarios (issue: prove it under faults).  Each returns one :class:`Result` row.

Every scenario produces a seeded set of records, injects its fault at a chosen moment,
waits (bounded) for the consumer to settle, and checks the tables against the producer's
summary: lost and counted-twice must both be 0.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumer_app import metrics
from consumer_app.logs import event_time
from consumer_app.rules.validation import REASONS, TRIP_FIELDS
from consumer_app.tables import mark_attribute
from devkit.chaos.harness import Gaps, Result, Run, account
from devkit.local import inspect
from devkit.local.emulators import KINESIS_PERSIST_STOP_S
from devkit.local.fault_proxy import PASS, Action


@dataclass(frozen=True)
class Size:
    records: int  # per scenario
    rate: float  # records/s while a fault happens


# The producer must still be running well after a fault, so that recovery shows as
# checkpoints moving again: kinesis-local takes a few hundred records/s in all.
SMALL = Size(records=5000, rate=80)
FULL = Size(records=15000, rate=150)



def _processing(worker: Any) -> set[str]:
    """Shards for which ``worker`` runs a record processor now (per its event log)."""
    live: set[str] = set()
    for ev in worker.events():
        if ev.get("event") == "initialize":
            live.add(ev["shard"])
        elif ev.get("event") in ("shutdown_requested", "lease_lost", "shard_ended"):
            live.discard(ev.get("shard"))
    return live


def _victim(run: Run, settle_s: float = 30) -> tuple[Any, set[str]]:
    """A worker holding leases; preferably not the leader (a killed leader's lock must
    expire first: 10 s with the local profile, docs/handoffs.md), and not in the middle of a
    lease handoff: KCL 3 moves leases for a while after start, and a lease just assigned has
    no processor yet.
    Waits up to ``settle_s`` for every lease of the victim to have a running processor."""
    deadline = time.monotonic() + settle_s
    while True:
        owners: dict[str, set[str]] = {}
        for shard, v in run.leases().items():
            owners.setdefault(v["owner"], set()).add(shard)
        leader = run.leader()
        candidates = [w for w in run.workers if owners.get(w.name) and w.name != leader]
        if not candidates:
            candidates = [w for w in run.workers if owners.get(w.name)]
        steady = [w for w in candidates if owners[w.name] <= _processing(w)]
        if steady or time.monotonic() > deadline:
            w = (steady or candidates)[0]
            return w, owners[w.name]
        time.sleep(0.5)


def _data_write(run: Run, op: str, body: dict[str, Any]) -> bool:
    tables = {run.stack.aggregates_table, run.stack.rejects_table}
    if op == "UpdateItem":
        return body.get("TableName") in tables
    if op == "BatchWriteItem":
        return bool(tables & set(body.get("RequestItems", {})))
    return False


# -- 1 ---------------------------------------------------------------------------------------
def lease_balance(size: Size, logs: Path) -> Result:
    r = Result("lease_balance")
    with Run("lease_balance", logs, shards=8, workers=3) as run:
        t0 = time.monotonic()
        t_all = run.start_processing(r, size.records, size.rate,
                                     problem="not every shard leased and processing within 180 s")
        r.details["all_shards_processing_s"] = None if t_all is None else round(time.monotonic() - t0, 1)
        t_bal = run.wait_until(lambda: run.balanced(3), 120)
        r.details["balanced_s"] = None if t_bal is None else round(time.monotonic() - t0, 1)
        r.recovery_s = r.details["all_shards_processing_s"]
        run.finish(r)
        r.details["leases_per_worker"] = dict(run.owners())
    return r


# -- 2 ---------------------------------------------------------------------------------------
def crash(size: Size, logs: Path) -> Result:
    r = Result("crash")
    with Run("crash", logs, shards=4, workers=3) as run:
        run.start_processing(r, size.records, size.rate)
        victim, shards = _victim(run)
        victim.kill()  # kill -9 of the JVM and its record processors: no shutdown at all
        r.details.update(victim=victim.name, victim_shards=sorted(shards))
        r.recovery_s = run.time_to_progress(shards, 180, not_owner=victim.name)
        if r.recovery_s is None:
            r.problems.append(f"the shards of {victim.name} were not taken over within 180 s")
        run.finish(r)
    return r


# -- 2b --------------------------------------------------------------------------------------
LEADER_CRASH_TARGET_S = 30


def crash_leader(size: Size, logs: Path) -> Result:
    """kill -9 of the worker holding KCL's leader lock: only the leader assigns leases, so
    its shards move only once another worker has taken the lock (its lease duration)."""
    r = Result("crash_leader")
    with Run("crash_leader", logs, shards=4, workers=3) as run:
        run.start_processing(r, size.records, size.rate)
        names = {w.name for w in run.workers}

        def leader_with_leases() -> bool:
            leader = run.leader()
            return leader in names and any(v["owner"] == leader for v in run.leases().values())

        if run.wait_until(leader_with_leases, 90) is None:
            r.problems.append(f"no leader holding a lease within 90 s (leader {run.leader()})")
            run.finish(r)
            return r
        leader = run.leader()
        victim = next(w for w in run.workers if w.name == leader)
        shards = {s for s, v in run.leases().items() if v["owner"] == leader}
        before = {s: v["checkpoint"] for s, v in run.leases().items()}
        victim.kill()
        r.details.update(victim=victim.name, victim_shards=sorted(shards))

        def all_moving() -> bool:  # every shard checkpointed again, the victim's by others
            now = run.leases()
            return all(s in now and now[s]["checkpoint"] != cp and now[s]["owner"] != victim.name
                       for s, cp in before.items())

        r.recovery_s = run.wait_until(all_moving, 240, poll_s=0.25)
        r.details["new_leader"] = run.leader()
        if r.recovery_s is None:
            r.problems.append("not every shard processed again within 240 s of the leader's crash")
        elif r.recovery_s > LEADER_CRASH_TARGET_S:
            r.problems.append(f"shards processed again only {r.recovery_s:.1f} s after the leader's "
                              f"crash (target {LEADER_CRASH_TARGET_S} s)")
        run.finish(r)
    return r


# -- 3 ---------------------------------------------------------------------------------------
def graceful(size: Size, logs: Path) -> Result:
    r = Result("graceful")
    grace_s = 10
    with Run("graceful", logs, shards=4, workers=3) as run:
        run.start_processing(r, size.records, size.rate)
        victim, shards = _victim(run)
        active = _processing(victim)  # the processors SIGTERM must shut down
        start, t_term = time.monotonic(), time.time()
        victim.terminate()
        code = victim.wait(grace_s + 20)
        stop_s = time.monotonic() - start
        r.details.update(victim=victim.name, victim_shards=sorted(shards), exit_code=code,
                         stop_s=round(stop_s, 1))
        if code not in (0, 143):  # 143: the JVM after SIGTERM (tini in the image maps it to 0)
            r.problems.append(f"exit code {code} after SIGTERM")
        if stop_s > grace_s + 5:
            r.problems.append(f"stopping took {stop_s:.1f}s, more than the {grace_s}s grace")
        done = {e["shard"] for e in victim.events()
                if e.get("event") == "shutdown_requested" and event_time(e) >= t_term - 0.01}
        if not active:
            r.problems.append(f"{victim.name} ran no record processor when it was stopped")
        elif not active <= done:
            r.problems.append(f"no shutdown_requested checkpoint for {sorted(active - done)}")
        r.recovery_s = run.time_to_progress(shards, 180, not_owner=victim.name)
        if r.recovery_s is None:
            r.problems.append("its shards were not handed over within 180 s")
        run.finish(r)
    return r


# -- 4 ---------------------------------------------------------------------------------------
def scale_out_in(size: Size, logs: Path) -> Result:
    r = Result("scale_out_in")
    with Run("scale_out_in", logs, shards=8, workers=1) as run:
        run.start_processing(r, size.records * 2, size.rate, problem="one worker did not take all 8 shards")
        added = [run.add_worker(), run.add_worker()]
        r.recovery_s = run.wait_until(lambda: run.balanced(3), 180)
        r.details["rebalance_after_adding_2_s"] = r.recovery_s
        r.details["leases_after_scale_out"] = dict(run.owners())
        if r.recovery_s is None:
            r.problems.append(f"leases not spread over 3 workers within 180 s: {dict(run.owners())}")
        for w in added:
            w.terminate()
        for w in added:
            w.wait(30)
        back = run.wait_until(lambda: run.owners() == {"w1": 8}, 180)
        r.details["all_back_on_w1_after_scale_in_s"] = back
        if back is None:
            r.problems.append(f"leases not back on w1 within 180 s: {dict(run.owners())}")
        run.finish(r)
    return r


# -- 4b --------------------------------------------------------------------------------------
ROLLING_GAP_TARGET_S = 15
#: ECS marks a task healthy at its first passing health check: the image's interval
HEALTH_INTERVAL_S = 10


def rolling_restart(size: Size, logs: Path) -> Result:
    """Replace each of 3 workers in turn as an ECS rolling deploy does: start the new one,
    wait until it is healthy, SIGTERM the old one (the leader included).  The figure is the
    longest time any shard's checkpoint stood still while records kept arriving."""
    r = Result("rolling_restart")
    with Run("rolling_restart", logs, shards=8, workers=3) as run:
        run.start_processing(r, size.records * 2, size.rate)
        if run.wait_until(lambda: run.balanced(3), 120) is None:
            r.problems.append(f"3 workers not balanced within 120 s: {dict(run.owners())}")
        steps = []
        olds = list(run.workers)
        with Gaps(run.leases) as gaps:
            time.sleep(3)  # a baseline of normal checkpointing
            for old in olds:
                was_leader = run.leader() == old.name
                new = run.add_worker()
                t0 = time.monotonic()
                healthy = run.wait_until(new.healthy, 120)
                time.sleep(max(0.0, HEALTH_INTERVAL_S - (time.monotonic() - t0)))
                old.terminate()
                code = old.wait(40)
                steps.append({"old": old.name, "new": new.name, "leader": was_leader, "exit": code,
                              "healthy_s": None if healthy is None else round(healthy, 1)})
                if code not in (0, 143):
                    r.problems.append(f"{old.name} exited {code} after SIGTERM")
            # the last hand-off must complete while records still arrive
            new_names = {w.name for w in run.workers} - {w.name for w in olds}
            run.wait_until(lambda: set(run.owners()) == new_names, 60)
            time.sleep(5)
        shard, worst = gaps.worst
        r.recovery_s = round(worst, 1)
        r.details.update(steps=steps, longest_gap_shard=shard,
                         gaps_s={k: round(v, 1) for k, v in sorted(gaps.longest.items())},
                         leases_after=dict(run.owners()))
        if worst > ROLLING_GAP_TARGET_S:
            r.problems.append(f"a shard went {worst:.1f} s without a processed record "
                              f"({shard}; target {ROLLING_GAP_TARGET_S} s)")
        run.finish(r, settle_timeout_s=400)
    return r


# -- 5 ---------------------------------------------------------------------------------------
def throttling(size: Size, logs: Path, phase_s: float = 20) -> Result:
    r = Result("throttling")
    with Run("throttling", logs, shards=4, workers=2) as run:
        assert run.proxy is not None
        run.start_processing(r, size.records, size.rate)
        t0 = time.monotonic()

        def rule(op: str, body: dict[str, Any], n: int) -> Action:
            if not _data_write(run, op, body):
                return PASS
            phase = time.monotonic() - t0
            if phase < phase_s:
                return Action("throttle")  # every data write refused
            if phase < 2 * phase_s and n % 2 == 0:
                return Action("throttle", code="ThrottlingException")  # every other one
            return PASS

        run.proxy.set_rule(rule)
        time.sleep(phase_s)
        r.recovery_s = run.time_to_progress(None, 120)  # from the end of the all-refused phase
        time.sleep(max(0.0, 2 * phase_s - (time.monotonic() - t0)))
        run.finish(r)
        run.proxy.set_rule(None)
        all_failed, some_failed = run.counters_total("all_failed"), run.counters_total("some_failed")
        r.details.update(all_failed=all_failed, some_failed=some_failed,
                         throttled_writes=run.counters_total("throttled_writes"),
                         retries=run.counters_total("retries"),
                         fatal=len(run.events("fatal")), worker_exits=[w.exits for w in run.workers])
        if all_failed == 0 or some_failed == 0:
            r.problems.append(f"expected all-failed and some-failed attempts, got {all_failed}/{some_failed}")
        if r.details["fatal"]:
            r.problems.append("a record processor gave up during throttling (budget too small?)")
    return r


# -- 6 ---------------------------------------------------------------------------------------
def outage(size: Size, logs: Path, outage_s: float = 25) -> Result:
    """DynamoDB unreachable for everyone, longer than the retry budget: every shard blocks on
    its own, no worker exits, and all resume by themselves when DynamoDB answers again."""
    r = Result("outage")
    env = {"RETRY_MAX_SECONDS": "5", "RETRY_MAX_ATTEMPTS": "100"}
    with Run("outage", logs, shards=4, workers=2, env_extra=env) as run:
        assert run.proxy is not None
        run.start_processing(r, size.records, size.rate)
        run.proxy.set_rule(lambda op, body, n: Action("outage"))  # DynamoDB unreachable
        time.sleep(outage_s)
        run.proxy.set_rule(None)
        r.recovery_s = run.time_to_progress(None, 240)
        if r.recovery_s is None:
            r.problems.append("no progress within 240 s after DynamoDB came back")
        run.finish(r, settle_timeout_s=400)
        restarts = sum(len(w.exits) for w in run.workers)
        blocked = {e.get("shard") for e in run.events("blocked")}
        r.details.update(outage_s=outage_s, worker_restarts=restarts, blocked_shards=len(blocked),
                         blocked_tries=run.counters_total("blocked_tries"),
                         exit_codes=[w.exits for w in run.workers], fatal=len(run.events("fatal")))
        if not blocked:
            r.problems.append("no shard blocked: the outage did not outlast the retry budget")
        if restarts or r.details["fatal"]:
            r.problems.append(f"a worker exited during the outage ({restarts} restarts): blocked "
                              "shards must wait, not end their process")
    return r


# -- 6b --------------------------------------------------------------------------------------
def poison_shard(size: Size, logs: Path, poison_s: float = 60) -> Result:
    """Every aggregate write of one shard fails for good for a minute (a ValidationException,
    as for an item past DynamoDB's 400 KB) while records flow on every shard: that shard
    blocks alone, the others' checkpoints keep moving, no worker exits, the blocked-shard
    metric names it; once the fault is lifted it resumes by itself, totals exact."""
    r = Result("poison_shard")
    with Run("poison_shard", logs, shards=4, workers=2) as run:
        assert run.proxy is not None
        run.start_processing(r, size.records, size.rate)
        victim = sorted(run.leases())[1]
        mark = mark_attribute(victim)

        def rule(op: str, body: dict[str, Any], n: int) -> Action:
            if op == "UpdateItem" and body.get("TableName") == run.stack.aggregates_table \
                    and mark in body.get("ExpressionAttributeNames", {}).values():
                return Action("throttle", code="ValidationException")
            return PASS

        before = {s: v["checkpoint"] for s, v in run.leases().items()}
        run.proxy.set_rule(rule)
        time.sleep(10)  # a flush of the victim's that was under way when the fault came ends
        victim_at = run.leases()[victim]["checkpoint"]
        time.sleep(poison_s - 10)
        during = {s: v["checkpoint"] for s, v in run.leases().items()}
        run.check_workers()
        run.proxy.set_rule(None)
        r.recovery_s = run.time_to_progress({victim}, 120)  # from the fault's end
        run.finish(r)
        stuck = sorted(s for s in before if s != victim and during.get(s) == before[s])
        blocked = run.events("blocked")
        reported = [doc.get(metrics.BLOCKED, 0) for w in run.workers for doc in w.events()
                    if metrics.is_emf(doc) and doc.get("shard") == victim]
        r.details.update(victim=victim, poison_s=poison_s, blocked_tries=len(blocked),
                         blocked_shards=sorted({e.get("shard") for e in blocked}),
                         longest_blocked_metric_s=max(reported, default=0),
                         others_moved=f"{len(before) - 1 - len(stuck)}/{len(before) - 1}",
                         worker_exits=[w.exits for w in run.workers], fatal=len(run.events("fatal")))
        if stuck:
            r.problems.append(f"shards other than {victim} did not move while it was blocked: {stuck}")
        if during[victim] != victim_at:
            r.problems.append(f"{victim} checkpointed while its writes failed")
        if {e.get("shard") for e in blocked} != {victim}:
            r.problems.append(f"blocked shards {r.details['blocked_shards']}, expected only {victim}")
        if r.details["longest_blocked_metric_s"] < poison_s / 2:
            r.problems.append(f"ShardBlockedSeconds for {victim} reached only "
                              f"{r.details['longest_blocked_metric_s']} s")
        if any(w.exits for w in run.workers) or r.details["fatal"]:
            r.problems.append("a worker exited: a blocked shard must wait alone")
    return r


# -- 7 ---------------------------------------------------------------------------------------
def resharding(size: Size, logs: Path) -> Result:
    r = Result("resharding")
    with Run("resharding", logs, shards=4, workers=2) as run:
        run.start_processing(r, size.records, size.rate)
        kinesis = run.stack.client("kinesis")
        kinesis.update_shard_count(StreamName=run.stack.stream, TargetShardCount=8,
                                   ScalingType="UNIFORM_SCALING")
        t0 = time.monotonic()
        r.recovery_s = run.wait_until(lambda: any(
            int(s.rsplit("-", 1)[1]) >= 4 and inspect.started(v) for s, v in run.leases().items()), 240)
        run.finish(r, settle_timeout_s=400)
        shards = kinesis.list_shards(StreamName=run.stack.stream)["Shards"]
        parents = {s["ShardId"]: {p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p}
                   for s in shards}
        ended = {e["shard"]: event_time(e) for e in run.events("shard_ended")}
        started: dict[str, float] = {}
        for e in run.events("initialize"):
            started[e["shard"]] = min(started.get(e["shard"], 1e18), event_time(e))
        order_errors = []
        for child, ps in parents.items():
            for p in ps:
                if p not in ended:
                    order_errors.append(f"parent {p} of {child} never reached shard_ended")
                elif child in started and started[child] < ended[p]:
                    order_errors.append(f"{child} started before its parent {p} ended")
        r.problems += order_errors
        r.details.update(shards_after=len(shards),
                         children=sorted(c for c, ps in parents.items() if ps),
                         reshard_to_child_progress_s=r.recovery_s,
                         since_reshard_s=round(time.monotonic() - t0))
    return r


# -- 8 ---------------------------------------------------------------------------------------
def hostile_corpus(seed: int = 8) -> list[bytes]:
    """Payloads built to break a consumer; each must end as exactly one reject."""
    rng = random.Random(seed)
    base = {"id": "id1", "vendorId": 1, "pickupDate": "2026-01-01T08:00:00", "dropoffDate":
            "2026-01-01T08:30:00", "passengerCount": 2, "pickupLongitude": "-73.98",
            "pickupLatitude": "40.75", "dropoffLongitude": "-73.97", "dropoffLatitude": "40.76",
            "storeAndFwdFlag": "N", "gcDistance": 3, "tripDuration": 900, "googleDistance": 3,
            "googleDuration": 900}
    import json

    def dumps(d: Any) -> bytes:
        return json.dumps(d).encode()

    corpus: list[bytes] = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))) for _ in range(15)]
    corpus += [b"\xff" + dumps(base), b"\xc3\x28", dumps(base)[:-1] + b"\xed\xa0\x80}"]  # invalid UTF-8
    big = dumps({"blob": "x" * (1_000_000 - 20)})
    corpus += [big, b"[" * 100_000, b"{" * 50_000, b'{"a":' * 20_000]  # ~1 MB, deep nesting
    corpus += [dumps(base).replace(b'"gcDistance": 3', b'"gcDistance": NaN'),
               dumps(base).replace(b'"tripDuration": 900', b'"tripDuration": Infinity'),
               dumps(base).replace(b'"googleDuration": 900', b'"googleDuration": -Infinity')]
    corpus += [dumps(base)[:-1] + b', "vendorId": 2}', b'{"id": 1, "id": 2}']  # duplicate keys
    corpus += [dumps({**base, "passengerCount": 10**40}), dumps({**base, "vendorId": 10**30}),
               b'{"vendorId": ' + b"9" * 5000 + b"}", dumps({**base, "gcDistance": 1e308 * 10})]
    wrong = [None, True, [], {}, "text", -1.5]
    for f in TRIP_FIELDS:  # a wrong type for every field
        for w in wrong:
            if f in ("pickupLongitude", "pickupLatitude", "dropoffLongitude", "dropoffLatitude") and (
                    w == "text" or w == -1.5):
                continue  # strings and numbers are both valid coordinates
            if f == "id" and w == "text":
                continue
            if f in ("gcDistance", "tripDuration", "googleDistance", "googleDuration") and w == -1.5:
                continue  # any finite number is a valid measure (docs/design.md#clean-and-unclean)
            corpus.append(dumps({**base, f: w}))
    corpus += [b"", b" ", b"null", b"[]", b'"just a string"', b"42", b"\x00\x00"]  # empty-ish
    return corpus


def malformed(size: Size, logs: Path) -> Result:
    r = Result("malformed")
    corpus = hostile_corpus()
    with Run("malformed", logs, shards=4, workers=2) as run:
        run.produce(size.records // 3, None, unclean_ratio=0.0)
        kinesis = run.stack.client("kinesis")
        sent: list[tuple[str, str]] = []
        refused: list[str] = []
        for i, payload in enumerate(corpus):
            try:
                resp = kinesis.put_record(StreamName=run.stack.stream, Data=payload,
                                          PartitionKey=f"hostile-{i}")
                sent.append((resp["ShardId"], resp["SequenceNumber"]))
                last = run.summary.shards.get(resp["ShardId"])
                if last is None or int(resp["SequenceNumber"]) > int(last):
                    run.summary.shards[resp["ShardId"]] = resp["SequenceNumber"]
                    run.summary.records_per_shard[resp["ShardId"]] += 0
            except Exception as exc:  # e.g. the API refuses an empty record
                refused.append(f"#{i} ({len(payload)} B): {type(exc).__name__}")
        expected = run.summary.to_json()
        behind = run.settle(300)
        if behind:
            r.problems.append(f"not drained: {behind}")
        rejects = inspect.scan_all(run.stack.client("dynamodb"), run.stack.rejects_table)
        keys = {(it["shardId"]["S"], it["sequence"]["S"].split(":")[0]): it["reason"]["S"] for it in rejects}
        missing = [k for k in sent if k not in keys]
        bad_reason = sorted({v for v in keys.values() if v not in REASONS})
        obs = run.observed()
        expected["sent"] += len(sent)
        expected["unclean"]["byReason"] = dict(obs.rejects)  # reasons checked separately below
        account(r, expected, obs)
        if missing:
            r.problems.append(f"{len(missing)} hostile records not in the rejects table")
        if len(rejects) != len(sent):
            r.problems.append(f"rejects table holds {len(rejects)} items for {len(sent)} hostile records")
        if bad_reason:
            r.problems.append(f"unknown reasons {bad_reason}")
        exits = {w.name: w.exits for w in run.workers if w.exits}
        if exits or run.events("fatal"):
            r.problems.append(f"a worker crashed: {exits}")
        r.details.update(corpus=len(corpus), sent=len(sent), refused_by_kinesis=refused,
                         reasons=dict(sorted(obs.rejects.items())))
    return r


# -- 9 ---------------------------------------------------------------------------------------
def _stream_truth(run: Run) -> dict[str, Any]:
    """What the stream really holds, as a producer summary: read it all, classify each record."""
    from consumer_app.rules.validation import Trip, validate

    kinesis = run.stack.client("kinesis")
    expected: dict[str, Any] = {"sent": 0, "vendors": {}, "unclean": {"byReason": {}}}
    for shard in kinesis.list_shards(StreamName=run.stack.stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=run.stack.stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            resp = kinesis.get_records(ShardIterator=it, Limit=10000)
            for rec in resp["Records"]:
                expected["sent"] += 1
                res = validate(rec["Data"])
                if isinstance(res, Trip):
                    v = expected["vendors"].setdefault(str(res.vendor_id), {"passenger": 0, "trips": 0})
                    v["passenger"] += res.passenger_count
                    v["trips"] += 1
                else:
                    by = expected["unclean"]["byReason"]
                    by[res.reason] = by.get(res.reason, 0) + 1
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                break
            it = resp.get("NextShardIterator")
    return expected


def emulator_restart(size: Size, logs: Path) -> Result:
    """Restart kinesis-local (with persistence) under the running workers, as `docker restart` does.

    On SIGTERM kinesis-local lets its clients' connections drain (up to 30 s) and then writes
    its snapshot, so it comes back with every record it acknowledged.  The workers must
    reconnect by themselves and the totals must be exact.  The tables are checked against
    what the stream holds after the restart, which must be what the producer was told it
    wrote (more only if a put was answered after its client gave up, and retried).
    """
    r = Result("emulator_restart")
    with Run("emulator_restart", logs, shards=4, workers=2, persist=True) as run:
        before = size.records // 2
        run.start_processing(r, before, size.rate)
        restart = run.restart_kinesis()
        r.details.update(restart)
        if not restart["stopped_on_sigterm"]:
            r.problems.append(f"kinesis-local did not stop within {KINESIS_PERSIST_STOP_S:.0f} s "
                              "of SIGTERM and was killed before its snapshot")
        # the second half is written after the restart: the workers must read it from the
        # restarted server (the first half's producer may still be running too)
        run.produce(size.records - before, size.rate, seed=2)
        r.recovery_s = run.time_to_progress(None, 240)
        if r.recovery_s is None:
            r.problems.append("no checkpoint moved within 240 s after kinesis-local came back")
        run.wait_producers()
        truth = _stream_truth(run)
        run.finish(r, expected=truth)
        produced = run.summary.sent
        if truth["sent"] < produced:
            log = (Path(run.stack.log_dir) / "kinesis-local.log").read_text(errors="replace")
            why = (" (it crashed writing its snapshot on SIGTERM: ERR_STREAM_DESTROYED)"
                   if "ERR_STREAM_DESTROYED" in log else "")
            r.problems.append(f"kinesis-local lost {produced - truth['sent']} acknowledged "
                              f"records over its restart{why}")
        r.details.update(producer_sent=produced, in_stream_after_restart=truth["sent"],
                         worker_exits=[w.exits for w in run.workers])
    return r


SCENARIOS: dict[str, Callable[[Size, Path], Result]] = {
    "lease_balance": lease_balance,
    "crash": crash,
    "crash_leader": crash_leader,
    "graceful": graceful,
    "scale_out_in": scale_out_in,
    "rolling_restart": rolling_restart,
    "throttling": throttling,
    "outage": outage,
    "poison_shard": poison_shard,
    "resharding": resharding,
    "malformed": malformed,
    "emulator_restart": emulator_restart,
}
FAST_SUBSET = ("crash", "graceful", "throttling", "malformed")

__all__ = ["FAST_SUBSET", "FULL", "SCENARIOS", "SMALL", "Size"]
