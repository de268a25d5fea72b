"""Fault injection on the production shape, and what it must not lose, repeat or delay.

`FaultRig` runs the shape for real on loopback: its own durable PostgreSQL (fsync on; restarted
during the run, so never the session's), its own Redis (stopped during the run), gunicorn, two
Celery `--pool solo` workers and beat; a transmitter (`Transmitter`) pushes Okta user-risk-change
SETs at a fixed rate from several threads and retries each SET on any answer but 202, as RFC 8935
transmitters do; a sink (`Sink`) plays the connected app (Universal Logout) and the workflow
receiver (signed webhook), which the policy calls on every HIGH risk change.

`run_faults` injects, with load on: kill -9 of the worker running a drain (with a few SETs just
after and then none), Redis stopped and started, PostgreSQL restarted fast and immediate, and
kill -9 of the worker inside a webhook call. Each fault is a `Window`; `Report` then checks that
every SET answered 202 is stored and processed once, that every policy action succeeded in one
attempt, was logged once and reached the sink at most once per redelivery, and that each action
finished within ACTION_BOUND_SECONDS of the end of the last fault that held it up.

Used by tests/events/test_fault_injection.py (short intervals, a low rate) and bench/faults.py
(the default settings, a higher rate).
"""

import hashlib
import hmac
import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import Any

import psycopg
import redis
import requests

from tests import keys
from tests.http_server import LocalHTTPServer, RecordedRequest
from tests.processes import (
    ManagedProcess,
    production_env,
    run_manage,
    start_celery_beat,
    start_celery_worker,
    start_gunicorn,
)
from tests.servers import PostgresServer, RedisServer, free_port

OKTA_USER_RISK = "https://schemas.okta.com/secevent/okta/event-type/user-risk-change"
PUSH_PATH = "/security/api/v1/security-events"
USER_DOMAIN = "faults.example"
DRAINS_KEY = "ssf:events:drains"  # events.dispatch.DRAINS_KEY: the leases of running drains
ACTION_LOGS = ("user.authentication.universal_logout", "workflows.users.delegatedflow.run")
# The target: every policy action runs within this long of the end of the fault that held it.
ACTION_BOUND_SECONDS = 30.0

# Intervals short enough for a test run of a minute or two; the defaults are what production
# runs (bench/faults.py uses them). Outbound timeouts bound a policy action's claim.
SHORT_INTERVALS = {
    "SWEEP_PENDING_INTERVAL_SECONDS": "1",
    "SWEEP_PENDING_AFTER_SECONDS": "2",
    "DRAIN_LEASE_SECONDS": "3",
    "POLICY_ACTION_SWEEP_INTERVAL_SECONDS": "1",
    "POLICY_ACTION_RETRY_SECONDS": "1",
    "OUTBOUND_CONNECT_TIMEOUT": "1",
    "OUTBOUND_READ_TIMEOUT": "2",
}

SETUP = """
from risk.services.directory import entity_create
from risk.services.policy_config import connected_app_create, policy_rule_save, workflow_create
for n in range({users}):
    entity_create(email=f"user{{n}}@{domain}")
connected_app_create(name="Sink app", revocation_endpoint="{sink}/revoke", token="sink-token")
workflow, secret = workflow_create(name="Sink hook", url="{sink}/hook")
policy_rule_save(name="High", risk_level="HIGH", terminate_sessions=True, workflow=workflow)
print(secret)
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


class Sink:
    """The app's revocation endpoint and the workflow receiver: checks the signature, counts
    each Idempotency-Key, and can hold one webhook call while its sender is killed."""

    def __init__(self):
        self.server = LocalHTTPServer().start()
        self.secret = ""
        self.keys: Counter[str] = Counter()
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._hold_seconds = 0.0
        self.held = threading.Event()
        self.held_request: RecordedRequest | None = None
        self.server.route("POST", "/revoke", handler=self._revoke)
        self.server.route("POST", "/hook", handler=self._hook)

    @property
    def url(self) -> str:
        return self.server.url()

    def _count(self, request: RecordedRequest) -> None:
        with self._lock:
            self.keys[request.headers.get("Idempotency-Key", "")] += 1

    def _revoke(self, request: RecordedRequest):
        self._count(request)
        return 204, {}, b""

    def _signed(self, request: RecordedRequest) -> bool:
        """What a receiver recomputes: HMAC-SHA256 of "<t>.<body>" with the workflow's secret."""
        fields = dict(
            part.split("=", 1) for part in request.headers.get("X-SSF-Signature", "").split(",")
        )
        expected = hmac.new(
            self.secret.encode(), f"{fields.get('t')}.".encode() + request.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, fields.get("v1", ""))

    def _hook(self, request: RecordedRequest):
        self._count(request)
        if not self._signed(request):
            with self._lock:
                self.bad_signatures += 1
        with self._lock:
            hold, self._hold_seconds = self._hold_seconds, 0.0
        if hold:
            self.held_request = request
            self.held.set()
            time.sleep(hold)  # the sender is killed meanwhile; this answer goes nowhere
        return 200, {}, b""

    def hold_next_hook(self, seconds: float) -> None:
        self.held.clear()
        self.held_request = None
        with self._lock:
            self._hold_seconds = seconds

    def stop(self) -> None:
        self.server.stop()


