"""The console's forms over plain HTTP (no browser), on both backends: sign-in, CSRF, roles,
settings, import and the ledger export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from smsconsent.services import Store, apikeys
from tests.e2e.conftest import Tenant

CONTACT = "+15551238001"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ONCE = re.compile(r'name="once" value="([^"]+)"')


class Console:
    """A browser-less visitor: its own cookie jar, reading the CSRF token from each page."""

    def __init__(self, tenant: Tenant) -> None:
        self.http = httpx.Client(base_url=tenant.server.url, timeout=30)
        self.csrf = ""

    def get(self, path: str) -> httpx.Response:
        page = self.http.get(path)
        found = CSRF.search(page.text)
        self.csrf = found.group(1) if found else self.csrf
        return page

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True,
             **kw: object) -> httpx.Response:
        form = {**({"csrf": self.csrf} if csrf else {}), **(data or {})}
        return self.http.post(path, data=form, **kw)  # type: ignore[arg-type]

    def sign_in(self, key: str) -> httpx.Response:
        self.get("/console/login")
        return self.post("/console/login", {"key": key})


@pytest.fixture
def visitor(tenant: Tenant) -> Iterator[Console]:
    console = Console(tenant)
    yield console
    console.http.close()


def test_sign_in_csrf_and_sign_out(tenant: Tenant, visitor: Console) -> None:
    """A wrong key is refused, a POST without the CSRF token changes nothing, sign-out ends it."""
    assert visitor.get("/console/contacts").status_code == 303
    assert visitor.sign_in("sk_0123456789abcdef_nope").status_code == 401
    assert visitor.sign_in(tenant.keys["manager"]).headers["location"] == "/console/contacts"
    assert visitor.get("/console/contacts").status_code == 200
    assert visitor.get("/console/contacts/%2B15559999999").status_code == 404
    tenant.post("/v1/contacts/" + quote(CONTACT, safe="") + "/opt-out", {})
    path = f"/console/contacts/{quote(CONTACT, safe='')}/block"
    forged = visitor.post(path, {"confirm": "yes"}, csrf=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
    unconfirmed = visitor.post(path, {})
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.text
    assert tenant.get(f"/v1/contacts/{quote(CONTACT, safe='')}").json()["blocked"] is False
    assert visitor.post("/console/logout").headers["location"] == "/console/login"
    assert visitor.get("/console/contacts").status_code == 303


def test_revoked_key_or_tampered_cookie_is_signed_out(tenant: Tenant, visitor: Console,
                                                      e2e_store: Store) -> None:
    """Revoking the key ends its console session; an edited cookie is not trusted."""
    key = apikeys.create_api_key(e2e_store, tenant.name, "member")
    visitor.sign_in(key["key"])
    assert visitor.get("/console/audit").status_code == 200
    cookie = visitor.http.cookies["smsconsent_console"]
    visitor.http.cookies.set("smsconsent_console", cookie[:-2] + "xx", path="/console")
    assert visitor.get("/console/audit").status_code == 303
    visitor.http.cookies.clear()
    visitor.sign_in(key["key"])
    apikeys.revoke_api_key(e2e_store, tenant.name, key["key_id"])
    # "Sign out" on a page left open is not refused (its token is gone with the session)
    gone = visitor.post("/console/logout")
    assert (gone.status_code, gone.headers["location"]) == (303, "/console/login")
    assert visitor.get("/console/audit").status_code == 303


def test_settings_need_an_owner(tenant: Tenant, visitor: Console) -> None:
    """A manager may read the settings but not change them; an owner's change is stored."""
    visitor.sign_in(tenant.keys["manager"])
    page = visitor.get("/console/settings")
    assert page.status_code == 200 and "Save policy" not in page.text
    refused = visitor.post("/console/settings/policy", {"scope": "number"})
    assert refused.status_code == 403
    visitor.post("/console/logout")
    visitor.sign_in(tenant.keys["owner"])
    visitor.get("/console/settings")
    saved = visitor.post("/console/settings/policy", {"scope": "number", "matching": "strict",
                                                      "reopt_on_message": "on"})
    assert saved.status_code == 303
    policy = tenant.get("/v1/workspace").json()["policy"]
    assert (policy["scope"], policy["reopt_on_message"]) == ("number", True)
    assert policy["keywords"]["matching"] == "strict"
    assert "Save policy" in visitor.get("/console/settings").text


