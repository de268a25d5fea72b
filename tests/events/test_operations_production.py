"""The operator's endpoints for real: gunicorn, a Celery worker and a Redis that goes away."""

import json
import time

import pytest
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import production_env, start_celery_worker, start_gunicorn
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.django_db(transaction=True)
POD_HOST = "pod-7f9c.cluster.internal:8000"  # not in DJANGO_ALLOWED_HOSTS
TOKEN = "metrics-" + "t" * 32
DRAIN_TASK = "risk.process_pending_security_events"


def get(port: int, path: str, **headers: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", headers={"Host": POD_HOST, **headers},
                        timeout=10, allow_redirects=False)  # fmt: skip


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def scrape(port: int) -> dict[tuple, float]:
    text = get(port, "/metrics", Authorization=f"Bearer {TOKEN}").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def json_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_probes_metrics_and_json_logs_through_gunicorn_and_a_worker(
    stream, transmitter, database_url
):
    redis = RedisServer().start()
    env = production_env(
        database_url=database_url, redis_url=redis.url,
        RECEIVER_AUDIENCE=settings.RECEIVER_AUDIENCE, METRICS_TOKEN=TOKEN, LOG_FORMAT="json",
        DJANGO_SECURE_SSL_REDIRECT="true",
    )  # fmt: skip
    port = free_port()
    server = start_gunicorn(env, port=port)
    worker = start_celery_worker(env)
    try:
        # Probes reach a pod by its address over plain http: no DisallowedHost, no redirect.
        assert get(port, "/healthz").status_code == 200
        assert get(port, "/accounts/login/").status_code == 400  # the rest still checks Host
        ready = wait_for(lambda: get(port, "/readyz").json()["status"] == "ok")
        assert ready, get(port, "/readyz").text  # the worker's heartbeat was heard

        push_headers = {"Content-Type": "application/secevent+jwt", "Host": "127.0.0.1",
                        "X-Forwarded-Proto": "https", "X-Request-ID": "lb-req-0001"}  # fmt: skip
        url = f"http://127.0.0.1:{port}/security/api/v1/security-events"
        for _ in range(3):
            answer = requests.post(url, data=transmitter.make_set(), headers=push_headers,
                                   timeout=10)  # fmt: skip
            assert answer.status_code == 202, answer.text
        refused = requests.post(url, data=transmitter.make_set(aud="https://other.example"),
                                headers=push_headers, timeout=10)  # fmt: skip
        assert refused.json()["err"] == "invalid_audience"

        accepted = ("ssf_sets_accepted_total", (("stream", stream.pk),))
        found = wait_for(lambda: (s := scrape(port)).get(accepted) == 3 and
                         s[("ssf_processing_backlog", ())] == 0 and s)  # fmt: skip
        assert found, scrape(port)
        err = (("err", "invalid_audience"), ("stream", stream.pk))
        assert found[("ssf_sets_refused_total", err)] == 1
        assert found[("ssf_workers_seen", ())] == 1

        lines = json_lines(server.log())
        pushes = [line for line in lines if line.get("request_id") == "lb-req-0001"]
        assert {line["status"] for line in pushes} == {202, 400}
        # The drain's own lines may reach the log a little after its SETs are processed.
        tasks = wait_for(lambda: [line for line in json_lines(worker.log())
                                  if line.get("task_name") == DRAIN_TASK])  # fmt: skip
        assert tasks, worker.log()[-3000:]
        assert all(line["task_id"] for line in tasks)

        redis.stop(remove=False)
        down = get(port, "/readyz")
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert (checks["redis"]["status"], checks["broker"]["status"]) == ("fail", "fail")
        assert checks["database"]["status"] == "ok"
        assert str(redis.port) not in down.text  # no address, no error text
        assert get(port, "/healthz").status_code == 200
        assert scrape(port)[("ssf_metrics_source_up", (("source", "redis"),))] == 0

        redis.start()
        assert wait_for(lambda: get(port, "/readyz").status_code == 200), get(port, "/readyz").text
    finally:
        worker.stop()
        server.stop()
        redis.stop()
