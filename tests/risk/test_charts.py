"""The report's and the System Log's chart series: buckets, levels, ranges from a brush, filters."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from risk.mapping import CAEP, OKTA
from risk.models import DetectionSignal, LogEvent
from risk.services.system_log import RECEIVE_EVENT

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"
REPORT = reverse("risk:entity_risk_report")
SYSTEM_LOG = reverse("risk:system_log")


def backdate(*, days: int) -> None:
    """Move what is recorded so far `days` into the past (detections and System Log records)."""
    moved = timezone.now() - timedelta(days=days)
    DetectionSignal.objects.update(created_at=moved)
    LogEvent.objects.update(published=moved)


def embedded(html: str, element_id: str):
    """The JSON a page embeds for its chart (json_script)."""
    start = html.index(f'id="{element_id}"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_detections_over_time_are_days_stacked_by_level_with_empty_days_kept(
    admin_client, alice, deliver
):
    deliver(USER_RISK, {"current_level": "high"})
    backdate(days=3)
    deliver(USER_RISK, {"current_level": "low"})
    deliver(CAEP + "session-revoked", {})  # MEDIUM
    html = admin_client.get(REPORT).content.decode()
    chart = embedded(html, "detections-over-time-data")
    assert chart["step_seconds"] == 86400
    assert len(chart["starts"]) in (7, 8)  # the last 7 days, today's bucket included
    assert set(chart["series"]) == {"LOW", "MEDIUM", "HIGH"}
    assert sum(chart["series"]["HIGH"]) == 1
    assert chart["series"]["HIGH"][-4] == 1  # three days ago, with zeros around it
    assert chart["series"]["LOW"][-1] == chart["series"]["MEDIUM"][-1] == 1
    # The table view holds the same numbers, one row a day.
    assert chart["rows"][-1] == {"label": chart["labels"][-1], "counts": [1, 1, 0]}
    assert html.count('<th scope="row">') >= len(chart["starts"])


def test_a_range_from_the_brush_overrides_the_preset_and_gives_hours(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    backdate(days=3)
    deliver(USER_RISK, {"current_level": "low"})
    now = timezone.now()
    since = (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    until = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.get(REPORT, {"range": "30d", "since": since, "until": until})
    chart = embedded(response.content.decode(), "detections-over-time-data")
    assert chart["step_seconds"] == 3600
    assert 6 <= len(chart["starts"]) <= 7
    assert sum(chart["series"]["HIGH"]) == 0
    assert sum(chart["series"]["LOW"]) == 1
    assert response.context["report"]["totals"]["detections"] == 1
    assert len(response.context["page"]) == 1  # the list follows the range too
    # A range that ends before the detection lists nothing.
    early = admin_client.get(REPORT, {"since": since, "until": since})
    assert early.context["report"]["totals"]["detections"] == 0


def test_by_source_and_by_kind_name_the_filter_a_click_sets(
    admin_client, alice, stream, deliver, second_source
):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "high"}, source=second_source)
    deliver(CAEP + "session-revoked", {}, source=second_source)
    html = admin_client.get(REPORT).content.decode()
    by_source = embedded(html, "detections-by-source-data")
    assert by_source[0] == {"value": second_source.stream.pk, "label": "SGNL", "count": 2}
    assert by_source[1]["value"] == stream.pk
    by_kind = {row["value"]: row["count"] for row in embedded(html, "detections-by-kind-data")}
    assert by_kind == {"USER_RISK": 2, "SESSIONS_REVOKED": 1}
    assert f"view=detections&stream={second_source.stream.pk}" in html
    # What the table's link asks for lists that source's detections only.
    listed = admin_client.get(REPORT, {"view": "detections", "stream": stream.pk})
    assert [s.source_ref for s in listed.context["page"]] == [stream.pk]


def test_a_time_no_database_can_store_is_a_form_error_not_a_500(admin_client, alice):
    response = admin_client.get(REPORT, {"since": "0001-01-01T00:00:00+23:00"})
    assert response.status_code == 200
    assert "between the years 1 and 9999" in response.content.decode()


def test_the_system_log_counts_its_query_over_the_last_week_and_a_chosen_range(
    admin_client, alice, deliver
):
    deliver(USER_RISK, {"current_level": "high"})
    backdate(days=10)
    deliver(USER_RISK, {"current_level": "low"})
    deliver(USER_RISK, {"current_level": "high"})
    receipts = LogEvent.objects.filter(event_type=RECEIVE_EVENT)
    assert receipts.count() == 3
    response = admin_client.get(SYSTEM_LOG, {"event_type": RECEIVE_EVENT})
    chart = embedded(response.content.decode(), "log-over-time-data")
    assert chart["step_seconds"] == 86400
    assert list(chart["series"]) == ["count"]
    assert sum(chart["series"]["count"]) == 2  # the one ten days ago is outside the week
    since = (timezone.now() - timedelta(days=11)).strftime("%Y-%m-%dT%H:%M")
    chart = embedded(
        admin_client.get(
            SYSTEM_LOG, {"event_type": RECEIVE_EVENT, "since": since}
        ).content.decode(),
        "log-over-time-data",
    )
    assert sum(chart["series"]["count"]) == 3
    # "Load more" (htmx) gets rows only, and counts nothing again.
    partial = admin_client.get(SYSTEM_LOG, {"event_type": RECEIVE_EVENT}, HTTP_HX_REQUEST="true")
    assert partial.context["chart"] is None
