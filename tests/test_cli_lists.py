"""Every command that takes a list of backends, models or pairs reads it the same way: comma-separated,
space-separated or both, in order, each once (``sepbench.commands.arg_types.NameList``); the main job's
pytest options and the ASV suite's environment take the comma spelling, which every command shares."""

from __future__ import annotations

import pytest

from sepbench.cli import build_parser

# (command, option, the other arguments it needs to parse): every list option of every command
LIST_OPTIONS = [
    ("reproduce", "--backends", []),
    ("reproduce", "--models", []),
    ("train", "--models", []),
    ("train", "--pairs", []),
    ("check ab", "--backends", []),
    ("profile", "--backends", []),
    ("report", "--pairs", []),
]
SPELLINGS = [["a,b"], ["a", "b"], ["a,", "b"], [" a , b "], ["a,b,a"], ["a", "b", "a"]]


def _commands(parser, prefix=""):
    """(``"check ab"``, its parser) for every command that runs, however deep (``check`` has commands of its own)."""
    sub = next((a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"), None)
    if sub is None:
        yield prefix.strip(), parser
        return
    for name, command in sub.choices.items():
        yield from _commands(command, f"{prefix} {name}")


def test_every_list_option_of_every_command_is_a_name_list():
    """No list option is left with its own parser: each one a command defines is in LIST_OPTIONS."""
    from sepbench.commands.arg_types import NameList

    commands = dict(_commands(build_parser()))
    assert "check ab" in commands and "check" not in commands  # the walk reaches a command's own commands
    found = {
        (name, opt)
        for name, command in commands.items()
        for action in command._actions
        for opt in action.option_strings
        if opt in ("--backends", "--models", "--pairs")
    }
    assert found == {(c, o) for c, o, _ in LIST_OPTIONS}
    for name, command in commands.items():
        for action in command._actions:
            if set(action.option_strings) & {"--backends", "--models", "--pairs"}:
                assert isinstance(action, NameList) and action.nargs == "+", (name, action.option_strings)


def test_the_parser_of_one_command_is_that_commands_parser_in_the_full_one():
    """``sepbench report`` builds the report's parser alone (importing no other command's module): the same
    options and the same parse; help and an unknown command still see every command."""
    full = dict(_commands(build_parser()))
    for name in ("report", "bench-summary", "check"):
        alone = dict(_commands(build_parser(name)))
        assert set(alone) == {c for c in full if c.split()[0] == name}
        for command, parser in alone.items():
            assert [a.option_strings for a in parser._actions] == [a.option_strings for a in full[command]._actions]
    assert build_parser("report").parse_args(["report", "--output", "x"]) == build_parser().parse_args(["report", "--output", "x"])
    assert dict(_commands(build_parser("no-such-command"))).keys() == dict(_commands(build_parser("--help"))).keys() == full.keys()


@pytest.mark.parametrize("command, option, extra", LIST_OPTIONS)
@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda s: " ".join(s))
def test_every_command_reads_a_list_the_same_way(command, option, extra, spelling):
    args = build_parser().parse_args([*command.split(), *extra, option, *spelling])
    assert getattr(args, option.lstrip("-")) == ["a", "b"]


@pytest.mark.parametrize("command, option, extra", LIST_OPTIONS)
def test_an_option_given_twice_adds_to_its_list_and_an_empty_one_is_empty(command, option, extra):
    parser = build_parser()
    assert getattr(parser.parse_args([*command.split(), *extra, option, "a", option, "b,a"]), option.lstrip("-")) == ["a", "b"]
    assert getattr(parser.parse_args([*command.split(), *extra, option, ","]), option.lstrip("-")) == []  # the command names the problem


def test_the_main_jobs_backends_option_takes_the_shared_comma_spelling():
    from impls.registry import backend_names
    from sepbench.bench.cases import select_backends

    first, second = list(backend_names())[:2]
    assert select_backends(f"{first},{second}") == select_backends(f" {first} , {second} ") == [first, second]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--models", ","], "--models names no model"),
        (["train", "--pairs", ","], "--pairs names no pair"),  # not the bench's pairs, silently
        (["check", "ab", "--backends", ","], "--backends names no backend"),  # not every backend, silently
        (["profile", "--backends", "tensorflow"], "tensorflow: profile times numpy and torch only"),
        (["reproduce", "--backends", "jax"], "unknown backend(s) 'jax'"),
    ],
)
def test_a_bad_list_is_one_line_naming_it(argv, message, capsys):
    from sepbench.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