def test_import_and_export(tenant: Tenant, visitor: Console) -> None:
    """An uploaded CSV of opt-outs is imported (summary shown) and appears in the export."""
    visitor.sign_in(tenant.keys["manager"])
    visitor.get("/console/import")
    csv = f"phone,evidence\n{CONTACT},paper list\nnot-a-phone,x\n"
    page = visitor.post("/console/import", files={"upload": ("old.csv", csv.encode())})
    assert page.status_code == 200
    assert "Imported 1 of 2 rows" in page.text and "invalid" in page.text.lower()
    assert tenant.get(f"/v1/contacts/{quote(CONTACT, safe='')}").json()["status"] == "opted_out"
    export = visitor.get("/console/audit/export?fmt=jsonl")
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert CONTACT in export.text and "paper list" in export.text


def test_a_member_takes_a_contact_off_a_list(tenant: Tenant, visitor: Console) -> None:
    """The contact page offers 'Take off a list' for the lists the contact is on; any role may
    use it (an opt-out), and it leaves that list only."""
    number = quote(CONTACT, safe="")
    for name in ("deals", "news"):
        assert tenant.post("/v1/lists", {"name": name}, role="manager").status_code == 201
        joined = tenant.post(f"/v1/lists/{name}/subscriptions",
                             {"contact": CONTACT, "evidence": "web form"}, role="manager")
        assert joined.status_code == 200
    assert visitor.sign_in(tenant.keys["member"]).status_code == 303
    page = visitor.get(f"/console/contacts/{number}")
    assert 'id="form-unsubscribe"' in page.text and 'id="form-subscribe"' not in page.text
    done = visitor.post(f"/console/contacts/{number}/unsubscribe",
                        {"list": "deals", "confirm": "yes", "evidence": "asked on a call"})
    assert done.status_code == 303, done.text
    assert "done=unsubscribed" in done.headers["location"]
    lists = tenant.get(f"/v1/contacts/{number}", role="member").json()["lists"]
    assert (lists["deals"]["status"], lists["news"]["status"]) == ("opted_out", "subscribed")
    again = visitor.get(f"/console/contacts/{number}")
    assert "<option>deals</option>" not in again.text.split('id="form-unsubscribe"')[1]


