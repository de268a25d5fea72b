"""System Log over a million records: page times, keyword search, and what its index costs.

Starts a throwaway durable PostgreSQL, migrates it, and fills risk_logevent with RECORDS records
in one INSERT ... SELECT generate_series: four event types, 50,000 users named from 50 first and
50 last names (first.last<n>@example.com), 1% failures, `search_text` written as
risk.log_search writes it. The migration's trigram index is dropped for the fill and built
after it (timed). Then it times, median of REPEAT, `risk.selectors.log_events_page` (what the
System Log page and /api/v1/logs run): the first page, a page far down, filtered pages, and `q`
searches (one first name, one person's email, two words, an id, an event type, a reason, a word
nothing has) newest first as the console asks and oldest first over 7 days as an API poller.

`--compare` also builds a full-text index (to_tsvector('simple', search_text), prefix
queries) and times the same searches on it, then drops it.

The processing cost is a bounded insert loop on the filled table: `--insert-sets` SETs' worth of
the records a drain writes for a user-risk SET (receive_event, user.risk.change, policy
evaluate: three), built by risk.services.system_log.log_event and written with rows_insert
(COPY) in one transaction per 200-SET batch, as a drain does, then the GIN pending list merged
(gin_clean_pending_list; autovacuum is off on these tables so that no other process does it).
Variants, alternated ROUNDS times, each on its own copy of the filled table: `none`
(search_text left empty, no trigram index: the writes before this column), `trigram` (the
shipped column and index) and, with `--compare`, `fulltext`. It prints wall and CPU ms per SET
(CPU: this process plus its PostgreSQL backend, less sensitive to a shared machine's load).
Bounded: one fill, REPEAT timings per query, ROUNDS loops per variant. Loopback only.

    .venv/bin/python bench/system_log.py [--records 1000000] [--insert-sets 3000] [--compare]

`--records 10000000` grows the log to 10^7 (about 10 GB of disk and most of an hour here).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import run_manage  # noqa: E402
from tests.servers import PostgresServer  # noqa: E402

REPEAT = 5
ROUNDS = 3
USERS = 50_000
# 50 first and 50 last names: 2,500 full names, each shared by 20 of the 50,000 users.
FIRST = [
    "Ada", "Alan", "Alice", "Amir", "Ana", "Ben", "Bob", "Carla", "Carol", "Chen", "Dan", "Dave",
    "Diego", "Eva", "Fatima", "Frank", "Grace", "Hana", "Ivan", "Jack", "Jana", "Jin", "Karl",
    "Kim", "Lena", "Leo", "Lina", "Luis", "Mara", "Mia", "Nina", "Noah", "Olga", "Omar", "Paul",
    "Priya", "Quinn", "Rosa", "Sam", "Sara", "Tom", "Uma", "Vera", "Wei", "Xena", "Yara",
    "Yusuf", "Zoe", "Zane", "Ines",
]  # fmt: skip
LAST = [
    "Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Taylor",
    "Thomas", "Lee", "Martin", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins", "Edwards", "Stewart",
    "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey",
    "Bell", "Kelly", "Howard",
]  # fmt: skip
EVENTS = (
    ("security.events.provider.receive_event", "Security Events Provider Reported Risk"),
    ("user.risk.change", "User risk changed"),
    ("policy.entity_risk.evaluate", "Entity risk policy evaluated"),
    ("policy.entity_risk.action", "Entity risk policy action"),
)
REASON = "The subject matches no user"
# Users are u = g mod USERS; user u is FIRST[u mod 50] LAST[(u / 50) mod 50], so 20 users share a
# full name, and its record fields are those risk.services.system_log writes.
FILL_SQL = """
INSERT INTO risk_logevent (uuid, published, event_type, version, severity, display_message,
    actor, client, outcome_result, outcome_reason, target, transaction, debug_data, target_id,
    entity_id, stream_ref, trace_id, security_event_id, stream_change_id, search_text)
SELECT md5(g::text)::uuid, now() - make_interval(secs => (%(rows)s - g) * 0.5), event_type, '0',
       'INFO', message, '{"id": "system", "type": "SystemPrincipal",
       "alternateId": "system@ssf-receiver", "displayName": "SSF Receiver"}'::jsonb, NULL,
       CASE WHEN failed THEN 'FAILURE' ELSE 'SUCCESS' END, reason,
       jsonb_build_array(jsonb_build_object('id', uid, 'type', 'User', 'alternateId', email,
                                            'displayName', name)),
       NULL, '{}'::jsonb, uid, uid, 'sseBench', md5(g::text), NULL, NULL,
       lower(concat_ws(' ', event_type, message, nullif(reason, ''), 'system',
                       'system@ssf-receiver', 'SSF Receiver', uid, email, name))
