"""What the benchmarks share: the servers of a run, pre-signed SETs, wrk, CPU accounting, cleanup.

`Rig` starts a durable PostgreSQL (fsync on), Redis, a local transmitter (well-known metadata and
JWKS), migrates a fresh database, adds the stream, then starts gunicorn (sync workers,
config.settings.production plus `bench/bare` via bench.settings) and Celery `--pool solo`
workers; `close()` stops whatever was started and removes the temporary directories.
`run_wrk` pushes a file of pre-signed SETs with wrk, bounded by a count and a wall time, either
as fast as the connections go or paced at a fixed rate (open loop), and measures the CPU each
request cost per process group. Used by bench/ingest.py and bench/pipeline.py.
"""

import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from jwcrypto.jwk import JWK  # noqa: E402

from tests import keys  # noqa: E402
from tests.http_server import LocalHTTPServer  # noqa: E402
from tests.processes import (  # noqa: E402
    ManagedProcess,
    production_env,
    run_manage,
    start_celery_worker,
    start_gunicorn,
)
from tests.servers import PostgresServer, RedisServer, free_port  # noqa: E402

PUSH_PATH = "/security/api/v1/security-events"
BARE_PATH = "/bench/bare"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# One wrk thread, so one Lua state: `sent` numbers the requests and each one carries its own SET.
# Once every counted request is out, connections still open are kept busy on the bare view (never
# a replayed SET, never a SET whose answer would go unread). Their few answers (< concurrency)
# land in wrk's latency histogram but are not counted; the bare view marks them with a header.
# args: tokens file, count, path[, rate]: the rate (requests/s) is only read by the paced script.
_WRK_COMMON = r"""
local tokens, count, target, bare_round, rate = {}, 0, "/", false, 0
local bare_path = "/bench/bare"
local request_headers = {
  ["Content-Type"] = "application/secevent+jwt", ["Accept"] = "application/json"
}
sent, answered, accepted, others = 0, 0, 0, ""
local other_counts = {}

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  count = tonumber(args[2])
  target = args[3]
  bare_round = target == bare_path
  rate = tonumber(args[4] or "0")
end

-- wrk 4 calls request() once on this state before the run, to check what it returns (main():
-- script_verify_request on thread 0); that call must not use up a SET.
local verified = false

function request()
  if not verified then
    verified = true
    return wrk.format("POST", bare_path, request_headers, "")
  end
  sent = sent + 1
  if sent <= count then
    return wrk.format("POST", target, request_headers, tokens[sent])
  end
  return wrk.format("POST", bare_path, request_headers, tokens[1])
end

function response(status, headers, body)
  if not bare_round and headers["X-Bench-Bare"] then return end
  answered = answered + 1
  if status == 202 then
    accepted = accepted + 1
  else
    other_counts[status] = (other_counts[status] or 0) + 1
    local parts = {}
    for code, n in pairs(other_counts) do parts[#parts + 1] = code .. "x" .. n end
    others = table.concat(parts, ",")
  end
  if answered == count then
    -- wrk's main thread sleeps for the whole -d; the bench answers this line with SIGINT.
    io.write("COUNT REACHED\n")
    io.flush()
    wrk.thread:stop()
  end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local t = threads[1]
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("BENCH %d %d %d %.0f %.0f %.0f %.0f %d %s\n",
    t:get("sent"), t:get("answered"), t:get("accepted"), summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, errors, "=" .. t:get("others")))
end
"""

# Open loop at a fixed rate: wrk asks delay() before each request on a connection (its first one
# too, and again after every answer), so request k leaves at start + k / rate on whichever
# connection is free then. Behind schedule (every connection waiting for an answer) it sends at
# once, catching up; the offered rate holds as long as the connections outnumber the requests in
# flight. Slots past the count wait an hour (the bench stops wrk long before).
_WRK_PACED = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local slots, start_ms = 0, nil

function delay()
  if start_ms == nil then start_ms = now_ms() end
  slots = slots + 1
  if slots > count then return 3600000 end
  local wait = start_ms + (slots - 1) * 1000 / rate - now_ms()
  if wait <= 0 then return 0 end
  return math.floor(wait + 0.5)
