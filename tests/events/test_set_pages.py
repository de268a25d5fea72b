"""The pages of a stream's SETs: accepted ones paged and filtered with their subjects, rejected
ones with a page each, and one SET's times as dates and its links to the risk pages."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from events.models import RejectedSecurityEvent, SecurityEvent
from events.subject_label import subject_label
from events.views import PAGE_SIZE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("claims", "label"),
    [({"sub_id": {"format": "email", "email": "alice@example.com"}}, "alice@example.com"),
     ({"sub_id": {"format": "iss_sub", "iss": "https://idp.example", "sub": "42"}}, "42"),
     ({"sub_id": {"user": {"format": "email", "email": "bob@example.com"},
                  "device": {"format": "opaque", "id": "dev-9"}}},
      "user: bob@example.com · device: dev-9"),
     ({"events": {"x": {"subject": {"subject_type": "email", "email": "old@example.com"}}}},
      "old@example.com"),
     ({"events": {"x": {}}}, "")],
)  # fmt: skip
def test_subject_label_of_each_shape(claims, label):
    assert subject_label(claims) == label


def test_accepted_sets_are_paged_and_filtered_by_subject(admin_client, stream, transmitter, push):
    for n in range(PAGE_SIZE + 1):
        email = "bob@example.com" if n == 0 else f"user{n}@example.com"
        sub_id = {"user": {"format": "email", "email": email},
                  "device": {"format": "opaque", "id": f"dev-{n}"}}  # fmt: skip
        assert push(transmitter.make_set(sub_id=sub_id)).status_code == 202
    url = reverse("events:stream_set_list", args=[stream.pk])
    first = admin_client.get(url)
    assert len(first.context["page"]) == PAGE_SIZE
    assert "Page 1 of 2" in first.content.decode()
    assert len(admin_client.get(url, {"page": 2}).context["page"]) == 1
    found = admin_client.get(url, {"q": "BOB@example"})
    html = found.content.decode()
    assert [e.subject_label for e in found.context["page"]] == [
        "user: bob@example.com · device: dev-0"
    ]
    assert "user: bob@example.com · device: dev-0" in html
    jti = SecurityEvent.objects.order_by("id").first().jti
    assert [e.jti for e in admin_client.get(url, {"q": jti}).context["page"]] == [jti]
    assert not admin_client.get(url, {"status": "FAILED"}).context["page"]


def test_a_nul_in_the_filter_is_a_form_error(admin_client, stream):
    response = admin_client.get(
        reverse("events:stream_set_list", args=[stream.pk]), {"q": "a\x00b"}
    )
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()


def test_a_rejected_set_has_its_page(admin_client, stream, transmitter, push):
    token = transmitter.make_set(aud="https://another-receiver.example", jti="wrong-aud")
    assert push(token).status_code == 400
    listed = admin_client.get(
        reverse("events:stream_rejected_list", args=[stream.pk]), {"err": "invalid_audience"}
    )
    rejected = RejectedSecurityEvent.objects.get()
    assert list(listed.context["page"]) == [rejected]
    page = admin_client.get(reverse("events:rejected_security_event_detail", args=[rejected.pk]))
    html = page.content.decode()
    assert token in html
    assert "HTTP 400" in html
    assert "invalid_audience" in html
    assert escape(rejected.description) in html


def test_set_page_shows_claim_times_as_dates(admin_client, stream, transmitter, push):
    assert push(transmitter.make_set(iat=1767225600)).status_code == 202
    event = SecurityEvent.objects.get()
    html = admin_client.get(reverse("events:security_event_detail", args=[event.pk])).content
    assert b"2026-01-01 00:00:00 UTC" in html
    assert reverse("risk:security_event_trace", args=[event.pk]).encode() in html


def test_readonly_admin_reads_the_set_pages(readonly_client, stream):
    for name in ("events:stream_set_list", "events:stream_rejected_list"):
        assert readonly_client.get(reverse(name, args=[stream.pk])).status_code == 200
