"""The bulk routes (imports, filter, exports) against a real server, on both backends."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Server, Tenant

OPT_OUTS = (
    "\ufeffphone,opted_out_at,source,evidence\r\n"
    "+15551230001,2024-01-02T03:04:05Z,keyword STOP,old tool\r\n"
    '"(555) 123-0002",,,"said ""stop"" on a call"\r\n'
    "bad,,,\r\n"
    "+15551230003,yesterday,,\r\n")


def _upload(t: Tenant, path: str, text: str, role: str = "owner", name: str = "data.csv",
            **form: str) -> httpx.Response:
    return t.server.client.post(path, headers=t.auth(role), data=form,
                                files={"file": (name, text.encode(), "text/csv")})


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_import_opt_outs_rejects_and_idempotence(tenant: Tenant) -> None:
    """A member imports opt-outs: events recorded, rejects listed with reasons, re-import no-op."""
    first = _upload(tenant, "/v1/imports/opt-outs", OPT_OUTS, role="member", by="migration")
    assert first.status_code == 200, first.text
    body = first.json()
    assert {k: body[k] for k in ("rows", "imported", "unchanged", "rejected")} == {
        "rows": 4, "imported": 2, "unchanged": 0, "rejected": 2}
    assert [(r["row"]["phone"], r["reason"]) for r in body["rejects"]] == [
        ("bad", "invalid_phone"), ("+15551230003", "bad_time")]
    assert all(r["detail"] for r in body["rejects"]) and body["rejects_truncated"] is False
    state = tenant.get("/v1/contacts/%2B15551230002", role="member").json()
    assert state["status"] == "opted_out"
    assert state["consents"]["sms:workspace"]["by"] == "agent:migration"
    again = _upload(tenant, "/v1/imports/opt-outs", OPT_OUTS).json()
    assert (again["imported"], again["unchanged"]) == (0, 2)
    assert tenant.get("/v1/audit/verify").json()["ok"] is True


def test_import_contacts_needs_manager_and_never_overrides_opt_out(tenant: Tenant) -> None:
    """Contacts import is manager-only, uses the default evidence, and refuses opted-out rows."""
    _upload(tenant, "/v1/imports/opt-outs", "phone\n+15551230009\n")
    data = "phone,consent_type\n+15551230008,express\n+15551230009,express\n+15551230007,\n"
    denied = _upload(tenant, "/v1/imports/contacts", data, role="member", evidence="form")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_too_low"
    done = _upload(tenant, "/v1/imports/contacts", data, role="manager", evidence="web form")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["imported"], body["rejected"]) == (2, 1)
    assert body["rejects"][0]["row"]["phone"] == "+15551230009"
    assert body["rejects"][0]["reason"] == "opted_out"
    assert tenant.get("/v1/contacts/%2B15551230008").json()["status"] == "opted_in"


def test_import_rejects_are_capped_but_counted(tenant: Tenant) -> None:
    """Over 1000 bad rows: 1000 are listed, the count is complete, truncation is flagged."""
    data = "phone\n" + "not-a-phone\n" * 1205
    body = _upload(tenant, "/v1/imports/opt-outs", data).json()
    assert body["rejected"] == 1205 and len(body["rejects"]) == 1000
    assert body["rejects_truncated"] is True


def test_bad_uploads_answer_the_error_shape(tenant: Tenant) -> None:
    """No phone column and no file at all both answer {"error": ...}, nothing recorded."""
    events = tenant.get("/v1/audit/verify").json()["events"]
    no_phone = _upload(tenant, "/v1/imports/opt-outs", "name\nAda\n")
    assert no_phone.status_code == 422
    assert no_phone.json()["error"]["code"] == "no_phone_column"
    missing = tenant.server.client.post("/v1/imports/opt-outs", headers=tenant.auth(),
                                        data={"by": "x"})
    assert missing.status_code in (415, 422) and "error" in missing.json()
    anonymous = tenant.server.client.post("/v1/imports/opt-outs",
                                          files={"file": ("a.csv", b"phone\n+15551230001\n")})
    assert anonymous.status_code == 401
    assert tenant.get("/v1/audit/verify").json()["events"] == events


def test_filter_json_and_csv_download(tenant: Tenant, other_tenant: Tenant) -> None:
    """Filter splits a file by the gate (JSON or CSV download); another workspace's number 404s."""
    _upload(tenant, "/v1/imports/opt-outs", "phone\n+15551230001\n")
    data = ("phone,name\n+15551230001,Ada\n(555) 123-0002,Bob\n+15551230002,Dup\n"
            "nope,Eve\n")
    form = {"from": tenant.number, "purpose": "informational"}
    answer = _upload(tenant, "/v1/filter", data, role="member", **form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rows"], body["sendable"], body["refused"]) == (4, 1, 3)
    assert body["by_reason"] == {"duplicate": 1, "invalid_phone": 1, "opted_out": 1}
    assert _csv(body["sendable_csv"]) == [{"phone": "+15551230002", "name": "Bob"}]
    assert [r["reason"] for r in _csv(body["refused_csv"])] == [
        "opted_out", "duplicate", "invalid_phone"]
    download = _upload(tenant, "/v1/filter?output=refused", data, **form)
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["x-refused"] == "3" and download.headers["x-sendable"] == "1"
    assert download.text == body["refused_csv"]
    foreign = _upload(other_tenant, "/v1/filter", data, **form)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "unknown_number"


def _lines(t: Tenant, path: str) -> list[str]:
    answer = t.get(path, role="member")
    assert answer.status_code == 200, answer.text
    return answer.text.splitlines()


def test_exports_stream_ledger_and_opt_outs(tenant: Tenant) -> None:
    """Ledger (jsonl, csv) and opt-out exports stream what was recorded; the CSV re-imports."""
    _upload(tenant, "/v1/imports/opt-outs", OPT_OUTS)
    ledger = [json.loads(line) for line in _lines(tenant, "/v1/exports/ledger")]
    assert [e["type"] for e in ledger].count("opted_out") == 2
    assert [e["seq"] for e in ledger] == sorted(e["seq"] for e in ledger)
    as_csv = _lines(tenant, "/v1/exports/ledger?format=csv")
    assert as_csv[0].startswith("seq,type") and len(as_csv) == len(ledger) + 1
    opt_outs = tenant.get("/v1/exports/opt-outs", role="member")
    assert opt_outs.headers["content-type"].startswith("text/csv")
    assert [r["phone"] for r in _csv(opt_outs.text)] == ["+15551230001", "+15551230002"]
    later = _lines(tenant, "/v1/exports/opt-outs?since=2030-01-01&format=jsonl")
    assert later == []
    again = _upload(tenant, "/v1/imports/opt-outs", opt_outs.text).json()
    assert (again["rows"], again["unchanged"]) == (2, 2)
    bad = tenant.get("/v1/exports/ledger?format=xml", role="member")
    assert bad.status_code == 422 and "error" in bad.json()


def test_upload_limit_is_larger_than_the_body_limit(
        tenant: Tenant, start_server: Callable[..., Server]) -> None:
    """Uploads may exceed --max-body up to --max-upload; beyond it they get 413."""
    # 10,000 distinct numbers, about 130 KB: over the 64 KiB body limit
    big = "phone\n" + "".join(f"+1555{n:07d}\n" for n in range(4_000_000, 4_010_000))
    assert _upload(tenant, "/v1/imports/opt-outs", big).status_code == 200
    small = start_server(tenant.server.db, "--max-upload", "100000", "--no-outbox-worker")
    client = dataclasses.replace(tenant, server=small)
    refused = _upload(client, "/v1/imports/opt-outs", big)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"
    assert client.post("/v1/check", {"x": "y" * 70000}).status_code == 413