end
"""

WRK_SCRIPT = _WRK_COMMON
WRK_PACED_SCRIPT = _WRK_COMMON + _WRK_PACED


@dataclass
class LoadResult:
    """What one wrk run measured."""

    label: str
    sent: int
    answered: int
    accepted: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    others: dict[int, int]
    cpu_ms: dict[str, float] = field(default_factory=dict)
    busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


class Rig:
    """Every server of one run; `close()` stops whatever was started, in reverse order."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ssf-bench-"))
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.transmitter: LocalHTTPServer | None = None
        self.gunicorn: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.db: psycopg.Connection | None = None
        self.broker: redis.Redis | None = None
        self.port = free_port()
        self.audience = f"http://127.0.0.1:{self.port}"
        self.issuer = ""
        self.key: JWK | None = None
        self.env: dict[str, str] = {}
        self.database_url = ""
        self.closers: list[Callable[[], Any]] = []  # extra cleanup, run first (bench threads)

    def start(self, *, gunicorn_workers: int, celery_workers: int) -> "Rig":
        self.postgres = PostgresServer(durable=True).start()
        self.database_url = self.postgres.create_database("ssf_bench")
        self.redis = RedisServer().start()
        self.transmitter = LocalHTTPServer().start()
        self.issuer = self.transmitter.url()
        self.key = keys.generate_rsa("bench-rs256", size=2048)
        self.transmitter.route(
            "GET",
            "/.well-known/ssf-configuration",
            json_body={
                "spec_version": "1_0",
                "issuer": self.issuer,
                "jwks_uri": self.transmitter.url("/jwks.json"),
                "delivery_methods_supported": ["urn:ietf:rfc:8935"],
            },
        )
        self.transmitter.route("GET", "/jwks.json", json_body=keys.public_jwks(self.key))
        self.env = production_env(
            database_url=self.database_url,
            redis_url=self.redis.url,
            RECEIVER_AUDIENCE=self.audience,
        )
        well_known = self.transmitter.url("/.well-known/ssf-configuration")
        self.manage("migrate", "--noinput")
        self.manage("add_stream", "--name", "bench", "--well-known-url", well_known)
        self.gunicorn = start_gunicorn(
            {**self.env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            port=self.port,
            workers=gunicorn_workers,
        )
        for number in range(1, celery_workers + 1):
            self.workers.append(start_celery_worker(self.env, name=f"bench{number}"))
        self.db = psycopg.connect(self.database_url, autocommit=True)
        self.broker = redis.Redis.from_url(self.redis.url)
        return self

    def manage(self, *command: str, timeout: float = 120) -> str:
        """manage.py against the bench database (production settings)."""
        try:
            return run_manage(self.env, *command, timeout=timeout)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{exc.stderr[-3000:]}") from exc

    def close(self) -> None:
        steps = [
            *self.closers,
            *(worker.stop for worker in self.workers),
            self.gunicorn.stop if self.gunicorn else None,
            self.db.close if self.db else None,
            self.broker.close if self.broker else None,
            self.transmitter.stop if self.transmitter else None,
            self.redis.stop if self.redis else None,
            self.postgres.stop if self.postgres else None,
        ]
        for step in steps:
            if step is None:
                continue
            try:
                step()
            except (OSError, RuntimeError, subprocess.SubprocessError, psycopg.Error) as exc:
                print(f"cleanup: {type(exc).__name__}: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tails(self) -> None:
        for process in [p for p in (self.gunicorn, *self.workers) if p is not None]:
            with contextlib.suppress(OSError):
                print(
                    f"--- {process.name} log (tail) ---\n{process.log()[-2500:]}", file=sys.stderr
                )


# --- CPU per process group, from /proc ------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, CPU seconds of the process and its reaped children)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), ticks / CLK_TCK)
    return table


def _tree_cpu(table: dict[int, tuple[int, float]], roots: list[int]) -> float:
    children = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    total, todo = 0.0, list(roots)
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
            todo.extend(children[pid])
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def cpu_snapshot(rig: Rig, *, bench_self: bool = False) -> dict[str, float]:
    """CPU seconds so far per process group; `bench_self` adds this process (its own threads)."""
    table = _proc_table()
    groups = {
        "gunicorn": [rig.gunicorn.process.pid],
        "postgres": [rig.postgres.process.pid],
        "redis": [rig.redis.process.pid],
        "celery": [w.process.pid for w in rig.workers],
    }
    snapshot = {name: _tree_cpu(table, pids) for name, pids in groups.items()}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
    snapshot["wrk"] = usage.ru_utime + usage.ru_stime
    if bench_self:
        own = resource.getrusage(resource.RUSAGE_SELF)
        snapshot["bench"] = own.ru_utime + own.ru_stime
    return snapshot


class CpuMeter:
    """CPU per process group between `start()` and `stop(n)`, in ms per request.

    `other` is whatever else ran on the machine meanwhile (other jobs, or this script when not
    counted as `bench`): when it is large, absolute figures mean little; per-group CPU still holds.
    """

    def __init__(self, rig: Rig, *, bench_self: bool = False):
        self.rig, self.bench_self = rig, bench_self

    def start(self) -> "CpuMeter":
        self.before = cpu_snapshot(self.rig, bench_self=self.bench_self)
        self.ticks = machine_ticks()
        return self

    def stop(self, requests: int) -> tuple[dict[str, float], float]:
        """(CPU ms per request per group, plus `other`; share of the machine that was busy)."""
        after = cpu_snapshot(self.rig, bench_self=self.bench_self)
        busy1, total1 = machine_ticks()
        busy0, total0 = self.ticks
        per_request = 1000 / max(requests, 1)
        cpu_ms = {name: (after[name] - self.before[name]) * per_request for name in self.before}
        ours_ms = sum(cpu_ms.values())
        cpu_ms["other"] = max((busy1 - busy0) / CLK_TCK * per_request - ours_ms, 0.0)
        return cpu_ms, (busy1 - busy0) / max(total1 - total0, 1)


def fmt_cpu(cpu_ms: dict[str, float], busy: float) -> str:
    parts = " ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())
    return f"CPU ms/req: {parts} | machine busy {busy:.0%}"


# --- load -------------------------------------------------------------------------------------


def run_wrk(
    rig: Rig,
    *,
    label: str,
    path: str,
    tokens_file: Path,
    count: int,
    connections: int,
    seconds: float,
    rate: float | None = None,
    on_start: Callable[[], None] | None = None,
    bench_self: bool = False,
) -> LoadResult:
    """Push `count` bodies from `tokens_file` to `path`, bounded by count and wall time.

    As fast as `connections` allow, or, given `rate`, paced at `rate` requests/s (open loop).
    """
    script = rig.tmp / ("paced.lua" if rate else "push.lua")
    if not script.exists():
        script.write_text(WRK_PACED_SCRIPT if rate else WRK_SCRIPT)
    url = f"http://127.0.0.1:{rig.port}"
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(int(seconds + 0.999), 1)}s", "--timeout",
        "30s", "-s", str(script), url, "--", str(tokens_file), str(count), path,
    ]  # fmt: skip
    if rate:
        command.append(f"{rate:g}")
    meter = CpuMeter(rig, bench_self=bench_self).start()
    if on_start is not None:
        on_start()
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = []
    try:
        # Ends when wrk exits: once it is told the count is reached, or at its -d bound.
        for line in wrk.stdout:
            output.append(line)
            if line.startswith("COUNT REACHED"):
                wrk.send_signal(signal.SIGINT)
        returncode = wrk.wait(timeout=30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    line = next((ln for ln in output if ln.startswith("BENCH ")), None)
    if returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({returncode}):\n{''.join(output)}\n{wrk.stderr.read()}")
    sent, answered, accepted, micros, p50, p99, worst, errors, others = line.split()[1:]
    other_counts = {}
    for part in filter(None, others.removeprefix("=").split(",")):
        code, n = part.split("x")
        other_counts[int(code)] = int(n)
    result = LoadResult(
        label=label,
        sent=int(sent),
        answered=int(answered),
        accepted=int(accepted),
        seconds=int(micros) / 1e6,
        p50_ms=int(p50) / 1000,
        p99_ms=int(p99) / 1000,
        max_ms=int(worst) / 1000,
        socket_errors=int(errors),
        others=other_counts,
    )
    result.cpu_ms, result.busy = meter.stop(result.answered)
    return result


def check_one(rig: Rig, path: str, token: str) -> None:
    response = requests.post(
        f"http://127.0.0.1:{rig.port}{path}",
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=30,
    )
    if response.status_code != 202:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:500]}")