class Transmitter:
    """Pushes SETs at `rate` per second from `senders` threads; each SET is sent again on any
    answer but 202 (and on a refused connection) every RETRY_SECONDS until accepted."""

    RETRY_SECONDS = 0.5

    def __init__(self, *, url: str, issuer: str, audience: str, key, users: int, rate: float,
                 high_every: int, senders: int = 4):  # fmt: skip
        self.url, self.issuer, self.audience, self.key = url, issuer, audience, key
        self.users, self.interval, self.high_every = users, 1.0 / rate, high_every
        self.accepted: set[str] = set()
        self.answers: Counter[Any] = Counter()
        self.unaccepted_at_stop = 0
        self._numbers = itertools.count()
        self._base = int(time.time()) - 100_000  # event times: each user's next SET is newer
        self._lock = threading.Lock()
        self._go = threading.Event()
        self._stop = threading.Event()
        self._in_flight = 0
        self._next_slot = 0.0
        self._threads = [
            threading.Thread(target=self._run, daemon=True, name=f"transmitter-{n}")
            for n in range(senders)
        ]

    def _token(self) -> tuple[str, str]:
        number = next(self._numbers)
        user, turn = number % self.users, number // self.users
        # Each user's level changes with every SET it is named in; one in `high_every` is HIGH.
        level = "high" if turn % self.high_every == 0 else ("low", "medium")[turn % 2]
        jti = f"fault-{number}-{uuid.uuid4().hex[:8]}"
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(time.time()),
            "jti": jti,
            "sub_id": {"format": "email", "email": f"user{user}@{USER_DOMAIN}"},
            "events": {OKTA_USER_RISK: {"current_level": level,
                                        "event_timestamp": self._base + number}},
        }  # fmt: skip
        return jti, keys.sign(claims, self.key)

    def _deliver(self, session: requests.Session) -> None:
        jti, token = self._token()
        while True:
            try:
                status: Any = session.post(
                    self.url, data=token, timeout=10,
                    headers={"Content-Type": "application/secevent+jwt",
                             "Accept": "application/json"},
                ).status_code  # fmt: skip
            except requests.RequestException as exc:
                status = type(exc).__name__
            with self._lock:
                self.answers[status] += 1
                if status == 202:
                    self.accepted.add(jti)
                    return
            if self._stop.is_set():
                with self._lock:
                    self.unaccepted_at_stop += 1
                return
            time.sleep(self.RETRY_SECONDS)

    def _wait_for_slot(self) -> bool:
        """Pace the senders together at the rate; False when paused or stopped."""
        with self._lock:
            if not self._go.is_set() or self._stop.is_set():
                return False
            now = time.monotonic()
            slot = self._next_slot = max(now, self._next_slot + self.interval)
            self._in_flight += 1
        time.sleep(max(0.0, slot - now))
        return True

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            if not self._wait_for_slot():
                self._go.wait(0.1)
                continue
            try:
                self._deliver(session)
            finally:
                with self._lock:
                    self._in_flight -= 1

    def start(self) -> None:
        self._go.set()
        for thread in self._threads:
            thread.start()

    def pause(self) -> None:
        """Send nothing more, and wait for the SETs under way to be accepted."""
        with self._lock:
            self._go.clear()
        wait_until(lambda: self._in_flight == 0, timeout=60, what="SETs under way", every=0.01)

    def resume(self) -> None:
        self._go.set()

    def send_now(self, count: int) -> None:
        """`count` SETs at once from this thread (while paused)."""
        session = requests.Session()
        for _ in range(count):
            self._deliver(session)

    def stop(self) -> None:
        self.pause()
        self.abort()

    def abort(self) -> None:
        """Stop at once (a SET still being retried is counted as never accepted)."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(15)


@dataclass
class Window:
    """One injected fault: from when it began to when the system was whole again (equal for a
    kill, after which nothing is restarted until the others recovered on their own)."""

    name: str
    start: datetime
    end: datetime
    sets_recovered_s: float = 0.0  # SETs received before `end` all processed, after `end`
    note: str = ""


def _started(future: Future) -> Any:
    """What a start function returned, or None if it failed (so `close()` stops the others)."""
    return None if future.exception() else future.result()


class FaultRig:
    """The servers and processes of one run; `close()` stops whatever was started."""

    def __init__(self, *, rate: float, users: int = 20, high_every: int = 4,
                 intervals: dict[str, str] | None = None, gunicorn_workers: int = 2):  # fmt: skip
        self.rate, self.users, self.high_every = rate, users, high_every
        self.intervals = intervals or {}
        self.gunicorn_workers = gunicorn_workers
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.peer: LocalHTTPServer | None = None  # the transmitter's metadata and JWKS
        self.sink: Sink | None = None
        self.gunicorn: ManagedProcess | None = None
        self.beat: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.transmitter: Transmitter | None = None
        self._db: psycopg.Connection | None = None
        self._worker_names = (f"fault{n}" for n in itertools.count(1))
        self.env: dict[str, str] = {}

    def start(self) -> "FaultRig":
        self.postgres = PostgresServer(durable=True).start()
        database_url = self.postgres.create_database("ssf_faults")
        self.redis = RedisServer().start()
        key = keys.generate_ec("faults-ec")
        self.peer = LocalHTTPServer().start()
        issuer = self.peer.url()
        self.peer.route("GET", "/.well-known/ssf-configuration", json_body={
            "spec_version": "1_0", "issuer": issuer, "jwks_uri": self.peer.url("/jwks.json"),
            "delivery_methods_supported": ["urn:ietf:rfc:8935"],
        })  # fmt: skip
        self.peer.route("GET", "/jwks.json", json_body=keys.public_jwks(key))
        self.sink = Sink()
        port = free_port()
        audience = f"http://127.0.0.1:{port}"
        self.env = production_env(
            database_url=database_url, redis_url=self.redis.url, RECEIVER_AUDIENCE=audience,
            **self.intervals,
        )  # fmt: skip
        run_manage(self.env, "migrate", "--noinput")
        run_manage(self.env, "add_stream", "--name", "faults", "--well-known-url",
                   self.peer.url("/.well-known/ssf-configuration"))  # fmt: skip
        setup = SETUP.format(users=self.users, domain=USER_DOMAIN, sink=self.sink.url)
        self.sink.secret = run_manage(self.env, "shell", "-c", setup).strip().splitlines()[-1]
        with ThreadPoolExecutor(4) as starting:  # each waits for its process to be ready
            gunicorn = starting.submit(
                start_gunicorn, self.env, port=port, workers=self.gunicorn_workers
            )
            workers = [starting.submit(self._start_worker) for _ in range(2)]
            beat = starting.submit(
                start_celery_beat, self.env, schedule=self.postgres.dir / "beat-schedule"
            )
        self.gunicorn, self.beat = _started(gunicorn), _started(beat)
        self.workers = [w for w in map(_started, workers) if w is not None]
        failed = [f.exception() for f in (gunicorn, beat, *workers) if f.exception()]
        if failed:
            raise failed[0]
        self._db = psycopg.connect(database_url, autocommit=True)
        self.broker = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        self.transmitter = Transmitter(
            url=audience + PUSH_PATH, issuer=issuer, audience=audience, key=key,
            users=self.users, rate=self.rate, high_every=self.high_every,
        )  # fmt: skip
        return self

    def _start_worker(self) -> ManagedProcess:
        return start_celery_worker(self.env, name=next(self._worker_names))

    def replace(self, worker: ManagedProcess) -> None:
        """A killed worker's replacement, as a supervisor would start it."""
        worker.stop()
        self.workers[self.workers.index(worker)] = self._start_worker()

    def worker_with_pid(self, pid: int) -> ManagedProcess | None:
        return next((w for w in self.workers if w.process.pid == pid), None)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from the receiver's database, reconnecting across a PostgreSQL restart."""
        deadline = time.monotonic() + 60
        while True:
            try:
                if self._db is None or self._db.closed:
                    self._db = psycopg.connect(self.postgres.url("ssf_faults"), autocommit=True)
                return self._db.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                self._db = None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def pending_sets(self, *, received_by: datetime | None = None) -> int:
        sql = "SELECT count(*) FROM events_securityevent WHERE status = 'PENDING'"
        if received_by is None:
            return self.query(sql)[0][0]
        return self.query(sql + " AND received_at <= %s", (received_by,))[0][0]

    def pending_actions(self) -> int:
        return self.query("SELECT count(*) FROM risk_policyaction WHERE status = 'PENDING'")[0][0]

    def settle(self, timeout: float = 90) -> None:
        """Wait until what arrived more than a second ago is processed and its actions done."""

        def settled() -> bool:
            return not self.query(
                "SELECT 1 FROM events_securityevent WHERE status = 'PENDING' "
                "AND received_at < now() - interval '1 second' UNION ALL "
                "SELECT 1 FROM risk_policyaction WHERE status = 'PENDING' "
                "AND created_at < now() - interval '1 second' LIMIT 1"
            )

        wait_until(settled, timeout=timeout, what="backlog and actions done")

    def log_tails(self) -> str:
        processes = [p for p in (self.gunicorn, self.beat, *self.workers) if p is not None]
        return "\n".join(f"--- {p.name} ---\n{p.log()[-2000:]}" for p in processes)

    def close(self) -> None:
        if self.transmitter is not None:
            self.transmitter.abort()
        for process in [*self.workers, self.beat, self.gunicorn]:
            if process is not None:
                process.stop()
        if self._db is not None:
            self._db.close()
        for server in (self.sink, self.peer, self.redis, self.postgres):
            if server is not None:
                server.stop()


