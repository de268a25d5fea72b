"""System Log `q` finds people (names, emails, logins, ids) in /api/v1/logs and the console."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from risk.log_search import log_search_text
from risk.models import LogEvent
from risk.selectors import log_keyword_query
from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending
from streams.vocabulary import OKTA
from tests.api.okta import assert_okta_error

pytestmark = pytest.mark.django_db
LOGS = "/api/v1/logs"
LOG = reverse("risk:system_log")
USER_RISK = OKTA + "user-risk-change"


@pytest.fixture
def people(db, stream, transmitter, push):
    """Dave and Carol, each named by one Okta user-risk-change SET as Okta sends it (by email),
    processed into the System Log."""
    dave = entity_create(email="Dave.Nguyen@Example.com", first_name="Dave", last_name="Nguyen")
    carol = entity_create(
        login="cbaker", email="carol@example.com", first_name="Carol", last_name="Baker"
    )
    for email, level in (("dave.nguyen@example.com", "high"), ("carol@example.com", "low")):
        token = transmitter.make_set(
            sub_id={"format": "email", "email": email},
            events={USER_RISK: {"current_level": level, "previous_level": "none"}},
        )
        assert push(token).status_code == 202
    security_events_process_pending()
    return dave, carol


def logs(api, **params):
    """Newest first: Okta's default ASCENDING polls and leaves out the last few seconds."""
    return api.get(LOGS, {"sortOrder": "DESCENDING", **params})


def uuids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {record["uuid"] for record in response.json()}


def test_api_q_finds_a_person_by_name_email_and_id_as_the_target_filter_does(api, people):
    dave, _carol = people
    by_target = uuids(logs(api, filter=f'target.id eq "{dave.pk}"'))
    assert len(by_target) >= 2  # the receive_event and the user.risk.change at least
    for q in ("dave", "Nguyen", "dave.nguyen@example.com", dave.pk, "DAVE nguyen"):
        assert uuids(logs(api, q=q)) == by_target, q


def test_api_q_every_word_must_appear(api, people):
    assert uuids(logs(api, q="dave carol")) == set()
    records = logs(api, q="carol user.risk.change").json()
    assert [(r["eventType"], r["target"][0]["displayName"]) for r in records] == [
        ("user.risk.change", "Carol Baker")
    ]


def test_api_q_matches_event_type_message_and_outcome_reason(api, people, transmitter, push):
    token = transmitter.make_set(
        sub_id={"format": "email", "email": "nobody@example.com"},
        events={USER_RISK: {"current_level": "high"}},
    )
    assert push(token).status_code == 202
    security_events_process_pending()
    changes = logs(api, q="USER.RISK.CHANGE").json()
    assert {r["target"][0]["displayName"] for r in changes} == {"Dave Nguyen", "Carol Baker"}
    assert {r["eventType"] for r in changes} == {"user.risk.change"}
    failed = logs(api, q="matches no user").json()
    assert [(r["outcome"]["result"], r["target"]) for r in failed] == [("FAILURE", [])]
    message = failed[0]["displayMessage"].split()[-1]
    assert uuids(logs(api, q=f"{message} dave")) <= uuids(logs(api, q="dave"))


@pytest.mark.parametrize("q", ["dav%", "d_ve", '"dave"', "dave'", "\\", "%_%", "dave\u200b"])
def test_api_q_with_like_wildcards_or_quotes_matches_them_literally(api, people, q):
    """LIKE's `%` and `_` and SQL quotes are plain characters in a keyword: no record holds
    them, so nothing matches (a wildcard would have matched Dave)."""
    assert uuids(logs(api, q=q)) == set()


@pytest.mark.parametrize(
    ("q", "code"),
    [("dave\x00", "E0000001"), ("x" * 41, "E0000031"), ("dave " * 11, "E0000031"),
     ("y" * 100_000, "E0000031")],
)  # fmt: skip
def test_api_hostile_q_is_a_400_in_oktas_shape(api, people, q, code):
    """A NUL is a bad parameter (E0000001); past Okta's 10 keywords of 40 characters, bad search
    criteria (E0000031)."""
    assert_okta_error(logs(api, q=q), 400, code)


def test_console_search_finds_a_person_and_every_word_must_appear(admin_client, people):
    dave, _carol = people
    for q in ("dave", "DAVE.NGUYEN@example.com", f"nguyen {dave.pk}"):
        records = admin_client.get(LOG, {"q": q}).context["records"]
        assert records, q
        assert {r.target_id for r in records} == {dave.pk}, q
    assert not admin_client.get(LOG, {"q": "dave baker"}).context["records"]


def test_console_nul_in_search_is_a_form_error_not_the_whole_log(admin_client, people):
    response = admin_client.get(LOG, {"q": "da\x00ve"})
    assert response.status_code == 200
    assert not response.context["records"]
    assert response.context["form"].errors["q"]


@pytest.mark.parametrize("name", ["cbaker", "carol@example.com", "CAROL@Example.COM", "id"])
def test_console_entity_filter_takes_an_id_login_or_email(admin_client, people, name):
    _dave, carol = people
    name = carol.pk if name == "id" else name
    records = admin_client.get(LOG, {"entity": name}).context["records"]
    assert records
    assert {r.target_id for r in records} == {carol.pk}


def test_console_entity_filter_with_a_name_nobody_has_finds_nothing(admin_client, people):
    assert not admin_client.get(LOG, {"entity": "nobody@example.com"}).context["records"]


def test_search_text_is_lower_cased_words_of_people_and_record():
    text = log_search_text(
        event_type="user.risk.change",
        display_message="Risk of Dave changed",
        outcome_reason="",
        actor={"id": "system", "alternateId": "system", "displayName": "SSF Receiver"},
        target=[{"id": "00u1", "alternateId": "Dave@Example.com", "displayName": "Da\x00ve N"},
                {"id": 7, "displayName": "x" * 300}, "not a target"],
    )  # fmt: skip
    assert text == (
        "user.risk.change risk of dave changed system ssf receiver 00u1 dave@example.com dave n "
        + "x" * 255
    )


def test_q_is_served_by_the_trigram_index():
    """Lower-cased `contains` is LIKE, which pg_trgm's GIN index serves (icontains would not)."""
    with connection.cursor() as cursor:
        # A test table is too small for the planner to want an index: make scans unattractive.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = LogEvent.objects.filter(log_keyword_query("Dave nguyen")).order_by().explain()
    assert "Bitmap Index Scan on log_search_trgm" in plan


@pytest.fixture
def before_search_apps(transactional_db):
    executor = MigrationExecutor(connection)
    before = [("risk", "0004_detections")]
    executor.migrate(before)
    yield executor.loader.project_state(before).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_migration_backfills_the_words_of_existing_records(before_search_apps):
    OldLogEvent = before_search_apps.get_model("risk", "LogEvent")
    for n in range(3):
        OldLogEvent.objects.create(
            event_type="user.risk.change", display_message=f"Risk changed {n}",
            actor={"id": "system", "displayName": "SSF Receiver"},
            target=[{"id": f"00u{n}", "alternateId": f"Person{n}@Example.com",
                     "displayName": f"Person {n}"}],
        )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    texts = sorted(LogEvent.objects.values_list("search_text", flat=True))
    assert texts == [
        f"user.risk.change risk changed {n} system ssf receiver 00u{n} person{n}@example.com "
        f"person {n}"
        for n in range(3)
    ]