# --- pre-signing ------------------------------------------------------------------------------

_signing_key: JWK | None = None


def _init_signer(key_json: str) -> None:
    global _signing_key
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and shuts us down
    _signing_key = JWK.from_json(key_json)


def _sign_chunk(chunk: list[dict[str, Any]]) -> list[str]:
    return [keys.sign(claims, _signing_key) for claims in chunk]


class Signer:
    """Signs claim sets (RS256, tests.keys.sign) into files, one compact JWS a line.

    Signing is all CPU (~0.7 ms a SET with jwcrypto), so it runs in one process per core, before
    anything is timed. Use as a context manager: the processes end with the block.
    """

    def __init__(self, key: JWK, *, chunk: int = 500):
        self.chunk = chunk
        # spawn, not fork: this process already runs threads (the transmitter) and holds sockets.
        self.executor = ProcessPoolExecutor(
            os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_signer,
            initargs=(key.export(private_key=True),),
        )

    def __enter__(self) -> "Signer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def sign(self, claims: list[dict[str, Any]], path: Path) -> None:
        chunks = [claims[i : i + self.chunk] for i in range(0, len(claims), self.chunk)]
        with path.open("w") as out:
            for tokens in self.executor.map(_sign_chunk, chunks):
                out.writelines(token + "\n" for token in tokens)


