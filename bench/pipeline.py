"""Pipeline benchmark: SETs pushed at fixed rates while real Celery workers turn them into risk.

One run starts the production shape (bench.harness: durable PostgreSQL, Redis, gunicorn sync
workers, Celery `--pool solo` workers, a local transmitter), adds `--users` users to the
directory, and pre-signs Okta user-risk-change SETs (RS256): SET number g names user g mod N, its
current_level alternates high/low for each user and its event_timestamp grows with g, so every
SET changes its user's risk (one RiskChange row each). Then, for each rate of `--rates`, wrk
pushes a step's SETs through the push endpoint at that fixed rate (open loop, `--step-seconds`
long), while a watcher thread samples the PENDING backlog and notes when each risk change becomes
visible (committed). Per step it reports: offered, sent and accepted rate; processed rate (SETs
leaving PENDING per second during the step); the backlog at the step's end, its peak and its
growth; receipt-to-risk latency p50/p99 from the database (RiskChange.created_at minus
SecurityEvent.received_at) and as seen committed by the watcher; drain batches; WAL and System
Log records per SET; CPU per SET per process group. A step is sustained when the endpoint
accepts what is offered, processing keeps up (the backlog does not trend up and holds under a
second of SETs at the end) and the p99 latency is under `--p99-target` by both measures. After
each step it waits for the backlog to drain, so every step starts empty.

A last phase (`--capacity N`) measures each half alone: N SETs pushed as fast as 8 connections
go while the bench holds the app's drain flag (no drain runs), then one drain, timed, on the
backlog they left. `--drain-kick` is an experiment, off by default: extra drain tasks so that
every solo worker drains (the app's dispatch runs one drain at a time).

Exits 1 when a check fails: a 202 not stored, a SET left PENDING or FAILED, risk changes other
than the stored signals call for, an answer other than 202.

    .venv/bin/python bench/pipeline.py [--rates 200,400,600,800] [--step-seconds 20]
        [--users 10000] [--workers 4] [--celery-workers 2] [--connections 32] [--capacity 4000]
"""

import argparse
import math
import shutil
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from celery import Celery  # noqa: E402

from bench.harness import (  # noqa: E402
    PUSH_PATH,
    CpuMeter,
    LoadResult,
    Rig,
    Signer,
    check_one,
    drain_tasks_run,
    fmt_cpu,
    queued_tasks,
    run_main,
    run_wrk,
    stored_counts,
    wait_for_drain,
    wait_for_quiet,
)
from events.dispatch import DRAIN_REQUESTED_KEY  # noqa: E402

DRAIN_TASK = "risk.process_pending_security_events"
OKTA_USER_RISK = "https://schemas.okta.com/secevent/okta/event-type/user-risk-change"
USER_DOMAIN = "bench.example"

# Bench users, added in bulk: the same rows entity_create writes (an Entity with an Okta-style id,
# login = email, and its `email:` identifier), minus one transaction per user.
CREATE_USERS = """
from risk.models import Entity, EntityIdentifier, EntityKind, new_entity_id
from risk.subjects import canonical_email
users = [Entity(id=new_entity_id(EntityKind.USER), kind=EntityKind.USER,
                login=f"user{n}@{domain}", email=f"user{n}@{domain}") for n in range({count})]
Entity.objects.bulk_create(users, batch_size=2000)
EntityIdentifier.objects.bulk_create(
    [EntityIdentifier(entity=u, key="email:" + canonical_email(u.email)) for u in users],
    batch_size=2000)
print(Entity.objects.filter(login__endswith="@{domain}").count())
"""


