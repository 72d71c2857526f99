"""Commands that read inbound texts, gate sends and change a contact's consent."""

from __future__ import annotations

import typer

from smsconsent import services
from smsconsent.cli.app import app
from smsconsent.cli.common import EXIT_REFUSED, FormatOption, emit, os_user, run, store_for

consent_app = typer.Typer(help="Record consent with its evidence.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
audit_app = typer.Typer(help="Prove the ledger: verify the hash chain and the stored state.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")

PURPOSE = typer.Option("informational", "--purpose",
                       help="marketing, informational or transactional.")


@app.command()
def inbound(
    ctx: typer.Context,
    sender: str = typer.Option(..., "--from", help="The contact's number."),
    to: str = typer.Option(..., "--to", help="Our number the text was sent to."),
    body: str = typer.Option(..., "--body", help="The text as received."),
    provider_id: str = typer.Option(None, "--id", help="Provider message id (replays no-op)."),
    at: str = typer.Option(None, "--at", help="When it was sent (ISO 8601; default now)."),
    fmt: str = FormatOption,
) -> None:
    """Record an inbound text and act on it: STOP, START, HELP, or nothing.

    Prints intent, action, reply (the text owed back, or null) and duplicate. The workspace
    is the one that owns the --to number.

    Example: smsconsent inbound --from +15551234567 --to +15557654321 --body "STOP" --id SM1
    """
    store = run(lambda: store_for(ctx))
    result = run(lambda: services.handle_inbound(store, sender, to, body,
                                                 provider_id=provider_id, at=at))
    emit(result.to_dict(), fmt)


@app.command()
def check(
    ctx: typer.Context,
    sender: str = typer.Option(..., "--from", help="Our sending number."),
    to: str = typer.Option(..., "--to", help="The contact's number."),
    purpose: str = PURPOSE,
    list_name: str = typer.Option(None, "--list", help="The contact list the message is for."),
    fmt: str = FormatOption,
) -> None:
    """Ask the gate whether a send is allowed; records nothing.

    Exit 0 allowed, 1 refused (reason in the JSON), 2 bad input.

    Example: smsconsent check --from +15557654321 --to +15551234567 --purpose marketing
    """
    store = run(lambda: store_for(ctx))
    decision = run(lambda: services.check(store, sender, to, purpose, list_name))
    out = decision.to_dict()
    out.pop("body")
    emit(out, fmt)
    if not decision.allowed:
        raise typer.Exit(EXIT_REFUSED)


@app.command()
def send(
    ctx: typer.Context,
    sender: str = typer.Option(..., "--from", help="Our sending number."),
    to: str = typer.Option(..., "--to", help="The contact's number."),
    body: str = typer.Option(..., "--body", help="The message to send."),
    purpose: str = PURPOSE,
    list_name: str = typer.Option(None, "--list", help="The contact list the message is for."),
    idempotency_key: str = typer.Option(
        None, "--idempotency-key", help="Your id for this message: a retry with the same key "
        "prints the first answer and records nothing."),
    fmt: str = FormatOption,
) -> None:
    """Run the gate and record the send; prints the final body (footer added when owed).

    Exit 0 allowed, 1 refused, 2 bad input. smsconsent does not deliver the text: hand
    the printed body to your provider.

    Example: smsconsent send --from +15557654321 --to +15551234567 --body "Your order shipped"
    """
    store = run(lambda: store_for(ctx))
    decision = run(lambda: services.send(store, sender, to, body, purpose, list_name,
                                         idempotency_key=idempotency_key))
    emit(decision.to_dict(), fmt)
    if not decision.allowed:
        raise typer.Exit(EXIT_REFUSED)


BY = typer.Option(..., "--by", help="Who does this (agent id), for the ledger.")
EVIDENCE = typer.Option(None, "--evidence", help="What proves the contact's wish.")


@app.command("opt-out")
def opt_out(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
            by: str = BY, evidence: str = EVIDENCE, fmt: str = FormatOption) -> None:
    """Opt a contact out of SMS from every number of the workspace (always allowed).

    Example: smsconsent opt-out +15551234567 --by alice --evidence "asked on a call"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.opt_out(store, ctx.obj.workspace, contact, by=by,
                                      evidence=evidence)), fmt)


@app.command("opt-in")
def opt_in(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
           by: str = BY, evidence: str = EVIDENCE, fmt: str = FormatOption) -> None:
    """Opt a contact back in. A contact who opted out themselves needs --evidence of new
    express consent; a blocked contact must be unblocked first. Exit 1 when refused.

    Example: smsconsent opt-in +15551234567 --by alice --evidence "signed form 2026-11-20"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.opt_in(store, ctx.obj.workspace, contact, by=by,
                                     evidence=evidence)), fmt)


@app.command()
def block(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
          by: str = BY, evidence: str = EVIDENCE, fmt: str = FormatOption) -> None:
    """Block a contact: opted out, their texts dropped (but logged), sends refused.

    Example: smsconsent block +15551234567 --by alice --evidence "abusive messages"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.block(store, ctx.obj.workspace, contact, by=by,
                                    evidence=evidence)), fmt)


@app.command()
def unblock(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
            by: str = BY, evidence: str = EVIDENCE, fmt: str = FormatOption) -> None:
    """Unblock a contact; they stay opted out until opted in with evidence.

    Example: smsconsent unblock +15551234567 --by alice
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.unblock(store, ctx.obj.workspace, contact, by=by,
                                      evidence=evidence)), fmt)


@consent_app.command("grant")
def consent_grant(
    ctx: typer.Context,
    contact: str = typer.Argument(..., help="Contact number."),
    type_: str = typer.Option(..., "--type", help="express, express_written or implied."),
    purpose: str = typer.Option(..., "--purpose", help="marketing, informational, transactional."),
    evidence: str = typer.Option(..., "--evidence", help="What proves the consent."),
    by: str = typer.Option(None, "--by", help="Who records it (default: the OS user)."),
    fmt: str = FormatOption,
) -> None:
    """Record consent with its evidence; marketing needs express_written.

    Example: smsconsent consent grant +15551234567 --type express_written --purpose marketing
    --evidence "web form 2026-11-20 10:02 UTC, IP 203.0.113.9"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.grant_consent(
        store, ctx.obj.workspace, contact, type_=type_, purpose=purpose, evidence=evidence,
        by=by or os_user())), fmt)


@app.command()
def status(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
           fmt: str = FormatOption) -> None:
    """Show a contact's consent: status, scopes, lists, marketing consent, blocked.

    Example: smsconsent status +15551234567
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.status(store, ctx.obj.workspace, contact)), fmt)


@app.command()
def history(ctx: typer.Context, contact: str = typer.Argument(..., help="Contact number."),
            after: int = typer.Option(0, "--after", help="Start after this sequence number."),
            limit: int = typer.Option(100, "--limit", help="At most this many events (1-1000)."),
            fmt: str = FormatOption) -> None:
    """Show a contact's ledger events: inbound texts, changes, sends, replies.

    Example: smsconsent history +15551234567 --format table
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.history(store, ctx.obj.workspace, contact, after=after,
                                      limit=limit)), fmt)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """Recompute the workspace's hash chain and refold every contact; exit 1 on any problem.

    Example: smsconsent --workspace acme audit verify
    """
    store = run(lambda: store_for(ctx))
    result = run(lambda: services.verify(store, ctx.obj.workspace))
    emit(result, fmt)
    if not result["ok"]:
        raise typer.Exit(EXIT_REFUSED)
