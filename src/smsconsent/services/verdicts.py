"""The gate's verdict on stored states for one filter run, memoised by the part of a state
``decide`` reads (see ``filtering``), and the refusal reasons in words."""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_
from typing import Any, cast

from smsconsent.domain.consent import OPTED_OUT, Consent, ContactState, Subscription
from smsconsent.domain.gate import Decision, decide
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.scopes import keys_covering
from smsconsent.services.verdict_shapes import SHAPES, Shape, Verdict, judged, learn
from smsconsent.storage.rows import load_stored

_DETAILS = {
    "blocked": "the contact is blocked",
    "opted_out": "the contact opted out of SMS from this number",
    "list_opted_out": "the contact left this list",
    "not_subscribed": "the contact never joined this list",
    "no_marketing_consent": "marketing needs express written consent or list evidence",
    "duplicate": "the number appeared earlier in this file",
    "bad_row": "more fields than the header",
}


_NOTHING: dict[str, Any] = {}
TEXTS = 16_384  # stored texts whose verdicts ``Judge.many`` keeps (a few MB)


class Judge:
    """The gate's verdict on a stored state (its JSON text) for one run's sender, purpose,
    list and policy.

    For whether and why, ``decide`` reads only ``blocked``, whether a consent under one of the
    sender's covering keys is opted out, the subscription to ``list_name`` (its status and
    whether it has evidence) and whether a ``marketing`` grant exists (``first_sent_at`` only
    decides the footer, which a filter does not report). ``stored`` takes exactly those from
    the stored data, and ``decide`` runs once per distinct combination, on a state holding only
    them: the same answer it gives on the whole state.
    Only the ``opted_out`` detail (which opt-out, how and when) is read from each row's data.
    """

    def __init__(self, sender: str, campaign: str | None, purpose: str,
                 policy: WorkspacePolicy, list_name: str | None, *, exact: bool = False) -> None:
        self.covering = keys_covering(sender, campaign)
        self.sender, self.campaign, self.purpose = sender, campaign, purpose
        self.policy, self.list_name, self.exact = policy, list_name, exact
        self._memo: dict[tuple[Any, ...], Verdict] = {}
        self.unseen = self._verdict(self._decide(ContactState("")), _NOTHING)
        self._texts: dict[str | None, Verdict] = {None: self.unseen}
        self._shapes: list[Shape] = []  # of imported opt-outs' texts (``verdict_shapes``)

    def many(self, texts: list[str | None]) -> list[Verdict]:
        """The verdicts on a chunk's stored texts (None: no stored state), remembered by text:
        a verdict is a function of the text alone in one run, and imported opt-outs often
        share one. Up to ``TEXTS`` texts are kept, then forgotten all at once."""
        memo = self._texts
        verdicts: list[Verdict | None] = list(map(memo.get, texts))
        if None in verdicts:  # new texts: each judged once, then found like the others
            new = dict.fromkeys(compress(texts, map(is_, verdicts, repeat(None))))
            fresh: dict[Any, Verdict]
            fresh, full = judged(cast(list[str], list(new)), self._shapes, self.stored)
            for text in full[:1] if len(self._shapes) < SHAPES else ():  # one a chunk
                shape = learn(text, load_stored(text), fresh[text])
                if shape is not None:
                    self._shapes.append(shape)
            verdicts = list(map(fresh.get, texts, verdicts))  # type: ignore[arg-type]
            if len(memo) + len(fresh) > TEXTS:
                memo.clear()
                memo[None] = self.unseen
            memo.update(fresh)
        return cast(list[Verdict], verdicts)  # every None was filled

    def stored(self, text: str) -> Verdict:
        """The verdict on a contact whose stored state is ``text``."""
        data = load_stored(text)
        if self.exact:
            state = ContactState.from_dict(data, data.get("phone", ""))  # phone: not read
            return self._verdict(self._decide(state),
                                 {k: c.__dict__ for k, c in state.consents.items()})
        consents = data.get("consents", _NOTHING)
        out = False
        for key in self.covering:
            consent = consents.get(key)
            if consent is not None and consent["status"] == OPTED_OUT:
                out = True
                break
        sub = data.get("lists", _NOTHING).get(self.list_name) if self.list_name else None
        part = (data.get("blocked", False), out,
                None if sub is None else (sub["status"], bool(sub.get("evidence"))),
                "marketing" in data.get("grants", _NOTHING))
        verdict = self._memo.get(part)
        if verdict is None:
            verdict = self._memo[part] = self._verdict(self._decide(self._state(part)),
                                                       _NOTHING)
        if verdict[1] == "opted_out":
            return False, "opted_out", _detail("opted_out", consents, self.covering)
        return verdict

    def _state(self, part: tuple[Any, ...]) -> ContactState:
        """A state holding only ``part``: what ``decide`` reads, nothing else."""
        blocked, out, membership, marketing = part
        state = ContactState("", blocked=blocked,
                             consents={self.covering[0]: Consent(OPTED_OUT)} if out else {},
                             grants={"marketing": {}} if marketing else {})
        if membership is not None and self.list_name:
            status, evidence = membership
            state.lists[self.list_name] = Subscription(status, "yes" if evidence else None)
        return state

    def _decide(self, state: ContactState) -> Decision:
        return decide(state, self.sender, self.campaign, self.purpose, self.policy,
                      self.list_name)

    def _verdict(self, decision: Decision, consents: dict[str, Any]) -> Verdict:
        if decision.allowed:
            return True, decision.reason, ""
        return False, decision.reason, _detail(decision.reason, consents, self.covering)


def _detail(reason: str, consents: dict[str, Any], covering: tuple[str, ...]) -> str:
    """The reason in words, with when and how the contact opted out where that is known
    (the first opt-out in force among the covering keys, in the state's order)."""
    text = _DETAILS.get(reason, reason)
    if reason == "opted_out":
        for key, consent in consents.items():
            if key in covering and consent["status"] == OPTED_OUT:
                return f"{text} ({key}, {consent.get('method') or 'unknown method'}, " \
                       f"{consent.get('opted_out_at') or 'time unknown'})"
    return text
