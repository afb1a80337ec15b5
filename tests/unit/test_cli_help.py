"""`deskhand --help` and every subcommand's help: each command and option says what it is for."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from worker import cli


def commands(group: click.Group = cli.main, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """(words after `deskhand`, command) for the top level and every subcommand, depth first."""
    found = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


ALL = commands()


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) or "deskhand" for p, _ in ALL])
def test_every_option_has_help_and_help_answers(path, command) -> None:
    undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []

    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli.main, [*path, flag], terminal_width=80, prog_name="deskhand")
        assert result.exit_code == 0, result.output
        assert f"Usage: deskhand {' '.join(path)}".rstrip() in result.output


@pytest.mark.parametrize("path,group", [(p, c) for p, c in ALL if isinstance(c, click.Group)],
                         ids=[" ".join(p) or "deskhand" for p, c in ALL if isinstance(c, click.Group)])
def test_command_lists_show_each_summary_whole(path, group) -> None:
    # Click cuts a summary that does not fit the 80-column listing with "...": the reader loses the end.
    result = CliRunner().invoke(cli.main, [*path, "--help"], terminal_width=80, prog_name="deskhand")
    listing = result.output.split("Commands:\n", 1)[1]
    cut = [line.strip() for line in listing.splitlines() if line.rstrip().endswith("...")]
    assert cut == []