class Plan:
    """Claims of the run's SETs, numbered across all steps so each user's signals stay ordered."""

    def __init__(self, *, issuer: str, audience: str, users: int, total: int):
        self.issuer, self.audience, self.users = issuer, audience, users
        self.next = 0
        # Event times in the past, one second apart: each user's next SET is always newer.
        self.base = int(time.time()) - total - 60

    def claims(self, prefix: str, count: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            number, self.next = self.next, self.next + 1
            user, turn = number % self.users, number // self.users
            level, previous = ("high", "low") if turn % 2 == 0 else ("low", "high")
            event = {
                "current_level": level,
                "previous_level": previous if turn else "none",
                "event_timestamp": self.base + number,
                "initiating_entity": "policy",
                "reason_admin": {"en": "Bench: risk alternates between high and low"},
            }
            out.append(
                {
                    "iss": self.issuer,
                    "aud": self.audience,
                    "iat": int(time.time()),
                    "jti": f"{prefix}-{uuid.uuid4().hex}",
                    "sub_id": {"format": "email", "email": f"user{user}@{USER_DOMAIN}"},
                    "events": {OKTA_USER_RISK: event},
                }
            )
        return out


class Watcher(threading.Thread):
    """Samples the PENDING backlog and notes when each RiskChange row becomes visible.

    Polls `risk_riskchange` above the highest id up to which every row was seen (`floor`): rows
    of two concurrent batches can commit out of id order, so a gap is kept open until it fills,
    or for GAP_SECONDS (ids of rolled-back inserts never fill). Bounded by `seconds`.
    """

    POLL_SECONDS = 0.02
    PENDING_EVERY = 0.25
    GAP_SECONDS = 5.0

    def __init__(self, database_url: str, *, seconds: float, kick=None):
        super().__init__(name="bench-watcher", daemon=True)
        self.kick = kick  # called with the PENDING count at every backlog sample (--drain-kick)
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.deadline = time.monotonic() + seconds
        self.halt = threading.Event()
        self.visible: dict[int, datetime] = {}  # security_event_id -> first seen committed
        self.pending: list[tuple[float, int]] = []  # (monotonic, PENDING SETs)
        self.error: Exception | None = None
        self.polls = 0
        row = self.conn.execute("SELECT coalesce(max(id), 0) FROM risk_riskchange").fetchone()
        self.floor = row[0]

    def run(self) -> None:
        above: set[int] = set()
        gap_since: float | None = None
        next_pending = 0.0
        try:
            while not self.halt.is_set() and time.monotonic() < self.deadline:
                now = time.monotonic()
                if now >= next_pending:
                    row = self.conn.execute(
                        "SELECT count(*) FROM events_securityevent WHERE status = 'PENDING'"
                    ).fetchone()
                    self.pending.append((now, row[0]))
                    next_pending = now + self.PENDING_EVERY
                    if self.kick is not None:
                        self.kick(row[0])
                rows = self.conn.execute(
                    "SELECT id, security_event_id, clock_timestamp() FROM risk_riskchange "
                    "WHERE id > %s ORDER BY id",
                    (self.floor,),
                ).fetchall()
                self.polls += 1
                for pk, event_id, seen in rows:
                    if pk not in above:
                        above.add(pk)
                        if event_id is not None:
                            self.visible.setdefault(event_id, seen)
                while self.floor + 1 in above:
                    self.floor += 1
                    above.discard(self.floor)
                if above:
                    gap_since = gap_since or now
                    if now - gap_since > self.GAP_SECONDS:  # a hole that never fills: skip it
                        self.floor = min(above) - 1
                        gap_since = None
                else:
                    gap_since = None
                self.halt.wait(self.POLL_SECONDS)
        except Exception as exc:  # reported by main(); the thread must not die silently
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(10)
        self.conn.close()

    def backlog(self, start: float, end: float) -> tuple[int, float]:
        """Peak PENDING between two monotonic times, and its growth (SETs/s, least squares) after
        the first fifth of that span (the ramp-up). The backlog saw-tooths with every batch; over
        a step of many batches the fit shows whether it trends up."""
        samples = [(t, n) for t, n in list(self.pending) if start <= t <= end]
        peak = max((n for _, n in samples), default=0)
        half = [(t, n) for t, n in samples if t >= start + (end - start) / 5]
        if len(half) < 3:
            return peak, 0.0
        mean_t = sum(t for t, _ in half) / len(half)
        mean_n = sum(n for _, n in half) / len(half)
        var = sum((t - mean_t) ** 2 for t, _ in half)
        cov = sum((t - mean_t) * (n - mean_n) for t, n in half)
        return peak, cov / var if var else 0.0


class DrainPublisher:
    """Publishes `risk.process_pending_security_events` as the app does (by name, on Redis)."""

    def __init__(self, rig: Rig):
        self.app = Celery("bench", broker=rig.redis.url)

    def publish(self) -> None:
        self.app.send_task(DRAIN_TASK)

    def close(self) -> None:
        self.app.close()


class DrainKicker(DrainPublisher):
    """--drain-kick: an experiment, not the app's dispatch. Publishes an extra drain when a full
    batch is PENDING, no task waits in the broker and fewer drains run than there are workers,
    at most once per `every` seconds; so idle solo workers drain alongside the one drain the
    app's flag allows (events.dispatch)."""

    def __init__(self, rig: Rig, *, every: float, batch: int = 200):
        super().__init__(rig)
        self.rig, self.every, self.batch = rig, every, batch
        self.broker = redis.Redis.from_url(rig.redis.url)
        self.last = 0.0
        self.sent = 0

    def __call__(self, pending: int) -> None:
        now = time.monotonic()
        if pending < self.batch or now - self.last < self.every:
            return
        if self.broker.llen("celery") or self.broker.hlen("unacked") >= len(self.rig.workers):
            return
        self.publish()
        self.last, self.sent = now, self.sent + 1

    def close(self) -> None:
        self.broker.close()
        super().close()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when empty)."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


