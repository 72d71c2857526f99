"""A race harness: worker processes fire STOPs, STARTs, sends and audits at the same contacts, and
a checker holds the ledger against the invariant (storage/database.py) and against what each
worker was told.

A worker is a process that fires operations and records what it got. How it fires them is a
``Client``: ``ServicesClient`` calls ``smsconsent.services`` directly; a client that speaks HTTP
to one of several ``smsconsent serve`` instances only needs the same four methods, returning the
same words, and a ``client`` name in ``CLIENTS``. Everything else (the plan, the loop, the
checks) stays as it is.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from smsconsent import services
from smsconsent.domain.consent import ContactState
from smsconsent.domain.gate import decide
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.services import Store
from smsconsent.services.base import find_number, load_workspace
from smsconsent.storage import history
from smsconsent.storage.database import make_engine

WORKSPACE = "race"
MAX_SHOTS = 3000  # per worker: bounds the loop whatever the machine's speed


@dataclass(frozen=True)
class Plan:
    """What one worker does: where, for how long, at which contacts, in what random order."""

    db_url: str
    worker: int
    ours: str
    contacts: tuple[str, ...]
    start_at: float  # time.time() at which every worker begins, so that they overlap
    seconds: float
    seed: int
    client: str = "services"
    url: str = ""  # for "http": the base URL of the ``smsconsent serve`` instance to talk to
    key: str = ""  # for "http": a manager (or owner) API key of WORKSPACE


@dataclass(frozen=True)
class Shot:
    """One operation as the worker saw it; ``tag`` finds its event in the ledger."""

    op: str
    contact: str
    tag: str
    start: float  # time.monotonic(): one clock for every process on the machine
    end: float
    result: str


class Client(Protocol):
    def stop(self, contact: str, tag: str) -> str: ...  # the action: opted_out, already_...
    def start(self, contact: str, tag: str) -> str: ...  # the action: opted_in, already_...
    def send(self, contact: str, tag: str) -> str: ...  # "allowed" or the refusal reason
    def verify(self) -> str: ...  # "ok" or the problems found
    def close(self) -> None: ...


class ServicesClient:
    """Fires operations through the library, as the CLI and the HTTP server do."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.store = Store(make_engine(plan.db_url))

    def stop(self, contact: str, tag: str) -> str:
        return services.handle_inbound(self.store, contact, self.plan.ours, "STOP",
                                       provider_id=tag).action

    def start(self, contact: str, tag: str) -> str:
        return services.handle_inbound(self.store, contact, self.plan.ours, "START",
                                       provider_id=tag).action

    def send(self, contact: str, tag: str) -> str:
        decision = services.send(self.store, self.plan.ours, contact, tag)
        return "allowed" if decision.allowed else decision.reason

    def verify(self) -> str:
        result = services.verify(self.store, WORKSPACE)
        return "ok" if result["ok"] else "; ".join(result["problems"])

    def close(self) -> None:
        self.store.engine.dispose()


class HttpClient:
    """Fires operations at one ``smsconsent serve`` instance: texts through ``POST /v1/inbound``
    (the tag as the provider id), sends through ``POST /v1/messages`` (the tag as the body)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.http = httpx.Client(base_url=plan.url, timeout=30,
                                 headers={"Authorization": f"Bearer {plan.key}"})

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(path, json=body)
        answer.raise_for_status()  # an error is a failure of the race, not a result
        data: dict[str, Any] = answer.json()
        return data

    def _text(self, contact: str, tag: str, words: str) -> str:
        return str(self._post("/v1/inbound", {"from": contact, "to": self.plan.ours,
                                              "body": words, "id": tag})["action"])

    def stop(self, contact: str, tag: str) -> str:
        return self._text(contact, tag, "STOP")

    def start(self, contact: str, tag: str) -> str:
        return self._text(contact, tag, "START")

    def send(self, contact: str, tag: str) -> str:
        decision = self._post("/v1/messages", {"from": self.plan.ours, "to": contact,
                                               "body": tag})
        return "allowed" if decision["allowed"] else str(decision["reason"])

    def verify(self) -> str:
        answer = self.http.get("/v1/audit/verify")
        answer.raise_for_status()
        result = answer.json()
        return "ok" if result["ok"] else "; ".join(result["problems"])

    def close(self) -> None:
        self.http.close()


CLIENTS: dict[str, Callable[[Plan], Client]] = {"services": ServicesClient, "http": HttpClient}
OPS = ("stop", "start", "send", "send", "send", "verify")


def run_worker(plan: Plan) -> list[Shot]:
    """The worker process's body: fire random operations until the time is up."""
    client = CLIENTS[plan.client](plan)
    rng = random.Random(plan.seed)
    shots: list[Shot] = []
    time.sleep(max(0.0, plan.start_at - time.time()))
    deadline = time.monotonic() + plan.seconds
    try:
        while time.monotonic() < deadline and len(shots) < MAX_SHOTS:
            op = rng.choice(OPS)
            contact = rng.choice(plan.contacts)
            tag = f"w{plan.worker}-{len(shots)}"
            began = time.monotonic()
            result = client.verify() if op == "verify" else getattr(client, op)(contact, tag)
            shots.append(Shot(op, contact, tag, began, time.monotonic(), result))
    finally:
        client.close()
    return shots


