"""Structured logs: a JSON object a line, with the request id; no secret ever logged."""

import io
import json
import logging

import pytest

from common.logs import REQUEST_ID_HEADER, JsonFormatter, PlainFormatter, bound
from streams.services import stream_push_secret_rotate

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """Every record (any logger, DEBUG and up) as the JSON lines LOG_FORMAT=json writes."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_requests_line_is_json_and_carries_its_request_id(client, log_lines):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="lb-4f2a.17")
    assert response[REQUEST_ID_HEADER] == "lb-4f2a.17"
    (line,) = [line for line in log_lines() if line["logger"] == "ssf.request"]
    assert line["request_id"] == "lb-4f2a.17"
    assert (line["level"], line["method"], line["path"], line["status"]) == (
        "INFO", "GET", "/accounts/login/", 200)  # fmt: skip
    assert line["message"].startswith("GET /accounts/login/ 200 ")
    assert line["timestamp"].endswith("+00:00")


def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, log_lines):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID='x" forged=1')
    made = response[REQUEST_ID_HEADER]
    assert len(made) == 32
    assert made != 'x" forged=1'
    assert [line["request_id"] for line in log_lines() if line["logger"] == "ssf.request"] == [made]


def test_no_authorization_header_or_secret_reaches_a_log_line(
    client, stream, transmitter, push, log_lines
):
    stream_push_secret_rotate(stream=stream)
    wrong_secret = "Bearer not-the-push-secret-9f8e7d"
    assert push(transmitter.make_set(), HTTP_AUTHORIZATION=wrong_secret).status_code == 400
    api = client.get("/api/v1/logs", HTTP_AUTHORIZATION="SSWS ssf_" + "k" * 40)
    assert api.status_code == 401
    text = json.dumps(log_lines())
    assert "not-the-push-secret" not in text
    assert "k" * 40 not in text
    assert "HTTP_AUTHORIZATION" not in text
    assert "WSGIRequest" not in text
    assert any(line.get("status") == 401 for line in log_lines())  # the lines were written


def test_plain_lines_end_with_the_ids_they_belong_to():
    formatter = PlainFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "drained", None, None)
    assert formatter.format(record) == "INFO drained"
    with bound(task_id="t-1", trace_id="abc"):
        assert formatter.format(record) == "INFO drained [task_id=t-1 trace_id=abc]"