FROM (
    SELECT g, uid, event_type, message, failed, CASE WHEN failed THEN %(reason)s ELSE '' END reason,
           first || ' ' || last AS name, lower(first || '.' || last || u || '@example.com') email
    FROM (
        SELECT g, g %% %(users)s AS u, '00u' || (g %% %(users)s) AS uid, g %% 100 = 0 AS failed,
               (%(types)s::text[])[1 + g %% 4] AS event_type,
               (%(messages)s::text[])[1 + g %% 4] AS message,
               (%(first)s::text[])[1 + (g %% %(users)s) %% 50] AS first,
               (%(last)s::text[])[1 + (g %% %(users)s) / 50 %% 50] AS last
        FROM generate_series(1, %(rows)s) AS g
    ) AS numbered
) AS record
"""
TRIGRAM = "log_search_trgm"
TRIGRAM_SQL = f"CREATE INDEX {TRIGRAM} ON risk_logevent USING gin (search_text gin_trgm_ops)"
FULLTEXT = "log_search_fts"
FULLTEXT_SQL = (
    f"CREATE INDEX {FULLTEXT} ON risk_logevent USING gin (to_tsvector('simple', search_text))"
)


def timed(call, repeat: int = REPEAT) -> tuple[float, object]:
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), result


def index_build(cursor, sql: str, name: str) -> None:
    started = time.perf_counter()
    cursor.execute(sql)
    cursor.execute("SELECT pg_size_pretty(pg_relation_size(%s))", [name])
    size = cursor.fetchone()[0]
    print(f"built {name} in {time.perf_counter() - started:.1f} s, {size}")


def searches() -> dict[str, str]:
    """The `q`s timed, about user 40061, one of the 20 Dave Joneses (u mod 2500 = 11 + 50 * 1)."""
    user = FIRST.index("Dave") + 50 * LAST.index("Jones") + 2500 * 16
    return {
        "first name (2% of records)": "dave",
        "one person's email": f"dave.jones{user}@example.com",
        "two words, AND": "DAVE jones",
        "a user id": f"00u{user}",
        "event type (25%)": "user.risk.change",
        "outcome reason (1%)": "matches no user",
        "a word nothing has": "dave nobodyhere",
    }


def fulltext_where(q: str):
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    words = " & ".join(f"{word.lower()}:*" for word in q.split())
    return RawSQL(
        "to_tsvector('simple', search_text) @@ to_tsquery('simple', %s)",
        [words],
        output_field=BooleanField(),
    )


def time_searches(label: str, where_of) -> None:
    from django.utils import timezone

    from risk.selectors import log_events_page

    print(f"-- q on {label}: newest first (console) / oldest first over 7 days (API poll)")
    for name, q in searches().items():
        where = where_of(q)
        newest, (rows, _next) = timed(lambda where=where: log_events_page(where=where, limit=50))
        oldest, _ = timed(
            lambda where=where: log_events_page(
                where=where,
                since=timezone.now() - timedelta(days=7),
                until=timezone.now(),
                limit=100,
                ascending=True,
            )
        )
        print(f"q {name + ':':29} {newest:8.2f} ms / {oldest:8.2f} ms ({len(rows)} records)")


def backend_cpu_ms(cursor) -> float:
    """CPU time so far of this connection's PostgreSQL backend (user + system, from /proc)."""
    cursor.execute("SELECT pg_backend_pid()")
    fields = Path(f"/proc/{cursor.fetchone()[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def insert_loop(table: str, index: str | None, sets: int, *, search: bool) -> tuple[float, float]:
    """(wall ms, CPU ms of this process and its backend) per SET to build and COPY a drain's
    three records per SET into `table`, 200 SETs a transaction, then to merge the GIN pending
    list into `index` (autovacuum is off on the bench tables, so that work is counted here);
    without `search`, search_text is left empty (the writes before this column)."""
    from django.db import connection, transaction

    from risk.models import LogEvent
    from risk.services import system_log
    from risk.services.bulk_write import rows_insert

    words = system_log.log_search_text if search else (lambda **_: "")
    stream = {"id": "sseBench", "type": "SecurityEventProvider",
              "alternateId": "https://tx.example", "displayName": "Bench stream"}  # fmt: skip
    with connection.cursor() as cursor:
        cpu = time.process_time() * 1000 + backend_cpu_ms(cursor)
        started = time.perf_counter()
        with (
            mock.patch.object(LogEvent._meta, "db_table", table),
            mock.patch.object(system_log, "log_search_text", words),
        ):
            for first in range(0, sets, 200):
                rows = []
                for n in range(first, min(first + 200, sets)):
                    u = n % USERS
                    name = f"{FIRST[u % 50]} {LAST[u // 50 % 50]}"
                    email = f"{name.replace(' ', '.').lower()}{u}@example.com"
                    target = [{"id": f"00u{u}", "type": "User", "alternateId": email,
                               "displayName": name}]  # fmt: skip
                    rows += [
                        system_log.log_event(
                            event_type=event_type, display_message=message, target=target,
                            actor=stream if i == 0 else system_log.system_actor(),
                            trace_id=f"t{n}",
                        )
                        for i, (event_type, message) in enumerate(EVENTS[:3])
                    ]  # fmt: skip
                with transaction.atomic():
                    rows_insert(LogEvent, rows)
        if index:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        wall = (time.perf_counter() - started) * 1000
        cpu = time.process_time() * 1000 + backend_cpu_ms(cursor) - cpu
    return wall / sets, cpu / sets


def table_copy(cursor, name: str, index_sql: str | None) -> None:
    """A copy of the filled log with its indexes, the trigram one swapped for `index_sql`."""
    started = time.perf_counter()
    cursor.execute(f"CREATE TABLE {name} (LIKE risk_logevent INCLUDING ALL)")
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
        [name, "%gin_trgm_ops%"],
    )
    cursor.execute(f"DROP INDEX {cursor.fetchone()[0]}")
    # Table names are this script's constants.
    cursor.execute(f"INSERT INTO {name} SELECT * FROM risk_logevent")  # noqa: S608
    cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {name}", [name])  # noqa: S608
    if index_sql:
        cursor.execute(index_sql.replace("risk_logevent", name).replace(" log_", f" {name}_"))
    cursor.execute(f"VACUUM ANALYZE {name}")
    print(f"copied the log to {name} in {time.perf_counter() - started:.1f} s")


