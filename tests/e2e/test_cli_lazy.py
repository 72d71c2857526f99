"""The CLI loads only the modules of the command it runs (``smsconsent.cli.HOMES``), and
that command behaves as it does with every command loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from smsconsent.cli import HOMES, MODULES, app, command_of, load_commands


def _modules(group: typer.Typer) -> set[str]:
    found = {info.callback.__module__ for info in group.registered_commands if info.callback}
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        found |= _modules(sub.typer_instance)
    return found


def test_homes_are_where_commands_are_registered() -> None:
    """Every top-level command and group, and the modules that register it (a group's
    subcommands can come from several), are ``HOMES``'."""
    load_commands()
    found: dict[str, set[str]] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or info.callback.__name__.replace("_", "-")
        found.setdefault(name, set()).add(info.callback.__module__)
    for sub in app.registered_groups:
        assert sub.name is not None and sub.typer_instance is not None
        found.setdefault(sub.name, set()).update(_modules(sub.typer_instance))
    assert found == {name: {f"smsconsent.cli.{m}" for m in mods} for name, mods in HOMES.items()}
    assert {m for mods in HOMES.values() for m in mods} == set(MODULES)


@pytest.mark.parametrize(("argv", "command"), [
    (["filter", "a.csv"], "filter"), (["--db", "sqlite://", "--workspace", "w", "check"], "check"),
    (["--db=sqlite://", "import", "opt-outs"], "import"), (["--help"], None), ([], None),
])
def test_the_command_word(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    return done.stdout + done.stderr


@pytest.mark.parametrize("argv", [["filter", "--help"], ["workspace", "--help"], ["--help"],
                                  ["nosuch"]])
def test_a_command_loaded_alone_says_what_it_says_among_all(argv: list[str]) -> None:
    """Help and errors are the same whether the command's modules or all are loaded; a
    filter loads neither the other command modules nor the classifier."""
    lazy = _run(f"import sys; sys.argv = ['smsconsent', *{argv!r}]; "
                "from smsconsent.cli import main; main()")
    full = _run(f"from smsconsent.cli import app, load_commands; load_commands(); "
                f"app(args={argv!r}, prog_name='smsconsent')")
    assert lazy == full and lazy


def test_a_filter_loads_its_own_modules() -> None:
    loaded = _run("import sys; from smsconsent.cli import load_commands; "
                  "load_commands('filter'); print(sorted(sys.modules))").split("'")
    assert "smsconsent.cli.bulk" in loaded
    assert "smsconsent.cli.admin" not in loaded
    assert "smsconsent.domain.classifier" not in loaded


def test_the_packages_names_and_submodules_are_there_when_asked() -> None:
    """Every public name of ``smsconsent`` and ``smsconsent.services``, and the services'
    submodules, as when the packages imported them all; an unknown name is an AttributeError."""
    out = _run("import smsconsent, smsconsent.services as s\n"
               "assert all(hasattr(smsconsent, n) for n in smsconsent.__all__)\n"
               "assert s.queries.CONTACT_STATUSES and s.filtering.SPLIT_ROWS\n"
               "assert all(hasattr(s, n) for n in s.__all__)\n"
               "for package in (smsconsent, s):\n"
               "    try:\n"
               "        package.nosuch\n"
               "    except AttributeError:\n"
               "        pass\n"
               "    else:\n"
               "        raise SystemExit('nosuch found')\n"
               "print('ok')")
    assert out == "ok\n"
