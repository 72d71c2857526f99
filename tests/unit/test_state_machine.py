"""Property tests of the consent state machine, driven through the services on SQLite.

A deliberately simple model of the seeds' rules (opted out? blocked? opted out by the
contact?) runs beside the real system; every send must get the model's answer, and after every
step the ledger verifies and the stored state equals the state rebuilt from the ledger.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from smsconsent import services
from smsconsent.errors import Refused
from smsconsent.services import Store
from smsconsent.storage.database import ensure_schema, make_engine

NUMBERS = ("+15557650001", "+15557650002")
CONTACTS = ("+15551230001", "+15551230002")
OPT_OUT_BODIES = ("STOP", "stop.", " Stop ", "UNSUBSCRIBE", "cancel")
OPT_IN_BODIES = ("START", "unstop", "Start!")
OTHER_BODIES = ("HELP", "hello there", "what time is the interview?")


class ConsentMachine(RuleBasedStateMachine):
    """Random inbound texts, agent actions and sends against a model of the rules."""

    @initialize()
    def setup(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.engine = make_engine(f"sqlite:///{Path(self.dir.name) / 'sm.db'}")
        ensure_schema(self.engine)
        self.store = Store(self.engine)
        services.create_workspace(self.store, "default", business_name="Acme",
                                  contact="help@acme.test")
        for number in NUMBERS:
            services.add_number(self.store, "default", number)
        self.out = dict.fromkeys(CONTACTS, False)
        self.blocked = dict.fromkeys(CONTACTS, False)
        self.by_contact = dict.fromkeys(CONTACTS, False)

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self.engine.dispose()
            self.dir.cleanup()

    @rule(c=st.sampled_from(CONTACTS), n=st.sampled_from(NUMBERS),
          body=st.sampled_from(OPT_OUT_BODIES))
    def text_stop(self, c: str, n: str, body: str) -> None:
        result = services.handle_inbound(self.store, c, n, body)
        if self.blocked[c]:
            assert result.action == "dropped_blocked"
            return
        assert (result.reply is not None) == (not self.out[c])
        # out or not, the contact's own STOP is now in force: undoing it needs evidence
        self.out[c], self.by_contact[c] = True, True

    @rule(c=st.sampled_from(CONTACTS), n=st.sampled_from(NUMBERS),
          body=st.sampled_from(OPT_IN_BODIES))
    def text_start(self, c: str, n: str, body: str) -> None:
        result = services.handle_inbound(self.store, c, n, body)
        if not self.blocked[c]:
            assert result.intent == "opt_in"
            self.out[c] = False

    @rule(c=st.sampled_from(CONTACTS), body=st.sampled_from(OTHER_BODIES))
    def text_other(self, c: str, body: str) -> None:
        services.handle_inbound(self.store, c, NUMBERS[0], body)

    @rule(c=st.sampled_from(CONTACTS))
    def agent_opts_out(self, c: str) -> None:
        services.opt_out(self.store, "default", c, by="ann")
        if not self.out[c]:
            self.out[c], self.by_contact[c] = True, False

    @rule(c=st.sampled_from(CONTACTS), evidence=st.sampled_from([None, "signed form"]))
    def agent_opts_in(self, c: str, evidence: str | None) -> None:
        may = not self.blocked[c] and (
            evidence is not None or (self.out[c] and not self.by_contact[c]))
        try:
            services.opt_in(self.store, "default", c, by="ann", evidence=evidence)
        except Refused:
            assert not may
            return
        assert may
        self.out[c] = False

    @rule(c=st.sampled_from(CONTACTS))
    def agent_blocks(self, c: str) -> None:
        services.block(self.store, "default", c, by="ann")
        if not self.out[c]:
            self.by_contact[c] = True
        self.blocked[c], self.out[c] = True, True

    @rule(c=st.sampled_from(CONTACTS))
    def agent_unblocks(self, c: str) -> None:
        services.unblock(self.store, "default", c, by="ann")
        self.blocked[c] = False

    @rule(c=st.sampled_from(CONTACTS), n=st.sampled_from(NUMBERS),
          purpose=st.sampled_from(["informational", "transactional"]))
    def send(self, c: str, n: str, purpose: str) -> None:
        decision = services.send(self.store, n, c, "hello", purpose)
        expected = "blocked" if self.blocked[c] else "opted_out" if self.out[c] else "ok"
        assert decision.reason == expected
        assert decision.allowed == (expected == "ok")

    @invariant()
    def ledger_agrees(self) -> None:
        if hasattr(self, "store"):
            result = services.verify(self.store, "default")
            assert result["ok"], result["problems"]


TestConsentMachine = ConsentMachine.TestCase
TestConsentMachine.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
