"""Downloads of the System Log and the directory (CSV and JSON, streamed), and the writer they and
every other export share (common.exports)."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from common.exports import MAX_ROWS, cell
from risk.mapping import OKTA
from risk.models import DirectoryGroup, Entity, LogEvent, new_entity_id
from risk.services.directory import entity_create
from risk.services.system_log import log_event, log_event_to_okta

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"
LOG_CSV = reverse("risk:system_log_export", args=["csv"])
LOG_JSON = reverse("risk:system_log_export", args=["json"])
DIRECTORY_CSV = reverse("risk:entity_export", args=["csv"])


def download(response, filename: str) -> str:
    """The body of a streamed download, after checking its headers."""
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["X-Export-Row-Limit"] == str(MAX_ROWS)
    assert "no-store" in response["Cache-Control"]
    return b"".join(response.streaming_content).decode()


def csv_rows(response, filename: str) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(download(response, filename))))


def json_records(response, filename: str) -> list[dict]:
    assert response["Content-Type"] == "application/json"
    return json.loads(download(response, filename))


@pytest.mark.parametrize(
    ("value", "text"),
    [("=1+2", "'=1+2"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=x", "'\t=x"), ("\r=x", "'\r=x"), ("a=b", "a=b"), ("", ""), (None, ""), (3, "3"),
     ({"k": "=v"}, '{"k": "=v"}'), (["-x"], '["-x"]')],
)  # fmt: skip
def test_cells_that_a_spreadsheet_would_run_get_an_apostrophe(value, text):
    assert cell(value) == text


def test_system_log_csv_has_oktas_columns_and_defuses_formulas(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    log_event(
        event_type="user.session.start", display_message='=HYPERLINK("http://x","y")',
        actor={"id": "00u1", "type": "User", "alternateId": "@SUM(A1)", "displayName": "-x"},
        target=[{"id": alice.pk, "type": "User", "alternateId": "+cmd", "displayName": "A"}],
        reason="\tTAB", client={"ipAddress": "192.0.2.7"},
    ).save()  # fmt: skip
    rows = csv_rows(admin_client.get(LOG_CSV), "system-log.csv")
    assert rows[0] == [
        "published", "eventType", "severity", "displayMessage", "actor.id", "actor.type",
        "actor.alternateId", "actor.displayName", "client.ipAddress", "outcome.result",
        "outcome.reason", "target.id", "target.type", "target.alternateId", "target.displayName",
        "transaction.id", "uuid", "debugContext.debugData",
    ]  # fmt: skip
    newest = dict(zip(rows[0], rows[1], strict=True))
    assert newest["eventType"] == "user.session.start"
    assert newest["displayMessage"] == '\'=HYPERLINK("http://x","y")'
    assert newest["actor.alternateId"] == "'@SUM(A1)"
    assert newest["actor.displayName"] == "'-x"
    assert newest["target.alternateId"] == "'+cmd"
    assert newest["outcome.reason"] == "'\tTAB"
    assert newest["client.ipAddress"] == "192.0.2.7"
    # Every record, newest first, the SET's receipt with its trace and debugData as JSON.
    types = [row[1] for row in rows[1:]]
    # Oldest last: the stream's creation (an admin's change), then the SET's receipt.
    assert types[-2:] == ["security.events.provider.receive_event", "security.events.provider.add"]
    assert {"user.risk.change", "policy.entity_risk.evaluate"} <= set(types)
    receipt = dict(zip(rows[0], rows[-2], strict=True))
    assert receipt["actor.type"] == "SecurityEventProvider"
    assert receipt["target.id"] == alice.pk
    assert receipt["transaction.id"]
    debug = json.loads(receipt["debugContext.debugData"])
    assert debug["partnerRiskReportData"]["eventType"] == USER_RISK


def test_system_log_json_is_oktas_log_events(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    records = json_records(admin_client.get(LOG_JSON), "system-log.json")
    expected = LogEvent.objects.order_by("-published", "-id")
    assert records == [json.loads(json.dumps(log_event_to_okta(r))) for r in expected]
    receipt = next(r for r in records if r["eventType"] == "security.events.provider.receive_event")
    assert receipt["debugContext"]["debugData"]["partnerRiskReportData"]["event"] == {
        "current_level": "high"
    }


def test_an_empty_json_export_is_an_empty_array(admin_client):
    assert json_records(admin_client.get(LOG_JSON), "system-log.json") == []


def page_and_export(client, query: str) -> tuple[list[str], list[list[str]]]:
    """The uuids of the System Log page's records for `query`, and the CSV rows of its export."""
    page = client.get(f"{reverse('risk:system_log')}?{query}").context["records"]
    rows = csv_rows(client.get(f"{LOG_CSV}?{query}"), "system-log.csv")[1:]
    return [str(r.uuid) for r in page], rows


@pytest.mark.parametrize(
    ("query", "types"),
    [("event_type=user.risk.change", {"user.risk.change"}),
     ("outcome=FAILURE", {"security.events.provider.receive_event"}),
     ("q=Reported+Risk", {"security.events.provider.receive_event"}),
     ("until=2000-01-01T00:00", set()),
     ("since=2000-01-01T00:00&event_type=user.risk.change&after=ignored", {"user.risk.change"})],
)  # fmt: skip
def test_system_log_export_takes_the_pages_query(admin_client, alice, deliver, query, types):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "low"}, sub_id={"format": "email", "email": "x@y.io"})
    page, rows = page_and_export(admin_client, query.replace("&after=ignored", ""))
    assert {row[1] for row in rows} == types
    # The page's records (all of them: the export has no page position, `after` is ignored).
    assert [row[16] for row in rows] == page
    assert csv_rows(admin_client.get(f"{LOG_CSV}?{query}"), "system-log.csv")[1:] == rows