@dataclass
class Step:
    rate: float
    count: int
    load: LoadResult | None = None
    seconds: float = 0.0
    stored: int = 0
    processed_in_step: int = 0
    pending_end: int = 0
    queued_end: int = 0
    backlog_peak: int = 0
    growth: float = 0.0
    drain_seconds: float = 0.0
    still_pending: int = 0
    status: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    risk_ms: list[float] = field(default_factory=list)  # created_at - received_at, sorted
    visible_ms: list[float] = field(default_factory=list)  # seen committed - received_at, sorted
    processed_ms: list[float] = field(default_factory=list)  # processed_at - received_at, sorted
    batches: int = 0
    drains: list[int] = field(default_factory=list)
    wal_bytes: int = 0  # WAL written during the step and its drain
    log_rows: int = 0  # System Log records written during the step and its drain
    kicks: int = 0

    @property
    def sent_rate(self) -> float:
        return min(self.load.sent, self.count) / self.load.seconds if self.load.seconds else 0.0

    @property
    def accepted_rate(self) -> float:
        return self.load.accepted / self.load.seconds if self.load.seconds else 0.0

    @property
    def processed_rate(self) -> float:
        return self.processed_in_step / self.seconds if self.seconds else 0.0

    def sustained(self, p99_target_ms: float) -> tuple[bool, str]:
        """Whether this rate is sustained, and if not, the first reason why not."""
        if self.accepted_rate < 0.95 * self.rate:
            return False, "ingest: fewer 202/s than offered"
        # Processing keeps up when the backlog does not trend up and holds under a second of
        # SETs at the end (the processed rate trails the accepted one by the ramp-up alone).
        if self.growth > 0.05 * self.rate or self.pending_end > self.rate:
            return False, "backlog growing"
        worst = max(percentile(self.risk_ms, 99), percentile(self.visible_ms, 99))
        if not worst < p99_target_ms:
            return False, f"p99 {worst:.0f} ms"
        return True, "yes"


def expected_changes(rig: Rig) -> tuple[int, int]:
    """(risk changes the stored SETs call for, risk changes made).

    Each user's stored SETs, in event-time order, change its risk whenever their level differs
    from the one before (starting from none). A SET that was signed but never sent (a step cut
    short by its wall bound) breaks a user's high/low alternation, so this is counted, not assumed.
    """
    rows = rig.db.execute(
        "SELECT claims->'sub_id'->>'email', (claims->'events'->%s->>'event_timestamp')::bigint, "
        "claims->'events'->%s->>'current_level' FROM events_securityevent",
        (OKTA_USER_RISK, OKTA_USER_RISK),
    ).fetchall()
    levels: dict[str, str] = {}
    expected = 0
    for email, _when, level in sorted(rows, key=lambda row: (row[0], row[1])):
        if level != levels.get(email, "none"):
            expected += 1
        levels[email] = level
    made = rig.db.execute(
        "SELECT count(*) FROM risk_riskchange WHERE security_event_id IS NOT NULL"
    ).fetchone()[0]
    return expected, made