def _sets_recovered(rig: FaultRig, window: Window, received_by: datetime) -> Window:
    """Wait until every SET received by `received_by` is processed; note how long after the
    end of the fault that was."""
    wait_until(lambda: rig.pending_sets(received_by=received_by) == 0, timeout=90,
               what=f"{window.name}: SETs processed", every=0.05)  # fmt: skip
    window.sets_recovered_s = (utcnow() - window.end).total_seconds()
    return window


def kill_worker_mid_drain(rig: FaultRig, *, arriving_after: int = 5) -> Window:
    """kill -9 of the worker whose drain holds a lease, under load; the SETs under way and a few
    more right after find the dead drain's request flag, then none arrive until the backlog is
    processed, without a restart."""

    def drain_holder() -> ManagedProcess | None:
        for token in rig.broker.zrangebyscore(DRAINS_KEY, time.time(), "+inf"):
            worker = rig.worker_with_pid(int(token.decode().split(":")[1]))
            if worker is not None:
                return worker
        return None

    worker = wait_until(drain_holder, timeout=30, what="a running drain", every=0.01)
    worker.kill()
    killed = utcnow()
    window = Window("kill -9 worker mid-drain", killed, killed)
    rig.transmitter.pause()
    rig.transmitter.send_now(arriving_after)
    window = _sets_recovered(rig, window, utcnow())
    window.note = f"{arriving_after} SETs right after the kill, then none; no restart"
    rig.replace(worker)
    rig.transmitter.resume()
    return window


