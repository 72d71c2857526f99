"""The web console in Debian's Chromium (Playwright's sync API) against a real server on SQLite.

Skipped when no ``chromium`` is installed, unless SMSCONSENT_REQUIRE_BROWSER=1 (CI), which
turns the skip into a failure. Each test screenshots the pages it visits
(into docs/ with SMSCONSENT_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import Tenant

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).resolve().parents[2] / "docs"
SHOTS = Path(tempfile.gettempdir()) / "smsconsent-screenshots"
VIEWPORT = {"width": 1000, "height": 700}
CONTACT = "+15551239001"
TIMEOUT_MS = 10_000

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def e2e_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The browser tests run on SQLite only (overrides the two-backend fixture)."""
    yield f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.db'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; never one downloaded by ``playwright install``."""
    executable = shutil.which("chromium")
    if executable is None or sync_playwright is None:
        why = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("SMSCONSENT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SMSCONSENT_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    """Screenshot a page: into docs/ with SMSCONSENT_UPDATE_SCREENSHOTS=1, else a temp dir."""
    folder = DOCS if os.environ.get("SMSCONSENT_UPDATE_SCREENSHOTS") == "1" else SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"console-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 1000


def sign_in(page: Page, tenant: Tenant, role: str) -> None:
    page.goto(f"{tenant.server.url}/console")
    page.get_by_label("API key").fill(tenant.keys[role])
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/contacts")


def texted(tenant: Tenant, body: str, sid: str) -> None:
    """The contact texts ``body`` to the tenant's number through the signed Twilio webhook."""
    answer = tenant.twilio({"From": CONTACT, "To": tenant.number, "Body": body,
                            "MessageSid": sid, "AccountSid": "AC123", "NumMedia": "0"})
    assert answer.status_code == 200


def contact_path(tenant: Tenant) -> str:
    return f"{tenant.server.url}/console/contacts/{quote(CONTACT, safe='')}"


def act(page: Page, action: str, evidence: str = "") -> None:
    form = page.locator(f"#form-{action}")
    if evidence:
        form.get_by_role("textbox").fill(evidence)
    form.get_by_role("checkbox").check()
    form.get_by_role("button").click()
    page.wait_for_load_state()


def send_box(page: Page, tenant: Tenant, body: str) -> str:
    """Send ``body`` to the contact from the send box; the decision shown."""
    page.goto(f"{tenant.server.url}/console/send?to={quote(CONTACT)}")
    page.get_by_label("Message").fill(body)
    page.get_by_role("button", name="Check and send").click()
    return page.locator("#decision").inner_text()


def test_manager_finds_stop_contact_and_acts(page: Page, tenant: Tenant) -> None:
    """A manager sees a STOP's timeline, is refused opt-in without evidence, opts in with it,
    then blocks; an inbound <script> body is shown as text."""
    page.goto(f"{tenant.server.url}/console/contacts")
    assert page.url.endswith("/console/login")
    shot(page, "sign-in")
    texted(tenant, "<script>window.pwned = 1</script> hello", "SMc1")
    texted(tenant, "STOP", "SMc2")
    sign_in(page, tenant, "manager")
    page.get_by_label("Number").fill(CONTACT[-7:])
    page.get_by_label("Show").select_option("opted_out")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=CONTACT).wait_for()
    shot(page, "contacts")
    page.get_by_role("link", name=CONTACT).click()
    page.wait_for_url(contact_path(tenant))
    assert "SMS opted out" in page.locator(".badges").inner_text()
    bodies = page.locator("blockquote.body").all_inner_texts()
    assert "<script>window.pwned = 1</script> hello" in bodies
    assert page.evaluate("window.pwned") is None
    assert "opted out" in page.locator(".timeline").inner_text()

    act(page, "opt-in")
    assert page.get_by_role("alert").inner_text().startswith("Refused:")
    assert "evidence" in page.get_by_role("alert").inner_text()
    act(page, "opt-in", "Signed the paper form at the counter, 2026-11-23")
    assert "Done: opted in" in page.get_by_role("status").inner_text()
    act(page, "block", "abusive replies")
    assert "blocked" in page.locator(".badges").inner_text()
    assert tenant.get(f"/v1/contacts/{quote(CONTACT, safe='')}").json()["blocked"] is True
    shot(page, "contact")


def test_member_cannot_block(page: Page, tenant: Tenant) -> None:
    """A member sees no block button, and a forged block POST (valid CSRF) is refused 403."""
    texted(tenant, "STOP", "SMm1")
    sign_in(page, tenant, "member")
    page.goto(contact_path(tenant))
    assert page.locator("#form-block").count() == 0
    assert page.locator("#form-opt-out").count() == 1
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    forged = page.request.post(f"{contact_path(tenant)}/block",
                               form={"csrf": csrf or "", "confirm": "yes", "evidence": "x"})
    assert forged.status == 403
    assert "may not do this" in forged.text()
    assert tenant.get(f"/v1/contacts/{quote(CONTACT, safe='')}").json()["blocked"] is False


def test_owner_settings_send_and_audit(page: Page, tenant: Tenant) -> None:
    """An owner sees the HELP validation error, the gate's refusal in the send box, and a
    verified audit with export links."""
    texted(tenant, "STOP", "SMo1")
    sign_in(page, tenant, "owner")
    page.goto(f"{tenant.server.url}/console/settings")
    page.get_by_label("HELP reply").fill("Call us any time.")
    page.get_by_role("button", name="Save templates").click()
    assert "Refused:" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("HELP reply").input_value() == "Call us any time."
    shot(page, "settings")

    decision = send_box(page, tenant, "Your order shipped")
    assert "Not sent" in decision and "opted out" in decision

    page.goto(f"{tenant.server.url}/console/audit")
    assert "The ledger verifies" in page.locator("#verify").inner_text()
    shot(page, "audit")
    export = page.request.get(f"{tenant.server.url}/console/audit/export?fmt=csv")
    assert export.status == 200
    assert export.text().startswith("seq,type,")


def test_back_after_sign_out_and_reload_after_send(page: Page, tenant: Tenant) -> None:
    """Reloading the send result records no second send; after "Sign out", Back does not show
    the contact's page from the browser's cache (pages are no-store)."""
    texted(tenant, "hello", "SMb1")
    sign_in(page, tenant, "member")
    assert "Allowed" in send_box(page, tenant, "Your order shipped")
    page.reload()
    assert "Allowed" in page.locator("#decision").inner_text()
    events = tenant.get(f"/v1/contacts/{quote(CONTACT, safe='')}/events").json()["events"]
    assert [e["type"] for e in events].count("send_allowed") == 1
    page.goto(contact_path(tenant))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login")
    page.go_back()
    page.wait_for_load_state()
    assert page.url.endswith("/console/login")
    assert "hello" not in page.content()
