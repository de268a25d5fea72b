"""Ingest benchmark: the SET push endpoint against a bare DRF view, in production shape.

One run starts a durable PostgreSQL (fsync on), Redis, gunicorn (sync workers) serving
config.settings.production plus `bench/bare` (bench.settings), Celery `--pool solo` worker(s) and
a local transmitter (well-known metadata and JWKS). It pre-signs every SET (RS256, 2048-bit, one
jti each), then pushes them with wrk in interleaved rounds (bare, ours, bare, ours ...), each round
bounded by a count and a wall time. It prints requests/s and p50/p99 per round, the ratio
ours/bare per round and its median, the machine CPU each request cost per process group, how long
the accepted SETs took to leave PENDING, and checks that every 202 was stored and nothing else
was answered. Exits non-zero when a check fails.

    .venv/bin/python bench/ingest.py [--sets 4000] [--concurrency 8] [--rounds 3] [--workers 4]

Four gunicorn workers by default: on two cores the push endpoint, which waits on PostgreSQL, does
as well or better with four than with two (+17% once its round trips are cut), while the bare
view is 10-15% faster with two; `--workers 2` shows the other side.
"""

import argparse
import contextlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

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
WRK_SCRIPT = r"""
local tokens, count, target, bare_round = {}, 0, "/", false
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
        self.key = None

    def close(self) -> None:
        steps = [
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


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _cpu_snapshot(rig: Rig) -> dict[str, float]:
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
    return snapshot


def run_wrk(rig: Rig, *, label: str, path: str, tokens_file: Path, count: int, args) -> LoadResult:
    """Push `count` bodies from `tokens_file` to `path`, bounded by count and wall time."""
    url = f"http://127.0.0.1:{rig.port}"
    command = [
        "wrk", "-t1", f"-c{args.concurrency}", f"-d{args.round_seconds}s", "--timeout", "30s",
        "-s", str(rig.tmp / "push.lua"), url, "--", str(tokens_file), str(count), path,
    ]  # fmt: skip
    before, (busy0, total0) = _cpu_snapshot(rig), _machine_ticks()
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
    after, (busy1, total1) = _cpu_snapshot(rig), _machine_ticks()
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
        busy=(busy1 - busy0) / max(total1 - total0, 1),
    )
    per_request = 1000 / max(result.answered, 1)
    result.cpu_ms = {name: (after[name] - before[name]) * per_request for name in before}
    # Whatever else ran on the machine meanwhile (the bench itself, other jobs): when it is
    # large, absolute figures of this run mean little; the per-group CPU still holds.
    ours_ms = sum(result.cpu_ms.values())
    result.cpu_ms["other"] = max((busy1 - busy0) / CLK_TCK * per_request - ours_ms, 0.0)
    return result


def sign_sets(key, *, issuer: str, audience: str, count: int, path: Path) -> None:
    with path.open("w") as out:
        for _ in range(count):
            out.write(keys.sign(keys.set_claims(iss=issuer, aud=audience), key) + "\n")


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

    Left running, they would eat CPU in the next round and make the bare view look slower.
    """
    start = time.monotonic()
    while True:
        queued = queued_tasks(rig)
        elapsed = time.monotonic() - start
        if queued == 0 or elapsed > timeout:
            return elapsed, queued
        time.sleep(0.02)


def drain_tasks_run(rig: Rig) -> int:
    """Drain tasks the worker(s) finished so far, from their logs (Celery logs one per task)."""
    return sum(
        1
        for worker in rig.workers
        for line in worker.log().splitlines()
        if "process_pending_security_events[" in line and " succeeded in " in line
    )


def transactions(rig: Rig) -> int:
    row = rig.db.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return row[0]


