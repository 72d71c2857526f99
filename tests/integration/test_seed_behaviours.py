"""Every behaviour of the seeds, through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from smsconsent import services
from smsconsent.errors import BadInput, InvalidPhone, NotFound, Refused
from smsconsent.services import Store
from tests.integration.helpers import ALICE, BOB, OURS, head, workspace


def test_stop_opts_out_with_one_confirmation(store: Store) -> None:
    """STOP opts out, owes one confirmation; a repeated STOP is logged with no second one."""
    workspace(store)
    first = services.handle_inbound(store, ALICE, OURS, "STOP")
    assert (first.intent, first.action) == ("opt_out", "opted_out")
    assert first.reply is not None and "START" in first.reply and "Acme Jobs" in first.reply
    again = services.handle_inbound(store, ALICE, OURS, "stop")
    assert (again.action, again.reply) == ("already_opted_out", None)
    bodies = [e["data"].get("body") for e in services.history(store, "default", ALICE)["events"]
              if e["type"] == "inbound_received"]
    assert bodies == ["STOP", "stop"]
    replies = [e for e in services.history(store, "default", ALICE)["events"]
               if e["type"] == "reply_sent"]
    assert len(replies) == 1
    assert services.check(store, OURS, ALICE).reason == "opted_out"


def test_stop_records_method_and_time(store: Store) -> None:
    """The opt-out records status, method inbound_sms_keyword and the time (seed 003)."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP", at="2026-01-02T03:04:05Z")
    consent = services.status(store, "default", ALICE)["consents"]["sms:workspace"]
    assert consent["status"] == "opted_out"
    assert consent["method"] == "inbound_sms_keyword"
    assert consent["opted_out_at"] == "2026-01-02T03:04:05.000000Z"


def test_start_restores_express_consent_and_clears_opt_out_time(store: Store) -> None:
    """START: status opted_in, type express, source inbound_sms_start_keyword, time cleared."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    result = services.handle_inbound(store, ALICE, OURS, "START")
    assert result.action == "opted_in"
    assert result.reply is not None and "Reply STOP to unsubscribe" in result.reply
    assert "Msg&Data Rates May Apply" in result.reply
    consent = services.status(store, "default", ALICE)["consents"]["sms:workspace"]
    assert consent["status"] == "opted_in"
    assert consent["type"] == "express"
    assert consent["source"] == "inbound_sms_start_keyword"
    assert consent["opted_out_at"] is None
    types = [e["type"] for e in services.history(store, "default", ALICE)["events"]]
    assert "opted_out" in types  # the ledger keeps the opt-out
    assert services.check(store, OURS, ALICE).allowed


def test_help_answered_even_after_stop(store: Store) -> None:
    """HELP gets the workspace's HELP reply, also from an opted-out contact (CTIA)."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    result = services.handle_inbound(store, ALICE, OURS, "HELP")
    assert result.action == "help"
    assert result.reply is not None
    for part in ("Acme Jobs", "help@acme.test", "Msg&Data rates may apply", "STOP"):
        assert part in result.reply


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Call us. Reply STOP to opt out.", "business name"),
        ("Acme Jobs help: Msg&Data rates may apply. Reply STOP to opt out.", "contact line"),
        ("Acme Jobs, help@acme.test. Reply STOP to opt out.", "Msg&Data"),
        ("Acme Jobs, help@acme.test. Msg&Data rates may apply.", "how to opt out"),
    ],
)
def test_help_text_without_required_parts_is_refused(store: Store, text: str, missing: str
                                                     ) -> None:
    """A HELP text lacking a required part is refused, naming it, and nothing is created."""
    with pytest.raises(BadInput) as info:
        services.create_workspace(store, "default", business_name="Acme Jobs",
                                  contact="help@acme.test", help_text=text)
    assert missing in info.value.message
    with pytest.raises(NotFound):
        services.show_workspace(store, "default")


def test_campaign_scope(store: Store) -> None:
    """Campaign scope: STOP stops the campaign's numbers only; no campaign means everything."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test",
                              scope="campaign")
    a, b, c, lone = "+15557650001", "+15557650002", "+15557650003", "+15557650004"
    services.add_number(store, "default", a, campaign="C1")
    services.add_number(store, "default", b, campaign="C1")
    services.add_number(store, "default", c, campaign="C2")
    services.add_number(store, "default", lone)
    services.handle_inbound(store, ALICE, a, "STOP")
    assert services.check(store, b, ALICE).reason == "opted_out"
    assert services.check(store, c, ALICE).allowed
    assert services.check(store, lone, ALICE).allowed
    services.handle_inbound(store, BOB, lone, "STOP")
    assert services.check(store, c, BOB).reason == "opted_out"


def test_number_scope(store: Store) -> None:
    """Number scope: STOP to one number leaves the workspace's other numbers free."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test",
                              scope="number")
    a, b = "+15557650001", "+15557650002"
    services.add_number(store, "default", a)
    services.add_number(store, "default", b)
    services.handle_inbound(store, ALICE, a, "STOP")
    assert services.check(store, a, ALICE).reason == "opted_out"
    assert services.check(store, b, ALICE).allowed


