"""SCIM provisioning: N users created through POST /scim/v2/Users, one request each, over 8
connections, as an IdP's first sync sends them.

Starts a durable PostgreSQL, Redis and gunicorn (production settings, sync workers) on
loopback, migrates, makes a SCIM client with `manage.py create_scim_client`, then creates
--users users (Okta's request shape, one userName, email and externalId each) from
--connections threads, each with its own keep-alive connection. Bounded by the count and by
--seconds of wall time. Prints users/s, p50/p99/max latency, the answers other than 201, and
checks that the directory holds one user per 201. Exits 1 when a check fails.

    .venv/bin/python bench/scim.py [--users 10000] [--connections 8] [--workers 4]
"""

import argparse
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.harness import Rig, run_main  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def okta_user(number: int) -> dict:
    """Okta's POST /Users body for user `number`."""
    login = f"bench.user{number:06d}@example.com"
    return {
        "schemas": [USER],
        "userName": login,
        "name": {"givenName": "Bench", "familyName": f"User{number}"},
        "emails": [{"primary": True, "value": login, "type": "work"}],
        "displayName": f"Bench User{number}",
        "externalId": f"00ubench{number:012d}",
        "groups": [],
        "active": True,
    }


def provision(url: str, token: str, numbers: list[int], deadline: float, out: dict) -> None:
    """One connection's share: POST each user, recording latencies and statuses."""
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    )
    for number in numbers:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        response = session.post(url, json=okta_user(number), timeout=30)
        out["latencies"].append((time.perf_counter() - started) * 1000)
        out["statuses"][response.status_code] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--seconds", type=float, default=600, help="wall-time bound")
    args = parser.parse_args()
    rig = Rig()
    try:
        rig.start(gunicorn_workers=args.workers, celery_workers=0)
        token = rig.manage("create_scim_client", "--name", "bench").strip().splitlines()[-1]
        url = f"http://127.0.0.1:{rig.port}/scim/v2/Users"
        shares = [list(range(i, args.users, args.connections)) for i in range(args.connections)]
        results = [{"latencies": [], "statuses": Counter()} for _ in shares]
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=provision, args=(url, token, share, deadline, result))
            for share, result in zip(shares, results, strict=True)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        latencies = sorted(ms for r in results for ms in r["latencies"])
        statuses = sum((r["statuses"] for r in results), Counter())
        created = statuses.get(201, 0)
        if rig.db is None:
            raise RuntimeError("the bench database is not connected")
        stored = rig.db.execute(
            "SELECT count(*) FROM scim_scimuser JOIN risk_entity ON risk_entity.id = entity_id"
        ).fetchone()[0]
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else 0.0
        print(
            f"{len(latencies)} requests over {args.connections} connections in {elapsed:.1f} s: "
            f"{created / elapsed:.1f} users/s; p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
        )
        others = {s: n for s, n in statuses.items() if s != 201}
        print(f"answers other than 201: {others or 'none'}; users stored: {stored}")
        ok = stored == created and not others
        print("checks:", "ok" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        rig.close()


if __name__ == "__main__":
    run_main(main)