def start_rig(rig: Rig, args) -> None:
    rig.postgres = PostgresServer(durable=True).start()
    database_url = rig.postgres.create_database("ssf_bench")
    rig.redis = RedisServer().start()
    rig.transmitter = LocalHTTPServer().start()
    rig.issuer = rig.transmitter.url()
    rig.key = keys.generate_rsa("bench-rs256", size=2048)
    rig.transmitter.route(
        "GET",
        "/.well-known/ssf-configuration",
        json_body={
            "spec_version": "1_0",
            "issuer": rig.issuer,
            "jwks_uri": rig.transmitter.url("/jwks.json"),
            "delivery_methods_supported": ["urn:ietf:rfc:8935"],
        },
    )
    rig.transmitter.route("GET", "/jwks.json", json_body=keys.public_jwks(rig.key))
    env = production_env(
        database_url=database_url, redis_url=rig.redis.url, RECEIVER_AUDIENCE=rig.audience
    )
    well_known = rig.transmitter.url("/.well-known/ssf-configuration")
    for command in (
        ["migrate", "--noinput"],
        ["add_stream", "--name", "bench", "--well-known-url", well_known],
    ):
        try:
            run_manage(env, *command)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{exc.stderr[-3000:]}") from exc
    rig.gunicorn = start_gunicorn(
        {**env, "DJANGO_SETTINGS_MODULE": "bench.settings"}, port=rig.port, workers=args.workers
    )
    for number in range(1, args.celery_workers + 1):
        rig.workers.append(start_celery_worker(env, name=f"bench{number}"))
    rig.db = psycopg.connect(database_url, autocommit=True)
    rig.broker = redis.Redis.from_url(rig.redis.url)


def check_one(rig: Rig, path: str, token: str) -> None:
    response = requests.post(
        f"http://127.0.0.1:{rig.port}{path}",
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=30,
    )
    if response.status_code != 202:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:500]}")


def _fmt_cpu(result: LoadResult) -> str:
    parts = " ".join(f"{name} {ms:.2f}" for name, ms in result.cpu_ms.items())
    return f"CPU ms/req: {parts} | machine busy {result.busy:.0%}"


