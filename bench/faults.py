"""Fault-injection benchmark: what survives each fault and how long recovery takes, measured.

Runs the scenario of tests/faults.py (its docstring says what it starts and checks) with the
default settings of config.settings.production, at a production-like rate: a durable PostgreSQL,
Redis, gunicorn, two Celery `--pool solo` workers and beat, a transmitter that retries on any
non-202, a signed webhook sink and a Universal Logout endpoint for the HIGH-risk rule. It
injects kill -9 of a worker mid-drain, Redis down, PostgreSQL restarted fast and immediate, and
kill -9 of a worker inside a webhook call, then prints per fault how long after it every SET was
processed and the last policy action it held up was done, and the checks (nothing lost,
nothing processed twice, each action within 30 s of recovery). Exits 1 when a check fails.

    .venv/bin/python bench/faults.py [--rate 50] [--redis-down 15] [--short]

`--short` uses the test's short intervals instead of the defaults (what the test measures).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import run_main  # noqa: E402
from tests.faults import SHORT_INTERVALS, FaultRig, run_faults  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50, help="SETs/s pushed (default 50)")
    parser.add_argument("--users", type=int, default=200, help="users the SETs name (200)")
    parser.add_argument(
        "--high-every", type=int, default=20, help="one SET in N is HIGH: two actions (20)"
    )
    parser.add_argument("--redis-down", type=float, default=15, help="Redis outage, s (15)")
    parser.add_argument("--warmup", type=float, default=10, help="load before the first fault")
    parser.add_argument("--hold", type=float, default=2, help="webhook held while killed, s")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--short", action="store_true", help="the test's short intervals")
    args = parser.parse_args()
    started = time.monotonic()
    rig = FaultRig(rate=args.rate, users=args.users, high_every=args.high_every,
                   gunicorn_workers=args.workers,
                   intervals=SHORT_INTERVALS if args.short else {})  # fmt: skip
    try:
        rig.start()
        print(f"started in {time.monotonic() - started:.0f} s; {args.rate:g} SETs/s, "
              f"{'short intervals' if args.short else 'default settings'}", flush=True)  # fmt: skip
        result = run_faults(
            rig, warmup=args.warmup, redis_down=args.redis_down, hold=args.hold,
            progress=lambda message: print(f"{time.monotonic() - started:6.0f} s  {message}",
                                           flush=True),
        )  # fmt: skip
    except BaseException:
        print(rig.log_tails(), file=sys.stderr)
        raise
    finally:
        rig.close()
    print(result.text())
    print(f"run took {time.monotonic() - started:.0f} s")
    return 1 if result.failures else 0


if __name__ == "__main__":
    run_main(main)