def test_system_log_export_of_an_entity_and_of_a_stream(admin_client, alice, stream, deliver,
                                                        second_source):  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "low"}, sub_id={"format": "email", "email": "x@y.io"})
    deliver(USER_RISK, {"current_level": "low"}, source=second_source)
    everything = csv_rows(admin_client.get(LOG_CSV), "system-log.csv")[1:]
    for query in (f"entity={alice.pk}", f"stream={second_source.stream.pk}"):
        page, rows = page_and_export(admin_client, query)
        assert [row[16] for row in rows] == page
        assert 0 < len(rows) < len(everything)


def test_a_query_the_page_refuses_is_a_400_with_its_message(admin_client, make_records):
    make_records(3)
    response = admin_client.get(LOG_CSV, {"q": " ".join(["word"] * 11)})
    assert response.status_code == 400
    assert not response.streaming
    assert "at most 10 keywords" in response.content.decode()
    assert admin_client.get(LOG_CSV, {"since": "yesterday"}).status_code == 400
    assert admin_client.get(reverse("risk:system_log_export", args=["xlsx"])).status_code == 404


def test_a_large_export_streams_in_chunks_with_a_bounded_number_of_queries(
    admin_client, make_records, django_assert_max_num_queries
):
    make_records(4500, target=[{"id": "00u1", "type": "User", "alternateId": "a@b.c",
                                "displayName": "A"}])  # fmt: skip
    for url in (LOG_CSV, LOG_JSON):
        # session and user (read, then saved: 3), the form's stream choices, then one cursor
        # for every row, read in chunks of CHUNK rows: not one query per row, not all at once
        with django_assert_max_num_queries(7):
            response = admin_client.get(url)
            chunks = list(response.streaming_content)
        assert response.streaming
        assert len(chunks) > 4500  # a line at a time
    assert chunks[1].startswith(b'\n{"uuid"')
    assert json.loads(b"".join(chunks))[0]["displayMessage"] == "record 4499"


def test_exports_are_for_signed_in_admins_read_only_ones_included(client, readonly_client):
    for url in (LOG_CSV, LOG_JSON, DIRECTORY_CSV,
                reverse("risk:entity_risk_export", args=["detections", "json"])):  # fmt: skip
        signed_out = client.get(url)
        assert signed_out.status_code == 302
        assert signed_out["Location"].startswith(reverse("login"))
        assert readonly_client.get(url).status_code == 200


def test_each_page_links_to_its_downloads_with_its_query(admin_client, alice):
    log = admin_client.get(reverse("risk:system_log"), {"outcome": "FAILURE"}).content.decode()
    assert f'href="{LOG_CSV}?outcome=FAILURE"' in log
    assert f'href="{LOG_JSON}?outcome=FAILURE"' in log
    people = admin_client.get(reverse("risk:entity_list"), {"q": "ali"}).content.decode()
    assert f'href="{DIRECTORY_CSV}?q=ali"' in people
    report = admin_client.get(reverse("risk:entity_risk_report"), {"view": "entities"})
    url = reverse("risk:entity_risk_export", args=["entities", "json"])
    assert f'href="{url}?view=entities"' in report.content.decode()


def test_directory_csv_can_be_imported_again_and_is_searched_as_the_page(admin_client, alice):
    entity_create(kind="DEVICE", display_name="@laptop-7",
                  identifiers=[{"format": "opaque", "id": "dev-7"}])  # fmt: skip
    text = download(admin_client.get(DIRECTORY_CSV), "directory.csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["login", "email", "first_name", "last_name", "groups"]
    by_kind = {row[6]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    person = by_kind["USER"]
    assert person["id"] == alice.pk
    assert (person["email"], person["first_name"], person["groups"]) == (
        alice.email,
        "Alice",
        "Engineering",
    )
    assert set(person["identifiers"].split(";")) == {i.key for i in alice.identifiers.all()}
    assert by_kind["DEVICE"]["display_name"] == "'@laptop-7"
    assert by_kind["DEVICE"]["identifiers"] == "opaque:dev-7"
    searched = csv_rows(admin_client.get(DIRECTORY_CSV, {"q": "laptop"}), "directory.csv")
    assert [row[6] for row in searched[1:]] == ["DEVICE"]
    # What the export wrote, the import reads back: login, email, names and groups.
    Entity.objects.all().delete()
    upload = SimpleUploadedFile("directory.csv", text.encode(), content_type="text/csv")
    assert admin_client.post(reverse("risk:entity_import"), {"file": upload}).status_code == 200
    back = Entity.objects.get(email=alice.email)
    assert (back.first_name, back.last_name) == ("Alice", "Liddell")
    assert [g.name for g in back.groups.all()] == ["Engineering"]


def test_directory_json_and_bounded_queries(admin_client, django_assert_max_num_queries):
    sales = DirectoryGroup.objects.create(name="Sales")
    Entity.objects.bulk_create(
        Entity(id=new_entity_id("USER"), login=f"user{i:04}", email=f"user{i:04}@example.com")
        for i in range(2500)
    )
    sales.members.add(*Entity.objects.filter(login__endswith="7"))
    url = reverse("risk:entity_export", args=["json"])
    # session and user (read, then saved: 3), the entities' cursor, then for each chunk of
    # CHUNK rows their groups and identifiers: 2 chunks, not one query per row
    with django_assert_max_num_queries(6 + 2 * 2):
        records = json_records(admin_client.get(url), "directory.json")
    assert len(records) == 2500
    assert records[7]["login"] == "user0007"
    assert records[7]["groups"] == "Sales"
    assert records[8]["groups"] == ""
    assert admin_client.get(DIRECTORY_CSV, {"q": "\x00"}).status_code == 400