def test_workspace_scope_is_default(store: Store) -> None:
    """By default STOP to any number stops every number of the workspace (seed 004)."""
    workspace(store)
    other = "+15557650009"
    services.add_number(store, "default", other, campaign="C9")
    services.handle_inbound(store, ALICE, other, "STOP")
    assert services.check(store, OURS, ALICE).reason == "opted_out"


def test_stop_covers_sms_only(store: Store) -> None:
    """STOP records an SMS opt-out; voice and email consent are untouched (seed 004)."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    keys = services.status(store, "default", ALICE)["opted_out_scopes"]
    assert keys == ["sms:workspace"]


def test_list_keyword_leaves_that_list_only(store: Store) -> None:
    """OPTOUT as a list keyword leaves that list; 1:1 and other lists go on (seed 002)."""
    workspace(store)
    services.add_list(store, "default", "deals", keyword="OPTOUT")
    services.add_list(store, "default", "news")
    services.subscribe(store, "default", "deals", ALICE, evidence="web form 1")
    services.subscribe(store, "default", "news", ALICE, evidence="web form 2")
    result = services.handle_inbound(store, ALICE, OURS, "OPTOUT")
    assert (result.intent, result.action) == ("opt_out", "list_opted_out")
    assert services.check(store, OURS, ALICE, "marketing", "deals").reason == "list_opted_out"
    assert services.check(store, OURS, ALICE, "marketing", "news").allowed
    assert services.check(store, OURS, ALICE).allowed
    again = services.handle_inbound(store, ALICE, OURS, "optout")
    assert (again.action, again.reply) == ("already_list_opted_out", None)


def test_blocked_contact(store: Store) -> None:
    """Blocking opts out, drops (but logs) inbound, refuses sends and opt-in until unblocked."""
    workspace(store)
    services.block(store, "default", ALICE, by="ann")
    assert services.check(store, OURS, ALICE).reason == "blocked"
    dropped = services.handle_inbound(store, ALICE, OURS, "START")
    assert (dropped.action, dropped.reply) == ("dropped_blocked", None)
    assert services.check(store, OURS, ALICE).reason == "blocked"
    with pytest.raises(Refused) as info:
        services.opt_in(store, "default", ALICE, by="ann", evidence="said yes on a call")
    assert info.value.code == "blocked"
    services.unblock(store, "default", ALICE, by="ann")
    assert services.check(store, OURS, ALICE).reason == "opted_out"
    with pytest.raises(Refused):
        services.opt_in(store, "default", ALICE, by="ann")
    services.opt_in(store, "default", ALICE, by="ann", evidence="said yes on a call")
    assert services.check(store, OURS, ALICE).allowed


def test_reopt_on_message_policy(store: Store) -> None:
    """With re-opt-on-message any new text opts back in; without it nothing changes."""
    workspace(store, reopt_on_message=True)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    result = services.handle_inbound(store, ALICE, OURS, "Actually, what time is it?")
    assert (result.action, result.reply) == ("opted_in_by_message", None)
    assert services.check(store, OURS, ALICE).allowed


def test_no_reopt_by_default(store: Store) -> None:
    """By default an ordinary text from an opted-out contact changes nothing."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    assert services.handle_inbound(store, ALICE, OURS, "what time is it?").action == "none"
    assert services.check(store, OURS, ALICE).reason == "opted_out"


def test_essential_messages_policy(store: Store) -> None:
    """Transactional texts pass an opt-out only when the workspace allows essential messages."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    assert services.check(store, OURS, ALICE, "transactional").reason == "opted_out"
    services.update_workspace(store, "default", essential_after_stop=True)
    decision = services.check(store, OURS, ALICE, "transactional")
    assert (decision.allowed, decision.reason) == (True, "essential_after_stop")
    assert services.check(store, OURS, ALICE, "informational").reason == "opted_out"


def test_agent_opt_out_and_guarded_opt_in(store: Store) -> None:
    """Agent opt-out is always allowed; opt-in after a keyword STOP needs evidence."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    with pytest.raises(Refused) as info:
        services.opt_in(store, "default", ALICE, by="ann")
    assert info.value.code == "evidence_required"
    services.opt_in(store, "default", ALICE, by="ann", evidence="signed form 2026-11-20")
    assert services.check(store, OURS, ALICE).allowed
    services.opt_out(store, "default", BOB, by="ann")
    assert services.check(store, OURS, BOB).reason == "opted_out"
    services.opt_in(store, "default", BOB, by="ann")  # undoing a mistaken agent opt-out
    last = services.history(store, "default", BOB)["events"][-1]
    assert (last["type"], last["actor"]) == ("opted_in", "agent:ann")