def measure_inserts(cursor, sets: int, *, compare: bool) -> None:
    """The variants alternated ROUNDS times, each on a table of the same filled records."""
    variants = {
        "none": ("bench_log_plain", None, False),
        "trigram": ("risk_logevent", TRIGRAM, True),
    }
    table_copy(cursor, "bench_log_plain", None)
    if compare:
        variants["fulltext"] = ("bench_log_fulltext", "bench_log_fulltext_search_fts", True)
        table_copy(cursor, "bench_log_fulltext", FULLTEXT_SQL)
    for table, _index, _search in variants.values():
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, (table, index, search) in variants.items():
            cursor.execute("CHECKPOINT")
            runs[name].append(insert_loop(table, index, sets, search=search))
    print(f"-- insert loop: {sets:,} SETs x 3 records, 200 SETs a transaction, median of {ROUNDS}")
    wall_base = statistics.median(wall for wall, _ in runs["none"])
    cpu_base = statistics.median(cpu for _, cpu in runs["none"])
    for name, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        each = ", ".join(f"{w:.3f}/{c:.3f}" for w, c in values)
        print(f"{name + ':':9} wall {wall:6.3f} ms per SET ({wall - wall_base:+.3f}), "
              f"CPU {cpu:6.3f} ms ({cpu - cpu_base:+.3f}); runs wall/CPU {each}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records (1,000,000)")
    parser.add_argument("--insert-sets", type=int, default=3000, help="SETs per insert loop")
    parser.add_argument("--compare", action="store_true", help="also time a full-text index")
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

        from risk.selectors import log_events_page, log_keyword_query

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            cursor.execute(f"DROP INDEX {TRIGRAM}")
            cursor.execute(FILL_SQL, {
                "rows": args.records, "users": USERS, "reason": REASON, "first": FIRST,
                "last": LAST, "types": [t for t, _ in EVENTS], "messages": [m for _, m in EVENTS],
            })  # fmt: skip
            print(f"filled {args.records:,} records in {time.perf_counter() - started:.1f} s")
            index_build(cursor, TRIGRAM_SQL, TRIGRAM)
            cursor.execute("VACUUM ANALYZE risk_logevent")

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
        time_searches("the trigram index (shipped)", log_keyword_query)
        with connection.cursor() as cursor:
            if args.compare:
                index_build(cursor, FULLTEXT_SQL, FULLTEXT)
                cursor.execute(f"DROP INDEX {TRIGRAM}")
                cursor.execute("ANALYZE risk_logevent")
                time_searches("a full-text index (prefix words)", fulltext_where)
                cursor.execute(f"DROP INDEX {FULLTEXT}")
                index_build(cursor, TRIGRAM_SQL, TRIGRAM)
            measure_inserts(cursor, args.insert_sets, compare=args.compare)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