def wal_and_logs(rig: Rig) -> tuple[int, int]:
    """(WAL position in bytes, System Log records so far)."""
    row = rig.db.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
        "(SELECT count(*) FROM risk_logevent)"
    ).fetchone()
    return int(row[0]), row[1]


def create_users(rig: Rig, count: int) -> int:
    code = CREATE_USERS.replace("{count}", str(count)).replace("{domain}", USER_DOMAIN)
    return int(rig.manage("shell", "-c", code).strip().splitlines()[-1])


def measure_step(rig: Rig, step: Step, prefix: str, watcher: Watcher, window) -> None:
    """Everything the database says about one step, after it drained."""
    (t0, m0), (t1, m1) = window
    step.processed_in_step = rig.db.execute(
        "SELECT count(*) FROM events_securityevent WHERE processed_at >= %s AND processed_at < %s",
        (t0, t1),
    ).fetchone()[0]
    step.backlog_peak, step.growth = watcher.backlog(m0, m1)
    rows = rig.db.execute(
        "SELECT se.id, se.status, se.received_at, se.processed_at, rc.created_at "
        "FROM events_securityevent se "
        "LEFT JOIN risk_riskchange rc ON rc.security_event_id = se.id WHERE se.jti LIKE %s",
        (prefix + "-%",),
    ).fetchall()
    status: dict[str, int] = defaultdict(int)
    batches = set()
    for pk, state, received, processed, created in rows:
        status[state] += 1
        if processed is not None:
            batches.add(processed)  # a batch marks all its SETs with one processed_at
            step.processed_ms.append((processed - received).total_seconds() * 1000)
        if created is not None:
            step.changes += 1
            step.risk_ms.append((created - received).total_seconds() * 1000)
        seen = watcher.visible.get(pk)
        if seen is not None:
            step.visible_ms.append((seen - received).total_seconds() * 1000)
    step.stored = len(rows)
    step.status = dict(status)
    step.batches = len(batches)
    for values in (step.risk_ms, step.visible_ms, step.processed_ms):
        values.sort()


def _ms(values: list[float], q: float) -> str:
    value = percentile(values, q)
    return "    -" if math.isnan(value) else f"{value:5.0f}"


def print_table(steps: list[Step], p99_target_ms: float) -> None:
    print(
        "\noffered  sent/s   202/s  proc/s | PENDING end  peak  grow/s | receipt->risk ms: "
        "p50   p99   max | visible p50   p99 | batches | drain s | sustained"
    )
    for s in steps:
        ok, why = s.sustained(p99_target_ms)
        print(
            f"{s.rate:7.0f} {s.sent_rate:7.1f} {s.accepted_rate:7.1f} {s.processed_rate:7.1f} |"
            f" {s.pending_end:11d} {s.backlog_peak:5d} {s.growth:+7.1f} |"
            f"                 {_ms(s.risk_ms, 50)}  {_ms(s.risk_ms, 99)}  {_ms(s.risk_ms, 100)} |"
            f"        {_ms(s.visible_ms, 50)}  {_ms(s.visible_ms, 99)} | {s.batches:7d} |"
            f" {s.drain_seconds:7.2f} | {'yes' if ok else 'no: ' + why}"
        )


@dataclass
class Capacity:
    """Ingest alone (workers paused), then one drain alone on the stored backlog."""

    ingest: LoadResult
    backlog: int
    seconds: float
    left: int
    cpu_ms: dict[str, float]
    busy: float
    batches: int
    drains: list[int]

    @property
    def rate(self) -> float:
        return self.backlog / self.seconds if self.seconds else 0.0


