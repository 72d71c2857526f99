"""services/hot_reads.py answers as the reference path does, or leaves the request to it.

For a check the reference is the route's own path: ``apikeys.authenticate`` and the role
check, then ``services.check`` in a read transaction; for a webhook, ``workspace_secrets``
and ``read_inbound``'s own reads. For every key, sender, contact, purpose and list
the one-statement read gives either ``None`` or exactly the reference's decision, and it
answers the plain requests itself. A key revoked, or a contact opted out, between two
checks is seen by the second.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent import services
from smsconsent.domain.gate import PURPOSES, Decision
from smsconsent.domain.roles import NEEDED
from smsconsent.errors import SmsConsentError
from smsconsent.services import Store, apikeys, hot_reads
from smsconsent.services.inbound import _LIST_KEYWORDS
from smsconsent.services.pinned import PinnedStore
from smsconsent.services.workspaces import workspace_secrets
from smsconsent.web.auth import check_role

TOLL_FREE = "+18005550123"
OURS, OTHERS, GB_NUMBER = "+15557654321", "+15557650000", "+447911123456"
CONTACTS = ("+15551230001", "+15551230002", "+15551230003", "+15551230004", "+15551230005")
GB_CONTACT = "+447911123457"


def _ledger(store: Store) -> dict[str, str]:
    """Workspaces ``acme`` (US; a number, a list) and ``brit`` (GB), contacts in states the
    gate tells apart, and keys: one of each role, a revoked one, one of ``brit``."""
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    services.create_workspace(store, "brit", business_name="Brit", contact="help@brit.test",
                              region="GB")
    services.add_number(store, "acme", OURS, campaign="C1")
    services.add_number(store, "brit", GB_NUMBER)
    services.add_list(store, "acme", "deals", keyword="STOP DEALS")
    one, two, three, four, _ = CONTACTS
    services.handle_inbound(store, one, OURS, "STOP")
    services.subscribe(store, "acme", "deals", two, evidence="JOIN", by="a")
    services.grant_consent(store, "acme", three, type_="express_written", purpose="marketing",
                           evidence="web form", by="a")
    services.block(store, "acme", four, by="a")
    services.handle_inbound(store, GB_CONTACT, GB_NUMBER, "STOP")
    keys = {role: apikeys.create_api_key(store, "acme", role)["key"]
            for role in ("owner", "manager", "member")}
    revoked = apikeys.create_api_key(store, "acme", "member")
    apikeys.revoke_api_key(store, "acme", revoked["key_id"])
    keys["revoked"] = revoked["key"]
    keys["brit"] = apikeys.create_api_key(store, "brit", "member")["key"]
    keys["unknown"] = keys["member"][:-4] + "abcd"
    keys["malformed"] = "sk_nope"
    return keys


def _reference(store: PinnedStore, key: str, sender: str, to: str, purpose: str,
               list_name: str | None) -> Decision | type[SmsConsentError]:
    """What the route decides: the decision, or the class of error it answers with."""
    try:
        with store.read():
            who = check_role(apikeys.authenticate(store, key), NEEDED["send"])
            return services.check(store, sender, to, purpose, list_name,
                                  workspace=who.workspace_name)
    except SmsConsentError as exc:
        return type(exc)


_NATIONAL = st.sampled_from(("5551230001", "(555) 123-0003", "07911 123457", "0044 7911 123457"))
_TO = st.one_of(st.sampled_from((*CONTACTS, GB_CONTACT, "not a phone", "+1555")), _NATIONAL)
_SENDER = st.sampled_from((OURS, OTHERS, GB_NUMBER, "5557654321", "12345", "bad"))


def test_one_statement_gives_the_reference_decision_or_none(store: Store, pinned: PinnedStore
                                                            ) -> None:
    """For any key, sender, contact, purpose and list: None, or the reference's decision."""
    keys = _ledger(store)

    @settings(max_examples=150, deadline=None)
    @given(key=st.sampled_from(sorted(keys.values())), sender=_SENDER, to=_TO,
           purpose=st.sampled_from(PURPOSES), list_name=st.sampled_from((None, "deals", "x")))
    def same(key: str, sender: str, to: str, purpose: str, list_name: str | None) -> None:
        fast = hot_reads.check(pinned, key, sender, to, purpose, list_name)
        if fast is not None:
            assert fast == _reference(pinned, key, sender, to, purpose, list_name)

    same()


