"""Every subcommand's ``--help`` ends with real examples (issue 14 item 2).

The README promises that ``auditor COMMAND --help`` explains every option
with examples. Each example command is parsed by the real parser, so an
example that names a removed option or a wrong value fails here.
"""

from __future__ import annotations

import argparse
import shlex

import pytest

from auditor.cli import build_parser, main

SHELL_OPERATORS = {">", ">>", "<", "|", "&&", "||", ";", "2>"}


def subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001 - the real list
    return sorted(action.choices)


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def example_commands(text: str) -> list[list[str]]:
    """The argv of each ``auditor ...`` command of the help's ``examples:`` section (env assignments and shell plumbing dropped)."""
    assert "\nexamples:\n" in text, "no examples section"
    section = text.split("\nexamples:\n", 1)[1]
    commands = []
    for line in section.splitlines():
        if not line.startswith("  "):
            break  # the section ends at the first line that is not indented (a blank line, the next section)
        words = shlex.split(line, comments=True)
        while words and "=" in words[0] and not words[0].startswith("-"):
            words.pop(0)
        if words and words[0] == "auditor":
            end = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
            commands.append(words[1:end])
    return commands


def test_the_subcommands_are_the_ones_the_readme_lists() -> None:
    assert {"run", "validate", "controls", "verify", "render", "diff", "history", "keygen", "sudoers"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_help_has_examples_that_parse(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    examples = example_commands(help_text(command, capsys))
    assert len(examples) >= 2, f"auditor {command} --help shows {len(examples)} example(s); give two or three"
    for argv in examples:
        assert argv[0] == command, f"an example of `auditor {command}` runs `auditor {shlex.join(argv)}`"
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"auditor {command} --help: the example `auditor {shlex.join(argv)}` does not parse: {capsys.readouterr().err}")


def test_an_example_that_does_not_parse_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail: an unknown option in an example is a usage error of the real parser."""
    (argv,) = example_commands("usage\n\nexamples:\n  auditor run prod.yaml --no-such-option   # wrong\n")
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
