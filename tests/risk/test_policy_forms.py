"""The policy forms: event types from the vocabulary (or a checked custom URI), checkbox
pickers, the app fields that count only for Logout, and their static script."""

import re

import pytest
from django.urls import reverse

from risk.mapping import CAEP, OKTA
from risk.models import DirectoryGroup, MappingOverride, PolicyRule
from risk.services.policy_config import connected_app_create
from streams.services import stream_create

pytestmark = pytest.mark.django_db
MAPPING_ADD = reverse("risk:mapping_override_add")
RULE_ADD = reverse("risk:policy_rule_add")


def assert_no_inline_code(html: str) -> None:
    """What a strict Content-Security-Policy (no 'unsafe-inline') would block."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_mapping_form_offers_the_vocabulary_by_name_and_another_uri(admin_client, stream):
    html = admin_client.get(MAPPING_ADD).content.decode()
    assert '<optgroup label="CAEP">' in html
    assert '<optgroup label="Okta">' in html
    assert f'<option value="{OKTA}user-risk-change">User risk change (Okta) (user-risk-change)' in (
        html
    )
    assert f'value="{CAEP}session-revoked"' in html
    assert "ssf/event-type/verification" not in html  # makes no risk: nothing to map
    assert '<option value="other">Another event type (enter its URI)</option>' in html
    assert "<datalist" not in html
    assert '<script src="/static/js/policy_forms.js" defer></script>' in html
    assert_no_inline_code(html)


def test_mapping_form_saves_a_known_event_type(admin_client, stream):
    response = admin_client.post(MAPPING_ADD, {"stream": stream.pk,
                                               "event_type": CAEP + "session-revoked",
                                               "custom_event_type": "ignored",
                                               "outcome": "HIGH"})  # fmt: skip
    assert response.status_code == 302
    override = MappingOverride.objects.get()
    assert (override.event_type, override.outcome) == (CAEP + "session-revoked", "HIGH")
    page = admin_client.get(reverse("risk:policy")).content.decode()
    assert "does not read" not in page


@pytest.mark.parametrize(
    "uri",
    [
        "https://schemas.vendor.example/secevent/edr/event-type/malware-found",
        "urn:example:secevent:event-type:login-anomaly",
    ],
)
def test_mapping_form_saves_a_custom_uri_and_says_it_is_not_read_yet(admin_client, stream, uri):
    response = admin_client.post(MAPPING_ADD, {"stream": stream.pk, "event_type": "other",
                                               "custom_event_type": f" {uri} ",
                                               "outcome": "MEDIUM"}, follow=True)  # fmt: skip
    assert MappingOverride.objects.get().event_type == uri
    assert f"This receiver does not read {uri} yet" in response.content.decode()


@pytest.mark.parametrize(
    ("custom", "error"),
    [("", "Enter the event type&#x27;s URI."),
     ("session revoked", "Enter an event-type URI"),
     ("javascript:alert(1)", "Enter an event-type URI"),
     ("https://schemas.example/a b", "Enter an event-type URI"),
     ("ftp://schemas.example/x", "Enter an event-type URI"),
     ("urn:x", "Enter an event-type URI"),
     ("https://" + "a" * 250 + ".example", "at most 255 characters")],
)  # fmt: skip
def test_mapping_form_refuses_what_is_not_an_event_type_uri(admin_client, stream, custom, error):
    response = admin_client.post(MAPPING_ADD, {"stream": stream.pk, "event_type": "other",
                                               "custom_event_type": custom,
                                               "outcome": "LOW"})  # fmt: skip
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not MappingOverride.objects.exists()


def test_mapping_form_refuses_an_event_type_outside_its_choices(admin_client, stream):
    response = admin_client.post(MAPPING_ADD, {"stream": stream.pk, "event_type": "urn:x:y",
                                               "outcome": "LOW"})  # fmt: skip
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.fixture
def choices(db, transmitter):
    """Two groups, a stream and two connected apps to choose from."""
    groups = [DirectoryGroup.objects.create(name=n) for n in ("Contractors", "Engineering")]
    apps = [connected_app_create(name=n, revocation_endpoint=f"https://{n.lower()}.example/r",
                                 token="t") for n in ("Slack", "Zoom")]  # fmt: skip
    source = stream_create(name="Acme MDM", well_known_url=transmitter.well_known_url)
    return groups, apps, source


def test_rule_form_pickers_are_checkbox_lists_in_fieldsets(admin_client, choices):
    groups, apps, source = choices
    html = admin_client.get(RULE_ADD).content.decode()
    assert not re.search(r"<select[^>]*\bmultiple", html)
    for name, value in (("groups_include", groups[0].pk), ("groups_exclude", groups[1].pk),
                        ("source_streams", source.pk), ("apps", apps[1].pk)):  # fmt: skip
        assert re.search(rf'<input type="checkbox" name="{name}" value="{value}"', html), name
    assert '<fieldset class="field" data-field="apps">' in html
    assert "<legend>Specified apps</legend>" in html
    assert '<script src="/static/js/policy_forms.js" defer></script>' in html
    assert_no_inline_code(html)


def test_rule_form_saves_several_ticked_choices_and_shows_them_ticked(admin_client, choices):
    groups, apps, source = choices
    response = admin_client.post(RULE_ADD, {
        "name": "Contractors at risk", "risk_level": "HIGH", "active": "on",
        "groups_include": [g.pk for g in groups], "source_streams": [source.pk],
        "terminate_sessions": "on", "app_selection": "SPECIFIED", "apps": [apps[1].pk],
    })  # fmt: skip
    assert response.status_code == 302
    rule = PolicyRule.objects.get(name="Contractors at risk")
    assert sorted(g.name for g in rule.groups_include.all()) == ["Contractors", "Engineering"]
    assert [a.name for a in rule.apps.all()] == ["Zoom"]
    html = admin_client.get(reverse("risk:policy_rule_edit", args=[rule.pk])).content.decode()
    assert re.search(rf'name="apps" value="{apps[1].pk}"[^>]*checked', html)
    assert not re.search(rf'name="apps" value="{apps[0].pk}"[^>]*checked', html)


def test_specified_apps_need_an_app(admin_client, choices):
    response = admin_client.post(RULE_ADD, {"name": "R", "risk_level": "HIGH",
                                            "terminate_sessions": "on",
                                            "app_selection": "SPECIFIED"})  # fmt: skip
    assert response.status_code == 400
    assert "Choose the apps to log out of" in response.content.decode()
    assert not PolicyRule.objects.filter(name="R").exists()


@pytest.mark.parametrize(
    "fields", [{"app_selection": "SPECIFIED"}, {"terminate_sessions": "on", "app_selection": "ALL"}]
)
def test_apps_ticked_in_a_hidden_list_are_not_stored(admin_client, choices, fields):
    _groups, apps, _source = choices
    response = admin_client.post(RULE_ADD, {"name": "R", "risk_level": "HIGH",
                                            "apps": [apps[0].pk], **fields})  # fmt: skip
    assert response.status_code == 302
    assert not PolicyRule.objects.get(name="R").apps.exists()
