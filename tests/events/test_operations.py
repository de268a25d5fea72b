"""The operator's endpoints in-process: liveness, readiness checks, the token on /metrics."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from common.health import WORKERS_KEY, worker_ready
from common.redis import redis_client
from events.models import SecurityEvent
from streams.models import StreamManagement

pytestmark = pytest.mark.django_db
POD_HOST = "pod-7f9c.cluster.internal:8000"  # not in ALLOWED_HOSTS, as a probe's Host is not


@pytest.fixture
def no_workers(redis_url):
    redis_client().delete(WORKERS_KEY)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_liveness_answers_any_host_over_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST=POD_HOST)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_readiness_reports_every_check_and_waits_only_on_the_required(client, no_workers):
    response = client.get("/readyz", HTTP_HOST=POD_HOST)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"  # no worker heard from: reported, not required
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok", "redis": "ok", "broker": "ok", "workers": "fail", "backlog": "ok",
    }  # fmt: skip
    assert body["checks"]["workers"] == {"status": "fail", "required": False, "seen": 0,
                                         "last_seen_seconds_ago": None}  # fmt: skip


def test_readiness_turns_503_when_a_required_check_fails(client, no_workers, settings):
    settings.READINESS_REQUIRED_CHECKS = ["database", "workers"]
    assert client.get("/readyz").status_code == 503

    class Consumer:
        hostname = "w1@node-a"

    worker_ready(sender=Consumer())
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["seen"] == 1


def test_an_old_backlog_fails_the_backlog_check(client, stream, transmitter, push, settings):
    settings.READINESS_REQUIRED_CHECKS = ["backlog"]
    assert push(transmitter.make_set()).status_code == 202
    SecurityEvent.objects.update(status="PENDING", received_at=timezone.now() - timedelta(hours=1))
    response = client.get("/readyz")
    assert response.status_code == 503
    backlog = response.json()["checks"]["backlog"]
    assert (backlog["status"], backlog["pending"]) == ("fail", 1)
    assert backlog["oldest_age_seconds"] >= 3600


def test_probes_take_no_post(client):
    response = client.post("/readyz")
    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")


def test_metrics_are_off_without_a_token_and_need_it_when_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "m-" + "x" * 30
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer m-" + "y" * 30)
    assert (wrong.status_code, wrong["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + settings.METRICS_TOKEN,
                    HTTP_HOST=POD_HOST)  # fmt: skip
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/plain; version=")


def test_metrics_count_sets_per_stream_and_read_the_pipeline(
    client, settings, stream, transmitter, push, counters, rsa_key
):
    settings.METRICS_TOKEN = token = "m-" + "x" * 30
    for _ in range(3):
        assert push(transmitter.make_set()).status_code == 202
    stranger = transmitter.make_set(iss="https://unknown.example")
    assert push(stranger).status_code == 400
    StreamManagement.objects.create(stream=stream, remote_stream_id="r1",
                                    delivery_method="urn:ietf:rfc:8935",
                                    auth_method="STATIC_TOKEN")  # fmt: skip
    SecurityEvent.objects.update(status="PROCESSED")
    SecurityEvent.objects.filter(pk=SecurityEvent.objects.first().pk).update(
        status="PENDING", received_at=timezone.now() - timedelta(seconds=90)
    )
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
    found = samples(text)
    assert found[("ssf_sets_accepted_total", (("stream", stream.pk),))] == 3
    refused = ("ssf_sets_refused_total", (("err", "invalid_issuer"), ("stream", "unknown")))
    assert found[refused] == 1
    assert found[("ssf_processing_backlog", ())] == 1
    assert 90 <= found[("ssf_processing_lag_seconds", ())] < 120
    age = found[("ssf_stream_verification_age_seconds", (("stream", stream.pk),))]
    assert 0 <= age < 60  # never verified: counted from when the stream was added
    assert found[("ssf_stream_info", (("name", "Acme MDM"), ("status", "ACTIVE"),
                                      ("stream", stream.pk)))] == 1  # fmt: skip
    assert found[("ssf_metrics_source_up", (("source", "database"),))] == 1
    assert found[("ssf_metrics_source_up", (("source", "redis"),))] == 1
