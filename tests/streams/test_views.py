"""The "Receive shared signals" console: pages, actions, and both roles."""

import pytest
from django.urls import reverse

from streams.models import Stream, StreamChange, StreamStatus
from streams.services import stream_deactivate

LIST = reverse("streams:stream_list")
ADD = reverse("streams:stream_add")


def test_console_needs_sign_in(client, db):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_user_without_a_role_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(LIST).status_code == 403


def test_empty_state_explains_streams(admin_client):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    assert b'data-testid="empty-state"' in response.content
    assert b"Add stream" in response.content


def test_list_shows_stream_row_with_badge_and_actions(
    admin_client, stream, django_assert_max_num_queries
):
    with django_assert_max_num_queries(7):  # session, user, groups, streams, removed count...
        response = admin_client.get(LIST)
    html = response.content.decode()
    assert "Acme MDM" in html
    assert "Well-known URL" in html
    assert stream.issuer in html
    assert 'data-testid="status">Active<' in html
    assert reverse("streams:stream_deactivate", args=[stream.pk]) in html
    assert "Never" in html


def test_add_by_well_known_url_saves_active_and_redirects(admin_client, transmitter):
    response = admin_client.post(
        ADD,
        {"name": "Acme MDM", "config_method": "WELL_KNOWN_URL",
         "well_known_url": transmitter.well_known_url},
    )  # fmt: skip
    assert response.status_code == 302
    stream = Stream.objects.get()
    assert stream.status == StreamStatus.ACTIVE
    assert response["Location"] == reverse("streams:stream_detail", args=[stream.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "added. It is Active." in page


@pytest.mark.parametrize(
    ("url", "error"),
    [("transmitter.example/.well-known/ssf-configuration", "Enter a valid URL."),
     ("https://", "Enter a valid URL."),
     ("https://tx.example:99999/", "Enter a valid URL."),
     ("ftp://tx.example/.well-known/ssf-configuration", "This URL must use https.")],
)  # fmt: skip
def test_add_tells_a_bad_url_at_its_field(admin_client, url, error):
    response = admin_client.post(
        ADD, {"name": "Acme", "config_method": "WELL_KNOWN_URL", "well_known_url": url}
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"well_known_url": [error]}
    assert not Stream.objects.exists()


def test_add_requires_https_only_where_it_is_fetched(admin_client, settings, transmitter):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    response = admin_client.post(
        ADD,
        {"name": "Netskope", "config_method": "ISSUER_AND_JWKS_URL", "issuer": "netskope",
         "jwks_url": "http://127.0.0.1:9/jwks.json"},
    )  # fmt: skip
    assert response.context["form"].errors == {"jwks_url": ["This URL must use https."]}


def test_add_by_issuer_and_jwks_url_ignores_the_other_methods_field(admin_client, transmitter):
    response = admin_client.post(
        ADD,
        {"name": "Netskope", "config_method": "ISSUER_AND_JWKS_URL", "issuer": "netskope.example",
         "jwks_url": transmitter.jwks_url, "well_known_url": "https://ignored.example/x"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Stream.objects.get().issuer == "netskope.example"


def test_add_with_bad_url_says_what_failed_and_saves_nothing(admin_client, transmitter):
    transmitter.publish_metadata({}, status=404)
    response = admin_client.post(
        ADD,
        {"name": "Acme", "config_method": "WELL_KNOWN_URL",
         "well_known_url": transmitter.well_known_url},
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert "HTTP 404" in html
    assert "Check the URL and add the stream again." in html
    assert not Stream.objects.exists()


def test_add_requires_the_chosen_methods_fields(admin_client):
    response = admin_client.post(ADD, {"name": "Acme", "config_method": "ISSUER_AND_JWKS_URL"})
    assert response.status_code == 400
    assert response.content.decode().count("required for the chosen method") == 2


def test_deactivate_then_activate_by_plain_post(admin_client, stream):
    response = admin_client.post(reverse("streams:stream_deactivate", args=[stream.pk]))
    assert response.status_code == 302
    assert Stream.objects.get().status == StreamStatus.INACTIVE
    admin_client.post(reverse("streams:stream_activate", args=[stream.pk]))
    assert Stream.objects.get().status == StreamStatus.ACTIVE


def test_htmx_activate_returns_the_row_and_the_message_out_of_band(admin_client, stream):
    stream_deactivate(stream=stream)
    response = admin_client.post(
        reverse("streams:stream_activate", args=[stream.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-testid="status">Active<' in html
    assert reverse("streams:stream_deactivate", args=[stream.pk]) in html
    assert '<div id="messages" hx-swap-oob="innerHTML">' in html
    assert "activated; its SETs are accepted" in html


def test_deactivate_asks_first_naming_what_stops(admin_client, stream):
    url = reverse("streams:stream_deactivate", args=[stream.pk])
    html = admin_client.get(url).content.decode()
    assert "Deactivate stream Acme MDM?" in html
    assert "refused (access_denied)" in html
    assert "pause_at_transmitter" not in html  # not managed: nothing to pause there
    assert Stream.objects.get().status == StreamStatus.ACTIVE


def test_remove_push_secret_asks_first(admin_client, stream):
    admin_client.post(reverse("streams:stream_push_secret", args=[stream.pk]))
    url = reverse("streams:stream_push_secret_clear", args=[stream.pk])
    assert b"Remove the push secret of Acme MDM?" in admin_client.get(url).content
    assert Stream.objects.get().requires_push_authorization
    assert admin_client.post(url).status_code == 302
    assert not Stream.objects.get().requires_push_authorization


def test_remove_asks_for_confirmation_then_removes(admin_client, stream):
    url = reverse("streams:stream_delete", args=[stream.pk])
    assert b"Remove stream Acme MDM?" in admin_client.get(url).content
    assert Stream.objects.exists()
    assert admin_client.post(url).status_code == 302
    assert not Stream.objects.exists()


def test_edit_revalidates_and_saves(admin_client, stream, transmitter):
    url = reverse("streams:stream_edit", args=[stream.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {"name": "Renamed", "config_method": "WELL_KNOWN_URL",
         "well_known_url": transmitter.well_known_url, "strict_claims": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    stream.refresh_from_db()
    assert (stream.name, stream.strict_claims) == ("Renamed", True)


def test_detail_shows_what_the_transmitter_needs_and_the_keys(admin_client, stream, settings):
    html = admin_client.get(reverse("streams:stream_detail", args=[stream.pk])).content.decode()
    assert settings.SITE_URL + "/security/api/v1/security-events" in html
    assert settings.RECEIVER_AUDIENCE in html
    assert "rsa-1" in html
    assert "RS256" in html
    assert "urn:ietf:rfc:8935" in html
    assert "Added" in html  # the history


def test_push_secret_is_shown_once(admin_client, stream):
    response = admin_client.post(reverse("streams:stream_push_secret", args=[stream.pk]))
    secret = response.context["secret"]
    assert secret.encode() in response.content
    stream.refresh_from_db()
    assert stream.requires_push_authorization
    detail = admin_client.get(reverse("streams:stream_detail", args=[stream.pk]))
    assert secret.encode() not in detail.content


def test_secret_pages_are_never_cached(admin_client, stream):
    response = admin_client.post(reverse("streams:stream_push_secret", args=[stream.pk]))
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("junk", ["%00", "a%00b", "..%2F"])
def test_a_junk_id_in_a_console_url_is_404(admin_client, stream, junk):
    base = reverse("streams:stream_detail", args=[stream.pk]).replace(stream.pk, junk)
    assert admin_client.get(base).status_code == 404
    assert admin_client.get(f"/reports/entity-risk/{junk}/").status_code == 404


def test_a_status_that_is_not_an_ssf_status_still_renders(admin_client, stream):
    from streams.models import StreamManagement

    management = StreamManagement.objects.create(
        stream=stream, remote_stream_id="r1", delivery_method="urn:ietf:rfc:8935",
        delivery_endpoint="x", auth_method="STATIC_TOKEN", remote_status="active",
    )  # fmt: skip
    assert management.remote_status_choice is None
    assert admin_client.get(reverse("streams:stream_detail", args=[stream.pk])).status_code == 200


def test_readonly_admin_sees_everything(readonly_client, stream):
    html = readonly_client.get(LIST).content.decode()
    assert "Acme MDM" in html
    assert ADD not in html
    assert '<details class="actions">' not in html
    assert (
        readonly_client.get(reverse("streams:stream_detail", args=[stream.pk])).status_code == 200
    )


@pytest.mark.parametrize(
    "url_name", ["stream_deactivate", "stream_activate", "stream_delete", "stream_edit",
                 "stream_push_secret", "stream_push_secret_clear"],
)  # fmt: skip
def test_readonly_admin_post_is_403_and_changes_nothing(readonly_client, stream, url_name):
    before = list(Stream.objects.values())
    changes = StreamChange.objects.count()
    response = readonly_client.post(
        reverse(f"streams:{url_name}", args=[stream.pk]), {"name": "hacked"}
    )
    assert response.status_code == 403
    assert list(Stream.objects.values()) == before
    assert StreamChange.objects.count() == changes


def test_readonly_admin_cannot_open_or_post_the_add_form(readonly_client, transmitter):
    assert readonly_client.get(ADD).status_code == 403
    response = readonly_client.post(
        ADD, {"name": "x", "config_method": "WELL_KNOWN_URL",
              "well_known_url": transmitter.well_known_url},
    )  # fmt: skip
    assert response.status_code == 403
    assert not Stream.objects.exists()


def test_console_posts_need_csrf(stream, super_admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(super_admin)
    response = client.post(reverse("streams:stream_deactivate", args=[stream.pk]))
    assert response.status_code == 403
    assert Stream.objects.get().status == StreamStatus.ACTIVE


def test_a_removed_stream_stays_readable_without_actions(admin_client, stream, push, make_set):
    assert push(make_set()).status_code == 202
    admin_client.post(reverse("streams:stream_delete", args=[stream.pk]))
    listed = admin_client.get(LIST, {"show": "removed"}).content.decode()
    assert "Acme MDM" in listed
    detail = admin_client.get(reverse("streams:stream_detail", args=[stream.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Removed" in html
    assert reverse("streams:stream_edit", args=[stream.pk]) not in html
    assert "<form" not in html.split("<main>")[1]
    events = admin_client.get(
        reverse("events:stream_events", args=[stream.pk]), HTTP_HX_REQUEST="true"
    )
    assert events.context["summary"]["received"] == 1
    assert admin_client.get(reverse("streams:stream_edit", args=[stream.pk])).status_code == 404


def test_an_unknown_stream_is_404(admin_client, db):
    assert (
        admin_client.get(reverse("streams:stream_detail", args=["sse0000000000000000"])).status_code
        == 404
    )