def redis_outage(rig: FaultRig, *, seconds: float) -> Window:
    start = utcnow()
    rig.redis.stop(remove=False)
    time.sleep(seconds)
    rig.redis.start()
    return _sets_recovered(rig, Window(f"Redis down {seconds:g} s", start, utcnow()), utcnow())


def postgres_restart(rig: FaultRig, *, immediate: bool) -> Window:
    start = utcnow()
    rig.postgres.restart(immediate=immediate)
    name = f"PostgreSQL restart ({'immediate' if immediate else 'fast'})"
    return _sets_recovered(rig, Window(name, start, utcnow()), utcnow())


def _socket_owner(port: int, workers: list[ManagedProcess]) -> ManagedProcess | None:
    """The worker whose TCP socket has local port `port` (from /proc: which one is calling)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inodes.add(f"socket:[{fields[9]}]")
    for worker in workers:
        fd_dir = Path(f"/proc/{worker.process.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return worker
            except OSError:
                continue
    return None


def kill_worker_during_webhook(rig: FaultRig, *, hold: float) -> Window:
    """kill -9 of the worker while the sink holds its webhook call: the call was made, its
    outcome never recorded. The other worker must send it again (same key), no restart."""
    rig.sink.hold_next_hook(hold)
    wait_until(rig.sink.held.is_set, timeout=60, what="a webhook call", every=0.01)
    request = rig.sink.held_request
    worker = _socket_owner(request.peer[1], rig.workers)
    if worker is None:
        raise RuntimeError("no worker owns the webhook call's socket")
    worker.kill()
    killed = utcnow()
    window = Window("kill -9 worker during a webhook", killed, killed)
    key = request.headers["Idempotency-Key"]
    wait_until(lambda: rig.query("SELECT 1 FROM risk_policyaction WHERE uuid = %s::uuid AND "
                                 "status = 'SUCCEEDED'", (key,)),
               timeout=90, what="the interrupted webhook's action")  # fmt: skip
    window.note = f"its action done {(utcnow() - window.end).total_seconds():.1f} s after the kill"
    rig.replace(worker)
    return window


@dataclass
class Report:
    """What the database, the transmitter and the sink say after a run."""

    windows: list[Window]
    failures: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    redelivered: int = 0

    def text(self) -> str:
        return "\n".join(self.lines + [f"FAILED: {f}" for f in self.failures])


def _action_delays(actions: list[tuple], windows: list[Window]) -> list[tuple[float, str]]:
    """Per action: seconds from when it could run (its creation, or the end of a fault that
    began before it finished and ended after it was created) to when it finished, and which."""
    delays = []
    for created, finished, _uuid in actions:
        start, cause = created, "no fault"
        for window in windows:
            if window.start <= finished and window.end >= start:
                start, cause = max(start, window.end), window.name
        delays.append(((finished - start).total_seconds(), cause))
    return delays


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = quantiles(values, n=100)
    return f"p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s, max {max(values):.2f} s"


def report(rig: FaultRig, windows: list[Window]) -> Report:
    result = Report(windows)
    fail, line = result.failures.append, result.lines.append
    tx, sink = rig.transmitter, rig.sink
    stored = {jti for (jti,) in rig.query("SELECT jti FROM events_securityevent")}
    lost = tx.accepted - stored
    statuses = dict(rig.query("SELECT status, count(*) FROM events_securityevent GROUP BY 1"))
    twice = rig.query(
        "SELECT security_event_id FROM risk_logevent WHERE event_type = "
        "'security.events.provider.receive_event' GROUP BY 1 HAVING count(*) > 1 UNION ALL "
        "SELECT security_event_id FROM risk_riskchange GROUP BY 1 HAVING count(*) > 1"
    )
    unlogged = rig.query(
        "SELECT count(*) FROM events_securityevent se WHERE NOT EXISTS (SELECT 1 FROM "
        "risk_logevent l WHERE l.security_event_id = se.id AND l.event_type = "
        "'security.events.provider.receive_event')"
    )[0][0]
    if lost:
        fail(f"{len(lost)} SETs answered 202 are not stored, e.g. {sorted(lost)[:3]}")
    if set(statuses) != {"PROCESSED"}:
        fail(f"SET statuses {statuses}: every stored SET should be PROCESSED")
    if twice or unlogged:
        fail(f"{len(twice)} SETs processed more than once, {unlogged} never logged")
    client_errors = {s: n for s, n in tx.answers.items() if isinstance(s, int) and s < 500
                     and s != 202}  # fmt: skip
    if client_errors or tx.unaccepted_at_stop:
        fail(f"answers {client_errors}, {tx.unaccepted_at_stop} SETs never accepted")

    actions = rig.query(
        "SELECT uuid::text, status, attempts, redeliveries, created_at, finished_at "
        "FROM risk_policyaction"
    )
    logged = Counter(dict(rig.query(
        "SELECT (debug_data->>'policyActionId')::bigint, count(*) FROM risk_logevent "
        "WHERE event_type = ANY(%s) GROUP BY 1", (list(ACTION_LOGS),),
    )))  # fmt: skip
    ids = dict(rig.query("SELECT uuid::text, id FROM risk_policyaction"))
    # Each attempt logged once (a redelivery is its attempt, not another); a retry after a
    # timeout under load is a second attempt, and allowed.
    not_once = [a for a in actions if a[1] != "SUCCEEDED" or logged[ids[a[0]]] != a[2]]
    if not_once:
        fail(f"{len(not_once)} actions not done, or not logged once per attempt: {not_once[:3]}")
    sends = {a[0]: a[2] + a[3] for a in actions}  # attempts + redeliveries
    extra = {k: n for k, n in sink.keys.items() if n > sends.get(k, 0)}
    unknown = set(sink.keys) - set(sends)
    if extra or unknown:
        fail(f"sink got keys more often than sent: {extra}; unknown keys {unknown}")
    if sink.bad_signatures:
        fail(f"{sink.bad_signatures} webhook calls with a bad signature")
    result.redelivered = sum(1 for a in actions if a[3])
    retried = sum(1 for a in actions if a[2] > 1)

    done = [(a[4], a[5], a[0]) for a in actions if a[5] is not None]
    delays = _action_delays(done, windows)
    late = [(round(d, 1), cause) for d, cause in delays if d > ACTION_BOUND_SECONDS]
    if late:
        fail(
            f"{len(late)} actions later than {ACTION_BOUND_SECONDS:g} s after recovery: {late[:5]}"
        )
    sets = rig.query(
        "SELECT extract(epoch FROM processed_at - received_at) FROM events_securityevent "
        "WHERE processed_at IS NOT NULL"
    )
    line(f"SETs: {len(tx.accepted)} accepted (202), {len(stored)} stored, {len(lost)} lost; "
         f"answers {dict(tx.answers)}")  # fmt: skip
    line(f"SET receipt to processed: {_percentiles([float(s) for (s,) in sets])}")
    line(
        f"policy actions: {len(actions)}, {result.redelivered} redelivered after a kill, "
        f"{retried} retried, sink calls {sum(sink.keys.values())} for {len(sink.keys)} keys"
    )
    calm = [d for d, cause in delays if cause == "no fault"]
    line(f"action created to done, outside fault windows: {_percentiles(calm)}")
    line(f"{'fault':<34} {'lasted':>7} {'SETs done':>10} {'actions':>8} {'latest':>8}  note")
    for window in windows:
        held = [d for d, cause in delays if cause == window.name]
        lasted = (window.end - window.start).total_seconds()
        latest = f"{max(held):.1f} s" if held else "-"
        line(f"{window.name:<34} {lasted:>5.1f} s {window.sets_recovered_s:>8.1f} s "
             f"{len(held):>8} {latest:>8}  {window.note}")  # fmt: skip
    line(
        "(SETs done: every SET received before the end of the fault processed, seconds after "
        "it; actions: held up by the fault; latest: the last of them done, seconds after it)"
    )
    return result


def run_faults(rig: FaultRig, *, warmup: float, redis_down: float, hold: float,
               progress: Callable[[str], None] = lambda _: None) -> Report:  # fmt: skip
    """The scenario: warm up under load, inject each fault in turn (waiting for the system to
    settle in between), stop the load, wait for everything to finish, and report."""
    rig.transmitter.start()
    time.sleep(warmup)
    faults: list[Callable[[], Window]] = [
        lambda: kill_worker_mid_drain(rig),
        lambda: redis_outage(rig, seconds=redis_down),
        lambda: postgres_restart(rig, immediate=False),
        lambda: postgres_restart(rig, immediate=True),
        lambda: kill_worker_during_webhook(rig, hold=hold),
    ]
    windows = []
    for fault in faults:
        rig.settle()
        windows.append(fault())
        progress(f"{windows[-1].name}: SETs done {windows[-1].sets_recovered_s:.1f} s after")
    rig.settle()
    rig.transmitter.stop()
    wait_until(lambda: rig.pending_sets() == 0 and rig.pending_actions() == 0, timeout=120,
               what="everything processed after the run")  # fmt: skip
    time.sleep(1.0)  # a duplicate delivery would land now
    return report(rig, windows)