def _fmt(result: LoadResult) -> str:
    others = f" non-202 {result.others}" if result.others else ""
    errors = f" socket errors {result.socket_errors}" if result.socket_errors else ""
    return (
        f"{result.label:4} {result.rate:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  max {result.max_ms:6.1f} ms  "
        f"202s {result.accepted}/{result.answered} in {result.seconds:.1f} s{others}{errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sets", type=int, default=4000, help="SETs per round (default 4000)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--celery-workers", type=int, default=1, help="solo workers (default 1)")
    parser.add_argument("--round-seconds", type=int, default=60, help="wall bound per round")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="bound per drain wait")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per endpoint")
    args = parser.parse_args(argv)
    if min(args.sets, args.rounds, args.concurrency, args.workers, args.celery_workers) < 1:
        parser.error("--sets, --rounds, --concurrency and the worker counts must be at least 1")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk).", file=sys.stderr)
        return 2

    rig = Rig()
    (rig.tmp / "push.lua").write_text(WRK_SCRIPT)
    failed = False
    try:
        started = time.monotonic()
        start_rig(rig, args)
        print(
            f"servers up in {time.monotonic() - started:.1f} s: gunicorn sync -w {args.workers} "
            f"on :{rig.port}, {args.celery_workers} Celery solo worker(s), PostgreSQL fsync on"
        )

        started = time.monotonic()
        warmup_file = rig.tmp / "warmup.txt"
        sign_sets(rig.key, issuer=rig.issuer, audience=rig.audience, count=args.warmup + 1,
                  path=warmup_file)  # fmt: skip
        round_files = []
        for number in range(args.rounds):
            round_files.append(rig.tmp / f"round{number + 1}.txt")
            sign_sets(rig.key, issuer=rig.issuer, audience=rig.audience, count=args.sets,
                      path=round_files[-1])  # fmt: skip
        total_signed = args.warmup + 1 + args.rounds * args.sets
        print(f"pre-signed {total_signed} SETs (RS256) in {time.monotonic() - started:.1f} s")

        warmup_tokens = warmup_file.read_text().split()
        check_one(rig, PUSH_PATH, warmup_tokens[-1])
        check_one(rig, BARE_PATH, warmup_tokens[-1])
        expected_stored = 1
        non_202 = defaultdict(int)
        for path in (BARE_PATH, PUSH_PATH):
            warm = run_wrk(rig, label="warm", path=path, tokens_file=warmup_file,
                           count=args.warmup, args=args)  # fmt: skip
            if path == PUSH_PATH:
                expected_stored += warm.accepted
                for code, n in warm.others.items():
                    non_202[code] += n
        wait_for_drain(rig, args.drain_timeout)
        wait_for_quiet(rig, args.drain_timeout)

        print(f"\n{args.rounds} rounds of {args.sets} requests, {args.concurrency} connections")
        bare, ours, ratios, drains = [], [], [], []
        for number, tokens_file in enumerate(round_files, start=1):
            common = {"tokens_file": tokens_file, "count": args.sets, "args": args}
            bare.append(run_wrk(rig, label="bare", path=BARE_PATH, **common))
            print(f"round {number} {_fmt(bare[-1])}\n        {_fmt_cpu(bare[-1])}")
            stored_before, tasks_before = stored_counts(rig)[0], drain_tasks_run(rig)
            xacts_before = transactions(rig)
            ours.append(run_wrk(rig, label="ours", path=PUSH_PATH, **common))
            queued_at_end = queued_tasks(rig)
            drain, pending = wait_for_drain(rig, args.drain_timeout)
            stored_after = stored_counts(rig)[0]
            # pg_stat_database is updated by backends with a delay of up to a second.
            quiet, queued = wait_for_quiet(rig, args.drain_timeout)
            time.sleep(1.0)
            tasks = drain_tasks_run(rig) - tasks_before
            xacts_per_set = (transactions(rig) - xacts_before) / max(ours[-1].accepted, 1)
            drains.append(drain)
            expected_stored += ours[-1].accepted
            for code, n in ours[-1].others.items():
                non_202[code] += n
            ratios.append(ours[-1].rate / bare[-1].rate)
            print(f"round {number} {_fmt(ours[-1])}\n        {_fmt_cpu(ours[-1])}")
            print(
                f"        ratio ours/bare {ratios[-1]:.3f} | stored +{stored_after - stored_before}"
                f" | drained {drain:.2f} s after the round"
                + (f", {pending} STILL PENDING" if pending else "")
            )
            per_task = ours[-1].accepted / max(tasks, 1)
            print(
                f"        pipeline: {tasks} drain tasks run ({per_task:.1f} SETs each), "
                f"{queued_at_end} queued at the round's end, quiet {quiet:.2f} s "
                f"later{f', {queued} STILL QUEUED' if queued else ''}; "
                f"{xacts_per_set:.2f} PostgreSQL transactions per SET"
            )

        print("\nsummary (median of rounds; overall = all answers / all load seconds)")
        for label, results in (("bare", bare), ("ours", ours)):
            answered = sum(r.answered for r in results)
            seconds = sum(r.seconds for r in results)
            print(
                f"  {label}: {statistics.median(r.rate for r in results):8.1f} req/s median, "
                f"{answered / seconds:8.1f} overall; p50 "
                f"{statistics.median(r.p50_ms for r in results):.2f} ms, p99 "
                f"{statistics.median(r.p99_ms for r in results):.2f} ms (worst round "
                f"{max(r.p99_ms for r in results):.2f} ms)"
            )
            cpu = " ".join(
                f"{name} {statistics.median(r.cpu_ms[name] for r in results):.2f}"
                for name in results[0].cpu_ms
            )
            print(f"        CPU ms/req (median): {cpu}")
        print(
            f"  ratio ours/bare per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
            f"median {statistics.median(ratios):.3f}"
        )

        stored, pending, rejected = stored_counts(rig)
        accepted_total = expected_stored
        print(
            f"  drain after the load: {drains[-1]:.2f} s (per round: "
            f"{', '.join(f'{d:.2f}' for d in drains)} s); PENDING now: {pending}"
        )
        print(
            f"  stored SETs {stored} vs 202 answers {accepted_total} (incl. warm-up): "
            + ("nothing lost" if stored == accepted_total else "MISMATCH")
        )
        # A round cut short by its wall bound leaves SETs in flight whose answers were not read.
        unanswered = sum(min(r.sent, args.sets) - r.answered for r in ours)
        print(
            f"  non-202 answers to valid SETs: {sum(non_202.values())} {dict(non_202) or ''}; "
            f"rejected rows {rejected}; socket errors "
            f"{sum(r.socket_errors for r in (*bare, *ours))}; unanswered in flight {unanswered}"
        )
        failed = bool(stored != accepted_total or pending or non_202 or rejected or unanswered)
        ok_target = statistics.median(r.rate for r in ours) >= 400 and all(
            r.p99_ms < 50 for r in ours
        )
        print(
            f"  issue target (>= 400 SETs/s, every p99 < 50 ms at {args.concurrency} connections): "
            + ("met" if ok_target else "not met")
        )
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        return 130
    except Exception:
        rig.log_tails()
        raise
    finally:
        rig.close()
    return 1 if failed else 0


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Ctrl-C and SIGTERM both stop everything cleanly, even when started with SIGINT ignored
    # (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
