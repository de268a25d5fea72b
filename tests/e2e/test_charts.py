"""The report's and the System Log's charts in a real headless Chromium: drawn by the vendored
Chart.js under the console's CSP, a click lists one column, a brush writes its range to the URL."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending
from streams.vocabulary import CAEP, OKTA

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def detections(stream, transmitter, push):
    entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    for event_uri, event in [
        (OKTA + "user-risk-change", {"current_level": "high"}),
        (OKTA + "user-risk-change", {"current_level": "low"}),
        (CAEP + "session-revoked", {}),
    ]:
        assert push(transmitter.make_set(events={event_uri: event})).status_code == 202
    security_events_process_pending()


def drawn(page, figure_id: str):
    """The chart's figure, once Chart.js has drawn it (console errors are collected apart)."""
    figure = page.locator(f"figure:has(#{figure_id})")
    expect(figure).to_have_class("chart-figure drawn")
    return figure


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def brush(page, canvas_id: str) -> None:
    """Drag across the middle of a chart, from a fifth of its width to four fifths."""
    box = page.locator(f"#{canvas_id}").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
    page.mouse.up()


def test_report_charts_draw_click_to_list_and_brush_to_zoom(
    page, sign_in, super_admin, live_server, detections
):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and "favicon" not in m.location.get("url", "") else None)  # fmt: skip
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/reports/entity-risk/?range=24h")
    drawn(page, "detections-over-time")
    drawn(page, "detections-by-kind")
    # Table view: the same numbers, for keyboards and screen readers.
    page.get_by_text("Table view").first.click()
    expect(page.locator("#detections-over-time-table tbody tr")).not_to_have_count(0)
    # A click on today's column (the last, at the top of its stack) lists that hour's detections.
    box = page.locator("#detections-over-time").bounding_box()
    chart = page.evaluate(
        """() => { const c = document.querySelector('figure:has(#detections-over-time)').chart;
                   const last = c.data.labels.length - 1;
                   const bars = c.getDatasetMeta(0).data;
                   return {x: bars[last].x, y: c.scales.y.getPixelForValue(0.5)}; }"""
    )
    page.mouse.click(box["x"] + chart["x"], box["y"] + chart["y"])
    page.wait_for_url(re.compile(r"[?&]level="))
    clicked = query_of(page.url)
    assert clicked["view"] == ["detections"]
    assert clicked["level"] == ["LOW"]
    assert {"since", "until"} <= set(clicked)
    expect(page.locator("#detections tbody tr")).to_have_count(1)
    # Brush to zoom: the range goes into the URL and the list follows it.
    page.goto(live_server.url + "/reports/entity-risk/?range=24h")
    drawn(page, "detections-over-time")
    brush(page, "detections-over-time")
    page.wait_for_url(re.compile(r"[?&]until="))
    zoomed = query_of(page.url)
    assert zoomed["since"][0] < zoomed["until"][0]
    assert "level" not in zoomed
    # A bar of "by kind" filters the list to that kind.
    page.goto(live_server.url + "/reports/entity-risk/")
    drawn(page, "detections-by-kind")
    page.locator("#detections-by-kind").scroll_into_view_if_needed()
    box = page.locator("#detections-by-kind").bounding_box()
    bar = page.evaluate(
        """() => { const c = document.querySelector('figure:has(#detections-by-kind)').chart;
                   const first = c.getDatasetMeta(0).data[0];
                   return {x: (first.x + first.base) / 2, y: first.y}; }"""
    )
    page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    page.wait_for_url(re.compile(r"[?&]kind="))
    assert query_of(page.url)["kind"][0] in {"USER_RISK", "SESSIONS_REVOKED"}
    assert errors == []


def test_system_log_chart_brush_writes_since_and_until(
    page, sign_in, super_admin, live_server, detections
):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/reports/system-log/")
    drawn(page, "log-over-time")
    brush(page, "log-over-time")
    page.wait_for_url(re.compile(r"[?&]until="))
    query = query_of(page.url)
    assert query["since"][0] < query["until"][0]
    expect(page.locator("#id_since")).to_have_value(query["since"][0])
    assert errors == []
