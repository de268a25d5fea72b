"""System Log pages over a million records: how long one page takes, first and deep.

Starts a throwaway PostgreSQL, migrates it, fills risk_logevent with ROWS records in one
INSERT ... SELECT generate_series (a few event types, 50,000 entities, 1% failures), ANALYZEs,
then times `risk.selectors.log_events_page` (what the System Log page and /api/v1/logs use):
the first page, a page a long way down (following cursors), and filtered pages. Bounded: one
fill, REPEAT timings per query. Loopback only.

    .venv/bin/python bench/system_log.py [--rows 1000000]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import run_manage  # noqa: E402
from tests.servers import PostgresServer  # noqa: E402

REPEAT = 5
FILL_SQL = """
INSERT INTO risk_logevent (uuid, published, event_type, version, severity, display_message,
    actor, client, outcome_result, outcome_reason, target, transaction, debug_data, target_id,
    entity_id, stream_ref, trace_id, security_event_id, stream_change_id)
SELECT md5(g::text)::uuid,
       now() - make_interval(secs => (%(rows)s - g) * 0.5),
       (ARRAY['security.events.provider.receive_event', 'user.risk.change',
              'policy.entity_risk.evaluate', 'policy.entity_risk.action'])[1 + g %% 4],
       '0', 'INFO', 'record ' || g, '{"id": "system", "type": "SystemPrincipal"}'::jsonb, NULL,
       CASE WHEN g %% 100 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END, '',
       jsonb_build_array(jsonb_build_object('id', '00u' || (g %% 50000), 'type', 'User')),
       NULL, '{}'::jsonb, '00u' || (g %% 50000), '00u' || (g %% 50000), 'sseBench', md5(g::text),
       NULL, NULL
FROM generate_series(1, %(rows)s) AS g
"""


def timed(call) -> tuple[float, object]:
    runs, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    server = PostgresServer(durable=True).start()
    try:
        url = server.create_database("ssf")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": url}
        run_manage(env, "migrate", "--noinput")
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection
        from django.db.models import Q

        from risk.selectors import log_events_page

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL_SQL, {"rows": args.rows})
            cursor.execute("ANALYZE risk_logevent")
        print(f"filled {args.rows:,} records in {time.perf_counter() - started:.1f} s")

        def page(**kwargs):
            return log_events_page(limit=50, **kwargs)

        ms, (rows, cursor) = timed(page)
        print(f"first page, newest first:             {ms:7.2f} ms ({len(rows)} records)")
        for _ in range(200):  # 10,000 records down, following cursors
            rows, cursor = page(after=cursor)
        ms, _ = timed(lambda: page(after=cursor))
        print(f"page 201 (10,000 records down):       {ms:7.2f} ms")
        queries = {
            "eventType eq user.risk.change": Q(event_type="user.risk.change"),
            "one entity (target.id)": Q(entity_id="00u4242") | Q(target_id="00u4242"),
            "outcome FAILURE": Q(outcome_result="FAILURE"),
            "stream": Q(stream_ref="sseBench"),
        }
        for label, where in queries.items():
            ms, (rows, _next) = timed(lambda where=where: page(where=where))
            print(f"filter {label + ':':31} {ms:7.2f} ms ({len(rows)} records)")
        ms, (rows, _next) = timed(lambda: page(where=Q(display_message__icontains="record 99999")))
        print(f"text search (no index, scans):        {ms:7.2f} ms ({len(rows)} records)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