def test_marketing_needs_marketing_consent(store: Store) -> None:
    """Marketing needs express written consent; STOP ends it; START does not restore it."""
    workspace(store)
    assert services.check(store, OURS, ALICE, "marketing").reason == "no_marketing_consent"
    with pytest.raises(BadInput):
        services.grant_consent(store, "default", ALICE, type_="express", purpose="marketing",
                               evidence="x", by="ann")
    services.grant_consent(store, "default", ALICE, type_="express_written",
                           purpose="marketing", evidence="web form", by="ann")
    assert services.check(store, OURS, ALICE, "marketing").allowed
    services.handle_inbound(store, ALICE, OURS, "STOP")
    services.handle_inbound(store, ALICE, OURS, "START")
    assert services.check(store, OURS, ALICE, "marketing").reason == "no_marketing_consent"
    assert services.check(store, OURS, ALICE, "informational").allowed


def test_first_message_gets_opt_out_instruction(store: Store) -> None:
    """The first send to a contact carries 'Reply STOP to opt out'; later ones do not."""
    workspace(store)
    first = services.send(store, OURS, ALICE, "Hi Alice, thanks for applying")
    assert first.first_message and first.footer_added
    assert first.body == "Hi Alice, thanks for applying. Reply STOP to opt out."
    second = services.send(store, OURS, ALICE, "Interview at 10")
    assert (second.footer_added, second.body) == (False, "Interview at 10")
    own = services.send(store, OURS, BOB, "Hello! Reply STOP to opt out")
    assert own.first_message and not own.footer_added


def test_refused_send_is_recorded(store: Store) -> None:
    """A refused send is in the ledger with its reason."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP")
    decision = services.send(store, OURS, ALICE, "hello")
    assert (decision.allowed, decision.body) == (False, None)
    last = services.history(store, "default", ALICE)["events"][-1]
    assert (last["type"], last["data"]["reason"]) == ("send_refused", "opted_out")


def test_replayed_provider_id_is_a_no_op(store: Store) -> None:
    """A provider message id seen before changes nothing and says duplicate."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP", provider_id="SM1")
    before = head(store)
    again = services.handle_inbound(store, ALICE, OURS, "START", provider_id="SM1")
    assert again.duplicate and again.reply is None
    assert head(store) == before
    assert services.check(store, OURS, ALICE).reason == "opted_out"


def test_events_ordered_by_when_they_happened(store: Store) -> None:
    """A STOP delivered late, sent before a START already handled, leaves the contact in."""
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "START", at="2026-03-01T10:00:05Z")
    services.handle_inbound(store, ALICE, OURS, "STOP", at="2026-03-01T10:00:00Z")
    assert services.status(store, "default", ALICE)["status"] == "opted_in"
    assert services.verify(store, "default")["ok"]


def test_unknown_sender_is_refused(store: Store) -> None:
    """A number of no workspace is refused with unknown_sender."""
    workspace(store)
    assert services.check(store, "+15559999999", ALICE).reason == "unknown_sender"


@pytest.mark.parametrize(
    ("sender", "to", "body", "error"),
    [
        (ALICE, "+15559999999", "STOP", NotFound),
        ("12", OURS, "STOP", InvalidPhone),
        ("not a number", OURS, "STOP", InvalidPhone),
        (ALICE, OURS, "", BadInput),
        (ALICE, OURS, "   ", BadInput),
        (ALICE, OURS, "x" * 100_000, BadInput),
        (ALICE, OURS, "STOP\x00\x01\x02", BadInput),
        (ALICE, OURS, "\udcff\udcfe junk", BadInput),
    ],
)
def test_bad_inbound_changes_nothing(store: Store, sender: str, to: str, body: str,
                                     error: type[Exception]) -> None:
    """Unknown number, invalid phone, empty, huge or binary body: a clear error, no change."""
    workspace(store)
    before = head(store)
    with pytest.raises(error):
        services.handle_inbound(store, sender, to, body)
    assert head(store) == before


def test_national_numbers_use_the_workspace_region(store: Store) -> None:
    """A national number is read with the workspace's region and stored as E.164."""
    workspace(store)
    result = services.handle_inbound(store, "(555) 123-4567", OURS, "STOP")
    assert result.contact == ALICE