def test_plain_requests_are_answered_in_one_statement(store: Store, pinned: PinnedStore
                                                      ) -> None:
    """A key that may send, our number in its workspace, a contact in E.164 or national form,
    a known list: answered here, as the reference answers them, with no transaction left."""
    keys = _ledger(store)
    asked = [(keys[role], OURS, to, purpose, list_name)
             for role in ("owner", "manager", "member") for to in (*CONTACTS, "5551230002")
             for purpose in PURPOSES for list_name in (None, "deals")]
    asked += [(keys["brit"], GB_NUMBER, to, "marketing", None)
              for to in (GB_CONTACT, "07911 123457", "07911 123457")]
    for request in asked:
        fast = hot_reads.check(pinned, *request)
        assert fast is not None, request
        assert fast == _reference(pinned, *request)
    assert not pinned._reading and not pinned._open


def test_a_revoked_key_and_a_new_opt_out_are_seen_by_the_next_check(
        store: Store, pinned: PinnedStore) -> None:
    """Nothing is kept between checks: revoking a key refuses it at once, and an opt-out
    recorded between two checks refuses the second."""
    keys = _ledger(store)
    made = apikeys.create_api_key(store, "acme", "member")
    contact = CONTACTS[4]
    first = hot_reads.check(pinned, made["key"], OURS, contact, "informational", None)
    assert first is not None and first.allowed
    services.opt_out(store, "acme", contact, by="agent")
    second = hot_reads.check(pinned, made["key"], OURS, contact, "informational", None)
    assert second == Decision(False, "opted_out")
    apikeys.revoke_api_key(store, "acme", made["key_id"])
    assert hot_reads.check(pinned, made["key"], OURS, contact, "informational", None) is None
    assert hot_reads.check(pinned, keys["revoked"], OURS, contact, "informational",
                           None) is None


def test_a_webhook_reads_what_the_reference_reads_or_none(store: Store, pinned: PinnedStore
                                                         ) -> None:
    """For each workspace and number: None, or the secrets, number, workspace and lists'
    keywords the reference path reads; a text to a number of that workspace is never None,
    and a secret or list changed between two texts is seen by the second."""
    _ledger(store)
    services.add_list(store, "acme", "news", keyword="STOP NEWS")
    services.add_list(store, "acme", "quiet")
    services.add_number(store, "acme", TOLL_FREE)
    for workspace in ("acme", "brit", "nope"):
        for to in (OURS, TOLL_FREE, OTHERS, GB_NUMBER, "5557654321", "bad", ""):
            fast = hot_reads.inbound(pinned, workspace, to)
            reference = _inbound_reference(pinned, workspace, to)
            assert fast == reference, (workspace, to)
            assert (fast is None) == (reference is None)
    assert hot_reads.inbound(pinned, "acme", OURS) is not None
    services.set_secrets(store, "acme", twilio_auth_token="new")
    services.add_list(store, "acme", "alerts", keyword="STOP ALERTS")
    found = hot_reads.inbound(pinned, "acme", OURS)
    assert found is not None and found.secrets["twilio_auth_token"] == "new"
    assert found.addressed[2] == (("alerts", "STOP ALERTS"), ("deals", "STOP DEALS"),
                                  ("news", "STOP NEWS"))


def _inbound_reference(store: PinnedStore, workspace: str, to: str
                       ) -> hot_reads.InboundReads | None:
    """What the reference path reads for a text to ``to`` at ``workspace``'s webhook; None
    where it raises (an unknown workspace, a number not of it, a bad number)."""
    try:
        secrets = workspace_secrets(store, workspace)
        inbound = services.read_inbound(store, CONTACTS[0], to, "hello", workspace=workspace)
    except SmsConsentError:
        return None
    with store.read() as conn:
        lists = tuple(_LIST_KEYWORDS.all(conn, ws=inbound.workspace.id))
    return hot_reads.InboundReads(secrets, (inbound.number, inbound.workspace, lists))
