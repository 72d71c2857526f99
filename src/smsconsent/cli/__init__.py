"""The ``smsconsent`` command: a thin layer over the services (parse, call, print).

Every command prints JSON unless ``--format table``; exit codes are 0 (done or allowed),
1 (refused by a rule), 2 (bad input). Each command module registers itself on ``app``.
"""

from __future__ import annotations

from smsconsent.cli.app import app

GLOBAL_OPTIONS = ("--db", "--workspace")
FORMAT_OPTION = "--format"
FLAGS = frozenset({"--jsonl", "--reopt-on-message", "--no-reopt-on-message",
                   "--essential-after-stop", "--no-essential-after-stop", "--help"})


def hoist_globals(argv: list[str]) -> list[str]:
    """Let ``--db`` and ``--workspace`` stand anywhere, not only before the command, and
    ``--format`` (an option of each command that prints) before the command too.

    An option name that is the value of the option before it (``--body --db``) stays put.
    """
    front: list[str] = []
    rest: list[str] = []
    tail: list[str] = []  # a --format given before the command goes after it
    command_seen = False
    i = 0
    while i < len(argv):
        token = argv[i]
        prev = rest[-1] if rest else ""
        takes_value = prev.startswith("-") and "=" not in prev and prev not in FLAGS
        name = token.split("=", 1)[0]
        if not command_seen and name == FORMAT_OPTION and not takes_value:
            width = 1 if "=" in token else 2
            tail.extend(argv[i : i + width])
            i += width
            continue
        command_seen = command_seen or not (token.startswith("-") or takes_value)
        if name in GLOBAL_OPTIONS and not takes_value and rest:
            if "=" in token:
                front.append(token)
                i += 1
                continue
            front.extend(argv[i : i + 2])
            i += 2
            continue
        rest.append(token)
        i += 1
    return front + rest + tail


MODULES = ("admin", "bulk", "classify", "consent", "demo", "serve")
# The modules that register each command (``tests/e2e/test_cli_lazy.py`` holds this to what
# loading them all registers): a command loads only its own, not every command's services.
HOMES = {
    "workspace": ("admin", "serve"), "number": ("admin",), "list": ("admin",),
    "db": ("admin",), "import": ("bulk",), "export": ("bulk",), "filter": ("bulk",),
    "classify": ("classify",), "inbound": ("consent",), "check": ("consent",),
    "send": ("consent",), "opt-out": ("consent",), "opt-in": ("consent",),
    "block": ("consent",), "unblock": ("consent",), "consent": ("consent",),
    "status": ("consent",), "history": ("consent",), "audit": ("consent",),
    "demo": ("demo",), "serve": ("serve",), "apikey": ("serve",), "outbox": ("serve",),
}


def load_commands(command: str | None = None) -> None:
    """Import the command modules that register ``command`` on ``app`` (each registers its
    own commands), or all of them (for the list of commands, or a name not known here)."""
    import importlib

    for name in HOMES.get(command or "", MODULES):
        importlib.import_module(f"smsconsent.cli.{name}")


def command_of(argv: list[str]) -> str | None:
    """The command word of ``hoist_globals``' arguments, if there is one before any option
    but the global ones (whose values it skips)."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in GLOBAL_OPTIONS:
            i += 2
            continue
        if token.startswith("-"):
            if token.split("=", 1)[0] in GLOBAL_OPTIONS:
                i += 1
                continue
            return None  # --help and the like: every command
        return token
    return None


def main() -> None:
    """Entry point of the console script."""
    import gc
    import sys

    argv = hoist_globals(sys.argv[1:])
    # Loading the command's modules makes hundreds of thousands of objects, none of them
    # garbage: collecting meanwhile only walks them again and again (~60 ms a command). They
    # are then frozen, so that no later collection walks them either.
    gc.disable()
    try:
        load_commands(command_of(argv))
    finally:
        gc.freeze()
        gc.enable()
    app(args=argv, prog_name="smsconsent")


__all__ = ["app", "command_of", "load_commands", "main"]
