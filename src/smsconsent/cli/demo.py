"""``smsconsent demo``: the quick start's main job, on the embedded default (SQLite)."""

from __future__ import annotations

import contextlib
from functools import partial

import typer

from smsconsent import services
from smsconsent.cli.app import app
from smsconsent.cli.common import run, store_for
from smsconsent.errors import Conflict

OURS, CONTACT = "+15550100001", "+15550100002"


@app.command()
def demo(ctx: typer.Context) -> None:
    """Walk through STOP, a refused send, START, an allowed send and an audit, then print it.

    Uses (or creates) the workspace "demo" in --db; safe to run again.

    Example: smsconsent --db sqlite:///demo.db demo
    """
    store = run(lambda: store_for(ctx))
    with contextlib.suppress(Conflict):
        services.create_workspace(store, "demo", business_name="Acme Jobs",
                                  contact="help@acme.example")
    run(lambda: services.add_number(store, "demo", OURS))
    say = typer.echo
    say(f"workspace 'demo' texts from {OURS}; the contact is {CONTACT}\n")
    for body in ("Please stop texting me", "STOP", "HELP", "Start"):
        r = run(partial(services.handle_inbound, store, CONTACT, OURS, body))
        c = r.classification
        say(f"<- {body!r}: intent {r.intent} ({c.get('match')}, {c.get('language')}), "
            f"action {r.action}")
        say(f"   reply: {r.reply}" if r.reply else "   no reply (one confirmation only)")
        if body == "STOP":
            d = run(lambda: services.send(store, OURS, CONTACT, "New jobs near you!"))
            say(f"-> send 'New jobs near you!': allowed={d.allowed} reason={d.reason}")
    d = run(lambda: services.send(store, OURS, CONTACT, "Your interview is at 10am"))
    say(f"-> send 'Your interview is at 10am': allowed={d.allowed} reason={d.reason}")
    say(f"   final body: {d.body}")
    m = run(lambda: services.check(store, OURS, CONTACT, "marketing"))
    say(f"-> check marketing: allowed={m.allowed} reason={m.reason}")
    v = run(lambda: services.verify(store, "demo"))
    say(f"\nledger: {v['events']} events, hash chain and states "
        f"{'verified' if v['ok'] else 'BROKEN: ' + '; '.join(v['problems'])}")
    if not v["ok"]:
        raise typer.Exit(1)
