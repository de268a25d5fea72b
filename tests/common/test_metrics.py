"""Counters: kept per process, added up in Redis, read back per series and labels."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import metrics
from streams.services import stream_jwks_refetch, streams_jwks_refresh
from streams.ssf_client import Credentials, ManagementError, TransmitterClient
from tests.http_server import LocalHTTPServer
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.django_db


def test_counts_from_every_call_add_up_per_label_set(counters):
    metrics.set_accepted(stream_id="sseA")
    metrics.set_accepted(stream_id="sseA")
    metrics.set_accepted(stream_id="sseB")
    metrics.set_refused(stream_id=None, err="invalid_issuer")
    assert counters("ssf_sets_accepted", stream="sseA") == 2
    assert counters("ssf_sets_accepted", stream="sseB") == 1
    assert counters("ssf_sets_refused", stream="unknown", err="invalid_issuer") == 1


def test_counts_wait_in_the_process_while_redis_is_down(counters, monkeypatch):
    down = RedisServer()  # nothing listens on its port
    from redis import Redis

    monkeypatch.setattr(metrics, "redis_client", lambda: Redis.from_url(down.url))
    metrics.set_accepted(stream_id="sseA")
    metrics.flush()  # fails, keeps the count
    monkeypatch.undo()
    assert counters("ssf_sets_accepted", stream="sseA") == 1


def test_a_counter_takes_only_its_declared_labels(counters):
    with pytest.raises(ValueError, match="labels"):
        metrics.increment("ssf_sets_refused", "sseA")


def test_exposition_names_every_declared_counter_even_before_it_counts(counters):
    text = metrics.exposition(metrics.stored_families()).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert set(metrics.COUNTERS) <= names


def test_jwks_fetches_are_counted_per_stream_and_outcome(counters, stream, transmitter):
    assert streams_jwks_refresh() == {"refreshed": 1, "failed": 0}
    transmitter.server.route("GET", "/jwks.json", json_body={}, status=500)
    with pytest.raises(Exception, match="JWKS"):
        stream_jwks_refetch(stream=stream)
    assert counters("ssf_jwks_fetches", stream=stream.pk, outcome="success") == 1
    assert counters("ssf_jwks_fetches", stream=stream.pk, outcome="failure") == 1


@pytest.fixture
def management_server():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


def test_management_calls_are_counted_per_method_and_outcome(counters, management_server):
    management_server.route("GET", "/ok", json_body={"status": "enabled"})
    management_server.route("POST", "/broken", json_body={}, status=503)
    management_server.route("POST", "/refused", json_body={}, status=403)
    credentials = Credentials(auth_method="STATIC_TOKEN", token="t")
    client = TransmitterClient(metadata={}, issuer="https://tr.example", credentials=credentials)
    client.call("GET", management_server.url("/ok"))
    for path in ("/broken", "/refused"):
        with pytest.raises(ManagementError):
            client.call("POST", management_server.url(path))
    with pytest.raises(ManagementError):  # nothing listens there: no answer at all
        client.call("GET", f"http://127.0.0.1:{free_port()}/status")
    assert counters("ssf_management_calls", method="GET", outcome="success") == 1
    assert counters("ssf_management_calls", method="POST", outcome="http_5xx") == 1
    assert counters("ssf_management_calls", method="POST", outcome="http_4xx") == 1
    assert counters("ssf_management_calls", method="GET", outcome="error") == 1