def sign_sets(signer: Signer, *, issuer: str, audience: str, count: int, path: Path) -> None:
    """`count` well-formed SETs (tests.keys.set_claims, one jti each) into `path`."""
    signer.sign([keys.set_claims(iss=issuer, aud=audience) for _ in range(count)], path)


# --- the pipeline's state ---------------------------------------------------------------------


def stored_counts(rig: Rig) -> tuple[int, int, int]:
    """(stored SETs, of which PENDING, rejected SETs)."""
    row = rig.db.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'PENDING'), "
        "(SELECT count(*) FROM events_rejectedsecurityevent) FROM events_securityevent"
    ).fetchone()
    return row[0], row[1], row[2]


def wait_for_drain(rig: Rig, timeout: float) -> tuple[float, int]:
    """Seconds until no stored SET is PENDING (bounded by `timeout`), and how many still are."""
    start = time.monotonic()
    while True:
        pending = stored_counts(rig)[1]
        elapsed = time.monotonic() - start
        if pending == 0 or elapsed > timeout:
            return elapsed, pending
        time.sleep(0.02)


def queued_tasks(rig: Rig) -> int:
    """Celery messages waiting in Redis or taken but not yet acknowledged (acks_late)."""
    return rig.broker.llen("celery") + rig.broker.hlen("unacked")


def wait_for_quiet(rig: Rig, timeout: float) -> tuple[float, int]:
    """Seconds until the broker holds no task (drain tasks left over after the SETs are done).

    Left running, they would eat CPU in the next round and skew it.
    """
    start = time.monotonic()
    while True:
        queued = queued_tasks(rig)
        elapsed = time.monotonic() - start
        if queued == 0 or elapsed > timeout:
            return elapsed, queued
        time.sleep(0.02)


def drain_tasks_run(rig: Rig) -> list[int]:
    """Drain tasks each worker finished so far, from its log (Celery logs one line per task)."""
    return [
        sum(
            1
            for line in worker.log().splitlines()
            if "process_pending_security_events[" in line and " succeeded in " in line
        )
        for worker in rig.workers
    ]


def transactions(rig: Rig) -> int:
    row = rig.db.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return row[0]


# --- running a benchmark ----------------------------------------------------------------------


def _terminate(signum, frame):
    raise KeyboardInterrupt


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's main(): Ctrl-C and SIGTERM both stop everything cleanly (main's
    try/finally), even when started with SIGINT ignored (a background job of a script)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