def race(plans: list[Plan], timeout: float) -> list[Shot]:
    """Run one spawned process per plan at once; every shot of every worker."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(plans)) as pool:
        per_worker = pool.map_async(run_worker, plans).get(timeout=timeout)
    return [shot for shots in per_worker for shot in shots]


# -- the checks ----------------------------------------------------------------------------------

def event_tag(ev: Any) -> str | None:
    """The worker tag an event carries: the provider id of a text, the body of a send."""
    if ev.provider_id:
        return str(ev.provider_id)
    if ev.type in ("send_allowed", "send_refused"):
        return str(ev.data["body"]).split()[0].rstrip(".")
    return None


def walk(events: list[Any], policy: WorkspacePolicy, campaign: str | None
         ) -> tuple[list[int], dict[str, ContactState]]:
    """Walk each contact's events in ``seq`` order with the gate's own rules: the ``seq`` of
    every allowed send that the state at that point refuses, and the states at the end."""
    states: dict[str, ContactState] = {}
    wrong: list[int] = []
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.contact is None:
            continue
        state = states.setdefault(ev.contact, ContactState(ev.contact))
        if ev.type == "send_allowed":
            decision = decide(state, ev.data["from"], campaign, ev.data["purpose"], policy,
                              ev.data["list"])
            if not decision.allowed:
                wrong.append(ev.seq)
        state.apply(ev.type, ev.occurred_at, ev.actor, ev.data)
    return wrong, states


def out_of_real_time_order(shots: list[Shot], seq_of: dict[str, int]) -> list[str]:
    """Tags of operations recorded before one that had already returned when they began.

    Every write to a workspace is serialised, so one that began after another returned must
    come later in the chain; a send that began after a STOP returned therefore saw it.
    """
    writes = [s for s in shots if s.op != "verify"]
    by_end = sorted(writes, key=lambda s: s.end)
    wrong: list[str] = []
    done, highest = 0, 0
    for shot in sorted(writes, key=lambda s: s.start):
        while done < len(by_end) and by_end[done].end < shot.start:
            highest = max(highest, seq_of[by_end[done].tag])
            done += 1
        if seq_of[shot.tag] <= highest:
            wrong.append(shot.tag)
    return wrong


def interleavings(events: list[Any]) -> int:
    """How often consecutive events of one contact came from different workers."""
    last: dict[str, str] = {}
    switches = 0
    for ev in sorted(events, key=lambda e: e.seq):
        tag = event_tag(ev)
        if ev.contact is None or tag is None:
            continue
        worker = tag.split("-")[0]
        if last.get(ev.contact, worker) != worker:
            switches += 1
        last[ev.contact] = worker
    return switches


def ledger_events(store: Store, workspace_id: int) -> list[Any]:
    with store.read() as conn:
        events: list[Any] = []
        while True:
            page = history.events_page(conn, workspace_id, after=events[-1].seq if events
                                            else 0, limit=1000)
            events.extend(page)
            if len(page) < 1000:
                return events


def assert_race_held(store: Store, ours: str, shots: list[Shot], workers: int) -> None:
    """The race was real, each worker was told what the ledger holds, once, in real-time order,
    no send passed a committed opt-out, the chain verifies and the stored states are the fold."""
    with store.read() as conn:
        ws = load_workspace(conn, WORKSPACE)
        number = find_number(conn, ours)
    assert number is not None
    events = ledger_events(store, ws.id)
    seq_of = {tag: ev.seq for ev in events if (tag := event_tag(ev)) is not None}
    writes = [s for s in shots if s.op != "verify"]

    # A real race: every worker fired, the state changed back and forth, workers interleaved.
    assert {s.tag.split("-")[0] for s in shots} == {f"w{w}" for w in range(workers)}
    seen = Counter((s.op, s.result) for s in shots)
    assert min(seen[("stop", "opted_out")], seen[("start", "opted_in")],
               seen[("send", "allowed")], seen[("send", "opted_out")]) >= 3, seen
    assert interleavings(events) >= 10

    # What each worker was told is what the ledger holds, once, in real-time order.
    assert sorted(seq_of) == sorted(s.tag for s in writes)
    by_seq = {ev.seq: ev for ev in events}
    for shot in (s for s in writes if s.op == "send"):
        assert by_seq[seq_of[shot.tag]].type == (
            "send_allowed" if shot.result == "allowed" else "send_refused")
    assert out_of_real_time_order(shots, seq_of) == []

    # The invariant, by the gate's own rules; the chain; the stored states.
    wrong, states = walk(events, ws.policy, number.campaign)
    assert wrong == []
    assert all(s.result == "ok" for s in shots if s.op == "verify")
    assert services.verify(store, WORKSPACE)["ok"]
    with store.read() as conn:
        for phone, state in states.items():
            stored = history.stored_state(conn, ws.id, phone)
            assert stored is not None and stored.to_dict() == state.to_dict()