def test_timeline_shows_only_what_the_event_holds(tenant: Tenant, visitor: Console) -> None:
    """An inbound text has no 'keys': the timeline must not print the dict's own method (it
    did: '<built-in method keys of dict object at 0x...>'); hostile text stays text."""
    tenant.post("/v1/inbound", {"from": CONTACT, "to": tenant.number, "id": "SMt1",
                                "body": "<img src=x onerror=alert(1)> hi"}, role="manager")
    visitor.sign_in(tenant.keys["member"])
    page = visitor.get(f"/console/contacts/{quote(CONTACT, safe='')}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "built-in method" not in page.text and "<dt>keys</dt>" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt; hi" in page.text and "<img src=x" not in page.text


def test_refusals_are_pages_and_done_is_not_echoed(tenant: Tenant, visitor: Console) -> None:
    """An action on a malformed number, or a sign-out from a stale tab, answers an HTML page
    with the reason (not the API's JSON); '?done=' shows only a known action's name."""
    visitor.sign_in(tenant.keys["manager"])
    visitor.get("/console/contacts")
    bad = visitor.post("/console/contacts/garbage/opt-out", {"confirm": "yes"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in bad.text and "not a phone number" in bad.text
    stale = visitor.post("/console/logout", {"csrf": "stale"}, csrf=False)
    assert stale.status_code == 403 and stale.headers["content-type"].startswith("text/html")
    assert visitor.get("/console/contacts").status_code == 200  # still signed in
    number = quote(CONTACT, safe="")
    tenant.post(f"/v1/contacts/{number}/opt-out", {})
    spoof = visitor.get(f"/console/contacts/{number}?done=call_555_0100_to_keep_your_account")
    assert "call 555" not in spoof.text and "Done." in spoof.text
    real = visitor.get(f"/console/contacts/{number}?done=already_blocked")
    assert "Done: already blocked." in real.text


def test_sending_a_form_again_records_nothing(tenant: Tenant, visitor: Console) -> None:
    """A refresh or a double click resubmits the send form: the first decision is shown again
    and the ledger holds one send; the same form with another message is refused clearly."""
    to = "+15551238002"
    visitor.sign_in(tenant.keys["member"])
    once = ONCE.search(visitor.get("/console/send").text)
    assert once is not None
    form = {"sender": tenant.number, "to": to, "body": "Interview at 10", "once": once[1]}
    first = visitor.post("/console/send", form)
    again = visitor.post("/console/send", form)
    assert first.status_code == again.status_code == 200
    assert "Interview at 10. Reply STOP to opt out." in again.text
    events = tenant.get(f"/v1/contacts/{quote(to, safe='')}/events").json()["events"]
    assert [e["type"] for e in events].count("send_allowed") == 1
    edited = visitor.post("/console/send", {**form, "body": "Another text"})
    assert edited.status_code == 409 and "already sent" in edited.text
    fresh = ONCE.search(edited.text)
    assert fresh is not None and fresh[1] != once[1]
    third = visitor.post("/console/send", {**form, "body": "Another text", "once": fresh[1]})
    assert third.status_code == 200 and "Allowed" in third.text
    assert tenant.get("/v1/audit/verify").json()["ok"] is True


def test_a_refused_page_is_a_page(tenant: Tenant, visitor: Console) -> None:
    """An unknown action, a bad page number or export format in the URL: an HTML page with
    the reason and the API's status (they were the API's JSON)."""
    visitor.sign_in(tenant.keys["member"])
    visitor.get("/console/contacts")
    for path, status, reason in [("/console/contacts/%2B15551238003/frob", 404, "frob"),
                                 ("/console/contacts?page=0", 422, "page"),
                                 ("/console/audit/export?fmt=xml", 422, "csv, jsonl")]:
        page = visitor.post(path) if path.endswith("frob") else visitor.get(path)
        assert page.status_code == status, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert 'role="alert"' in page.text and reason in page.text, path
        assert 'action="/console/logout"' in page.text  # still signed in
    named = visitor.get("/console/contacts?q=Dana")
    assert named.status_code == 200 and "holds no digits" in named.text
    assert "holds no digits" not in visitor.get("/console/contacts?q=555").text


def test_a_member_imports_opt_outs(tenant: Tenant, visitor: Console) -> None:
    """The API lets a member import opt-outs (an opt-out): so does the console (issue #7, 'what
    each role may do matches the API exactly'); a clean file shows no 'Rejected rows'."""
    visitor.sign_in(tenant.keys["member"])
    assert 'href="/console/import"' in visitor.get("/console/contacts").text
    assert visitor.get("/console/import").status_code == 200
    csv = "phone,evidence\n+15551238004,caf\u00e9 list \U0001F600\n"
    page = visitor.post("/console/import", files={"upload": ("m.csv", csv.encode())})
    assert page.status_code == 200 and "Imported 1 of 1 rows" in page.text
    assert "Rejected rows" not in page.text
    state = tenant.get(f"/v1/contacts/{quote('+15551238004', safe='')}", role="member").json()
    assert state["status"] == "opted_out"
    assert tenant.get("/v1/audit/verify").json()["ok"] is True
