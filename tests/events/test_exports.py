"""Downloads of a stream's SETs, accepted and rejected, from the bytes transmitters push."""

import csv
import io
import json

import pytest
from django.urls import reverse

from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus
from risk.mapping import CAEP
from risk.services.processing import security_events_process_pending
from streams.services import stream_deactivate

pytestmark = pytest.mark.django_db
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"


def export_url(stream, which: str, fmt: str = "csv") -> str:
    return reverse("events:stream_events_export", args=[stream.pk, which, fmt])


def download(response, filename: str) -> bytes:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    return b"".join(response.streaming_content)


def rows(response, filename: str) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(download(response, filename).decode())))


def test_accepted_sets_csv_has_subject_and_claims_and_defuses_formulas(
    admin_client, stream, make_set, push
):
    assert push(make_set(jti="=1+2", txn="@txn")).status_code == 202
    device = {"user": {"format": "email", "email": "a@b.c"}, "device": {"format": "opaque",
              "id": "-dev"}}  # fmt: skip
    token = make_set(sub_id=None, events={CREDENTIAL_CHANGE: {
        "subject": device, "credential_type": "password", "change_type": "update"}})  # fmt: skip
    assert push(token).status_code == 202
    security_events_process_pending()
    got = rows(admin_client.get(export_url(stream, "accepted")),
               f"stream-{stream.pk}-accepted-sets.csv")  # fmt: skip
    newest, oldest = got
    assert newest["event_type"] == CREDENTIAL_CHANGE
    assert json.loads(newest["subject"]) == device  # the event's own subject (Okta's shape)
    assert newest["status"] == SecurityEvent.objects.get(jti=newest["jti"]).status != "PENDING"
    assert oldest["jti"] == "'=1+2"
    assert oldest["txn"] == "'@txn"
    assert oldest["iss"] == stream.issuer
    assert json.loads(oldest["subject"]) == {"format": "email", "email": "alice@example.com"}
    assert json.loads(oldest["claims"])["jti"] == "=1+2"
    assert (oldest["alg"], oldest["typ_missing"]) == ("RS256", "False")


def test_accepted_sets_json_and_filters(admin_client, stream, make_set, push):
    push(make_set())
    push(make_set(events={CREDENTIAL_CHANGE: {"credential_type": "password",
                                              "change_type": "create"}}))  # fmt: skip
    SecurityEvent.objects.filter(event_type=SESSION_REVOKED).update(
        status=SecurityEventStatus.FAILED
    )

    def records(query: str = "") -> list[dict]:
        response = admin_client.get(export_url(stream, "accepted", "json") + "?" + query)
        assert response["Content-Type"] == "application/json"
        return json.loads(download(response, f"stream-{stream.pk}-accepted-sets.json"))

    everything = records()
    assert [r["event_type"] for r in everything] == [CREDENTIAL_CHANGE, SESSION_REVOKED]
    assert everything[0]["claims"]["events"][CREDENTIAL_CHANGE]["change_type"] == "create"
    assert [r["jti"] for r in records("status=FAILED")] == [everything[1]["jti"]]
    assert [r["jti"] for r in records(f"event_type={CREDENTIAL_CHANGE}")] == [everything[0]["jti"]]
    bad = admin_client.get(export_url(stream, "accepted"), {"status": "NOPE"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_rejected_sets_csv_with_answer_reason_and_raw_body(admin_client, stream, make_set, push):
    stream_deactivate(stream=stream)
    token = make_set(jti="+SUM(1)")
    assert push(token).status_code == 400
    got = rows(admin_client.get(export_url(stream, "rejected")),
               f"stream-{stream.pk}-rejected-sets.csv")  # fmt: skip
    assert len(got) == 1
    assert (got[0]["http_status"], got[0]["err"], got[0]["jti"]) == ("400", "access_denied",
                                                                     "'+SUM(1)")  # fmt: skip
    assert stream.name in got[0]["description"]  # the admins' full description
    assert got[0]["raw"] == token
    by_err = admin_client.get(export_url(stream, "rejected", "json"), {"err": "access_denied"})
    assert len(json.loads(download(by_err, f"stream-{stream.pk}-rejected-sets.json"))) == 1
    # The page's filter: an error code this stream has no refusal of is not a choice.
    assert (
        admin_client.get(export_url(stream, "rejected"), {"err": "invalid_key"}).status_code == 400
    )


def test_the_filtered_list_downloads_what_it_shows(admin_client, stream, make_set, push):
    push(make_set(sub_id={"format": "email", "email": "bob@example.com"}))
    push(make_set())  # alice
    query = {"q": "bob@"}
    listed = admin_client.get(reverse("events:stream_set_list", args=[stream.pk]), query)
    assert [e.jti for e in listed.context["page"]] == [
        SecurityEvent.objects.get(claims__sub_id__email="bob@example.com").jti
    ]
    html = listed.content.decode()
    assert f'{export_url(stream, "accepted")}?q=bob%40"' in html
    response = admin_client.get(export_url(stream, "accepted", "json"), query)
    got = json.loads(download(response, f"stream-{stream.pk}-accepted-sets.json"))
    assert [r["jti"] for r in got] == [e.jti for e in listed.context["page"]]


def test_a_large_export_reads_rows_in_chunks(admin_client, stream,
                                             django_assert_max_num_queries):  # fmt: skip
    SecurityEvent.objects.bulk_create(
        SecurityEvent(stream=stream, stream_ref=stream.pk, issuer=stream.issuer,
                      issuer_key=stream.issuer, jti=f"j{i}", event_type=SESSION_REVOKED,
                      raw="x", header={}, claims={"jti": f"j{i}"}, alg="RS256")
        for i in range(3000)
    )  # fmt: skip
    RejectedSecurityEvent.objects.bulk_create(
        RejectedSecurityEvent(stream=stream, http_status=400, err="invalid_key", description="d")
        for _ in range(3000)
    )
    for which in ("accepted", "rejected"):
        for fmt in ("csv", "json"):
            # session and user (read, then saved: 3), the stream, the filter's choices, then
            # one cursor for every row, read in chunks: not one query per row
            with django_assert_max_num_queries(8):
                response = admin_client.get(export_url(stream, which, fmt))
                lines = list(response.streaming_content)
            assert response.streaming
            assert len(lines) >= 3001


def test_set_exports_need_a_signed_in_admin(client, readonly_client, stream):
    for which in ("accepted", "rejected"):
        url = export_url(stream, which)
        assert client.get(url).status_code == 302
        assert client.get(url)["Location"].startswith(reverse("login"))
        assert readonly_client.get(url).status_code == 200
    assert readonly_client.get(export_url(stream, "other")).status_code == 404
    assert readonly_client.get(export_url(stream, "accepted", "xml")).status_code == 404
    unknown = reverse("events:stream_events_export", args=["sseNoSuchStream", "accepted", "csv"])
    assert readonly_client.get(unknown).status_code == 404


def test_the_stream_page_links_to_its_set_downloads(admin_client, stream):
    html = admin_client.get(reverse("events:stream_events", args=[stream.pk])).content.decode()
    for which in ("accepted", "rejected"):
        assert f'href="{export_url(stream, which)}"' in html
        assert f'href="{export_url(stream, which, "json")}"' in html
