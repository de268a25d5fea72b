"""End-to-end fixtures: Debian's Chromium, driven by Playwright, against the live server."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make from
# the same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(page, live_server):
    def _sign_in(username: str, password: str):
        page.goto(live_server.url + "/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_selector("text=Receive shared signals")

    return _sign_in


@pytest.fixture
def ssf_transmitter(settings, live_server):
    """The shipped SSF transmitter, pushing to the live server as a managed stream's would."""
    from tests.streams.managing import start_transmitter

    settings.SITE_URL = live_server.url
    transmitter = start_transmitter(settings)
    yield transmitter
    transmitter.stop()


@pytest.fixture
def managed_stream(ssf_transmitter):
    """A push stream this receiver created at `ssf_transmitter` (verified, enabled there)."""
    from streams import stream_management
    from streams.models import DeliveryMethod, ManagementAuth
    from streams.services import stream_create
    from streams.ssf_client import Credentials
    from streams.vocabulary import DEFAULT_EVENTS_REQUESTED
    from tests.streams.managing import TOKEN

    request = stream_management.ManagementRequest(
        delivery_method=DeliveryMethod.PUSH,
        events_requested=DEFAULT_EVENTS_REQUESTED,
        credentials=Credentials(auth_method=ManagementAuth.STATIC_TOKEN, token=TOKEN),
    )
    return stream_create(
        name="Acme SSF", well_known_url=ssf_transmitter.well_known_url, management=request
    )


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot to look at (E2E_SCREENSHOTS, else the temp directory)."""
    import tempfile
    from pathlib import Path

    folder = Path(os.environ.get("E2E_SCREENSHOTS") or tempfile.gettempdir())

    def _shot(name: str) -> None:
        page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)

    return _shot