class PipelineRun:
    """One run: the rig, the pre-signed SETs, the watcher, and what the checks need."""

    def __init__(self, rig: Rig, args, rates: list[float], counts: list[int]):
        self.rig, self.args, self.rates, self.counts = rig, args, rates, counts
        self.files: dict[str, Path] = {}
        self.expected_stored = 0
        self.non_202: dict[int, int] = defaultdict(int)
        self.unanswered = 0
        self.socket_errors = 0
        self.kicker: DrainKicker | None = None
        self.watcher: Watcher | None = None
        self.load = {"path": PUSH_PATH, "connections": args.connections, "bench_self": True}

    def count(self, result: LoadResult, count: int) -> None:
        self.expected_stored += result.accepted
        self.unanswered += min(result.sent, count) - result.answered
        self.socket_errors += result.socket_errors
        for code, n in result.others.items():
            self.non_202[code] += n

    def prepare(self) -> None:
        rig, args = self.rig, self.args
        started = time.monotonic()
        rig.start(gunicorn_workers=args.workers, celery_workers=args.celery_workers)
        users = create_users(rig, args.users)
        print(
            f"servers up in {time.monotonic() - started:.1f} s: gunicorn sync -w {args.workers} "
            f"on :{rig.port}, {args.celery_workers} Celery solo worker(s), PostgreSQL fsync on; "
            f"{users} users"
        )
        started = time.monotonic()
        total = 1 + args.warmup + sum(self.counts) + args.capacity
        plan = Plan(issuer=rig.issuer, audience=rig.audience, users=args.users, total=total)
        batches = [("check", 1), ("warm", args.warmup)]
        batches += [(f"s{n}", count) for n, count in enumerate(self.counts, start=1)]
        batches += [("cap", args.capacity)] if args.capacity else []
        with Signer(rig.key) as signer:
            for prefix, count in batches:
                self.files[prefix] = rig.tmp / f"{prefix}.txt"
                signer.sign(plan.claims(prefix, count), self.files[prefix])
        print(f"pre-signed {plan.next} SETs (RS256, Okta user-risk-change) in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip

        check_one(rig, PUSH_PATH, self.files["check"].read_text().strip())
        self.expected_stored = 1
        warm = run_wrk(rig, label="warm", tokens_file=self.files["warm"], count=args.warmup,
                       rate=100, seconds=args.warmup / 100 + 10, **self.load)  # fmt: skip
        self.count(warm, args.warmup)
        wait_for_drain(rig, args.drain_timeout)
        wait_for_quiet(rig, args.drain_timeout)

        if args.drain_kick > 0:
            self.kicker = DrainKicker(rig, every=args.drain_kick)
            rig.closers.insert(0, self.kicker.close)
        bound = len(self.rates) * (args.step_seconds + args.drain_timeout + 30)
        bound += (args.drain_timeout + 150) if args.capacity else 0
        self.watcher = Watcher(rig.database_url, seconds=bound + 60, kick=self.kicker)
        rig.closers.insert(0, self.watcher.stop)
        self.watcher.start()

    def step(self, number: int, rate: float, count: int) -> Step:
        rig, args, kicker = self.rig, self.args, self.kicker
        step = Step(rate=rate, count=count)
        drains_before = drain_tasks_run(rig)
        wal_before, logs_before = wal_and_logs(rig)
        kicks_before = kicker.sent if kicker else 0
        marks = {}

        def mark():
            marks["start"] = (datetime.now(UTC), time.monotonic())

        step.load = run_wrk(rig, label=f"{rate:g}/s", tokens_file=self.files[f"s{number}"],
                            count=count, rate=rate, seconds=args.step_seconds + 5,
                            on_start=mark, **self.load)  # fmt: skip
        marks["end"] = (datetime.now(UTC), time.monotonic())
        step.seconds = marks["end"][1] - marks["start"][1]
        step.pending_end, step.queued_end = stored_counts(rig)[1], queued_tasks(rig)
        step.drain_seconds, step.still_pending = wait_for_drain(rig, args.drain_timeout)
        wait_for_quiet(rig, args.drain_timeout)
        step.drains = [b - a for a, b in zip(drains_before, drain_tasks_run(rig), strict=True)]
        wal_after, logs_after = wal_and_logs(rig)
        step.wal_bytes, step.log_rows = wal_after - wal_before, logs_after - logs_before
        step.kicks = (kicker.sent if kicker else 0) - kicks_before
        measure_step(rig, step, f"s{number}", self.watcher, (marks["start"], marks["end"]))
        self.count(step.load, count)
        self.print_step(number, step)
        return step

    def print_step(self, number: int, step: Step) -> None:
        result = step.load
        print(
            f"step {number}: {step.rate:g}/s offered, {step.sent_rate:.1f} sent/s, "
            f"{step.accepted_rate:.1f} 202/s ({result.accepted}/{step.count} in "
            f"{result.seconds:.1f} s; HTTP p50 {result.p50_ms:.1f} ms p99 "
            f"{result.p99_ms:.1f} ms), {step.processed_rate:.1f} processed/s; PENDING at "
            f"the end {step.pending_end} (peak {step.backlog_peak}, growth "
            f"{step.growth:+.1f}/s), drained {step.drain_seconds:.2f} s later"
            + (
                f" ({step.pending_end / step.drain_seconds:.0f}/s with no load)"
                if step.pending_end >= 500 and step.drain_seconds > 0
                else ""
            )
            + (f", {step.still_pending} STILL PENDING" if step.still_pending else "")
        )
        print(
            f"        receipt->risk ms p50 {_ms(step.risk_ms, 50).strip()} p99 "
            f"{_ms(step.risk_ms, 99).strip()} (visible: p50 {_ms(step.visible_ms, 50).strip()}"
            f" p99 {_ms(step.visible_ms, 99).strip()}; processed_at p99 "
            f"{_ms(step.processed_ms, 99).strip()}); {step.changes} risk changes / "
            f"{step.stored} SETs; {step.batches} batches "
            f"({step.stored / max(step.batches, 1):.0f} SETs each); drain tasks per worker "
            f"{'+'.join(map(str, step.drains))}"
            + (f" ({step.kicks} kicked)" if self.kicker else "")
        )
        per_set = max(step.stored, 1)
        print(
            f"        per SET: {step.wal_bytes / per_set / 1024:.1f} KiB WAL, "
            f"{step.log_rows / per_set:.1f} System Log records; "
            + fmt_cpu(result.cpu_ms, result.busy).replace("/req", "/SET")
        )

    def capacity(self) -> Capacity:
        """Ingest alone, then processing alone: the bench holds the app's drain flag
        (events.dispatch) while it pushes the capacity SETs as fast as 8 connections go, so no
        drain starts; then it lets go of the flag, publishes one drain and times how long that
        takes to empty the backlog (one drain at a time, as the app's dispatch runs them)."""
        rig, args = self.rig, self.args
        self.watcher.kick = None  # no extra drains: this measures the app's own
        drains_before = drain_tasks_run(rig)
        rig.broker.set(DRAIN_REQUESTED_KEY, "bench")
        try:
            ingest = run_wrk(rig, label="ingest", path=PUSH_PATH, tokens_file=self.files["cap"],
                             count=args.capacity, connections=8, seconds=120,
                             bench_self=True)  # fmt: skip
        finally:
            rig.broker.delete(DRAIN_REQUESTED_KEY)
        self.count(ingest, args.capacity)
        backlog = stored_counts(rig)[1]
        meter = CpuMeter(rig, bench_self=True).start()
        publisher = DrainPublisher(rig)
        try:
            publisher.publish()
            seconds, left = wait_for_drain(rig, args.drain_timeout + 120)
        finally:
            publisher.close()
        cpu_ms, busy = meter.stop(backlog)
        wait_for_quiet(rig, args.drain_timeout)
        batches = rig.db.execute(
            "SELECT count(DISTINCT processed_at) FROM events_securityevent WHERE jti LIKE 'cap-%'"
        ).fetchone()[0]
        drains = [b - a for a, b in zip(drains_before, drain_tasks_run(rig), strict=True)]
        return Capacity(ingest, backlog, seconds, left, cpu_ms, busy, batches, drains)

    def checks(self) -> bool:
        """Print the checks; True when one failed."""
        rig = self.rig
        stored, pending, rejected = stored_counts(rig)
        status = dict(
            rig.db.execute(
                "SELECT status, count(*) FROM events_securityevent GROUP BY status"
            ).fetchall()
        )
        expected, changes = expected_changes(rig)
        print(
            f"checks: stored SETs {stored} vs 202 answers {self.expected_stored} "
            f"(+{self.unanswered} unanswered in flight); by status {status}; risk changes "
            f"{changes}, the stored SETs call for {expected}; non-202 "
            f"{dict(self.non_202) or 0}; rejected {rejected}; socket errors {self.socket_errors}"
        )
        failed = bool(
            not self.expected_stored <= stored <= self.expected_stored + self.unanswered
            or pending
            or status.get("FAILED")
            or changes != expected
            or self.non_202
            or rejected
        )
        print("checks: " + ("FAILED" if failed else "passed"))
        return failed


def print_capacity(cap: Capacity) -> None:
    ingest = cap.ingest
    print(
        f"\ncapacity, each alone: ingest (no drain running, wrk -c8) {ingest.rate:.1f} SETs/s, "
        f"HTTP p50 {ingest.p50_ms:.1f} ms p99 {ingest.p99_ms:.1f} ms;\n        "
        + fmt_cpu(ingest.cpu_ms, ingest.busy).replace("/req", "/SET")
    )
    print(
        f"        processing (one solo worker draining {cap.backlog} PENDING SETs): "
        f"{cap.rate:.1f} SETs/s in {cap.seconds:.2f} s, {cap.batches} batches, drain tasks "
        f"{'+'.join(map(str, cap.drains))}"
        + (f", {cap.left} LEFT PENDING" if cap.left else "")
        + "\n        "
        + fmt_cpu(cap.cpu_ms, cap.busy).replace("/req", "/SET")
    )


def print_summary(steps: list[Step], p99_target: float) -> None:
    print_table(steps, p99_target)
    sustained = [s for s in steps if s.sustained(p99_target)[0]]
    best = max(sustained, key=lambda s: s.rate, default=None)
    if best is None:
        print("\nsustained: no step")
    else:
        print(
            f"\nsustained: {best.rate:g} SETs/s ({best.processed_rate:.1f} processed/s), "
            f"receipt->risk p50 {_ms(best.risk_ms, 50).strip()} ms p99 "
            f"{_ms(best.risk_ms, 99).strip()} ms (visible p99 "
            f"{_ms(best.visible_ms, 99).strip()} ms)"
        )
    target = best is not None and best.rate >= 400
    print(
        f"issue target (>= 400 SETs/s sustained, p99 < {p99_target:g} ms): "
        + ("met" if target else "not met")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rates", default="200,400,600,800", help="SETs/s per step ('' none)")
    parser.add_argument("--step-seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--users", type=int, default=10000, help="users in the directory")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--celery-workers", type=int, default=2, help="solo workers (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="bound per drain wait")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured SETs, at 100/s")
    parser.add_argument("--p99-target", type=float, default=1000.0, help="ms (default 1000)")
    parser.add_argument(
        "--capacity",
        type=int,
        default=4000,
        help="SETs for the last phase, ingest and processing each alone (0: skip; 4000)",
    )
    parser.add_argument(
        "--drain-kick",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="experiment: publish extra drain tasks (at most every SECONDS) while a full batch "
        "is pending, so every worker drains; off by default",
    )
    args = parser.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error("--rates is a comma-separated list of numbers")
    counts = [max(1, round(rate * args.step_seconds)) for rate in rates]
    if (rates and min(rates) <= 0) or args.step_seconds <= 0 or args.capacity < 0:
        parser.error("--rates, --step-seconds and --capacity must be positive")
    if not rates and not args.capacity:
        parser.error("nothing to measure: no --rates and no --capacity")
    if min(args.users, args.workers, args.celery_workers, args.connections, args.warmup) < 1:
        parser.error("--users, --warmup, --connections and the worker counts must be at least 1")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk).", file=sys.stderr)
        return 2

    rig = Rig()
    run = PipelineRun(rig, args, rates, counts)
    try:
        run.prepare()
        if rates:
            kick = f"; EXPERIMENT: extra drains, >= {args.drain_kick:g} s apart"
            print(
                f"\n{len(rates)} steps of {args.step_seconds:g} s at fixed rates (open loop, wrk "
                f"-c{args.connections}); SET n names user n mod {args.users}"
                + (kick if run.kicker else "")
            )
        steps = [
            run.step(number, rate, count)
            for number, (rate, count) in enumerate(zip(rates, counts, strict=True), start=1)
        ]
        capacity = run.capacity() if args.capacity else None
        run.watcher.stop()
        if run.watcher.error is not None:
            print(f"watcher failed: {run.watcher.error!r}", file=sys.stderr)
        if capacity is not None:
            print_capacity(capacity)
        if steps:
            print_summary(steps, args.p99_target)
        failed = run.checks() or run.watcher.error is not None
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        return 130
    except Exception:
        rig.log_tails()
        raise
    finally:
        rig.close()
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
