"""The README's import commands are taken by the import CLI as written: the connection options
(`--user`, `--token`, `--gateway`) after the command as well as before it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from crm_devtools.imports import arguments

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_readme_import_command_parses_with_the_user_it_names() -> None:
    commands = [line.split("crm_devtools.imports", 1)[1] for line in README.read_text().splitlines()
                if re.match(r"^\.venv/bin/python -m crm_devtools\.imports ", line)]
    assert len(commands) >= 3
    for command in commands:
        words = shlex.split(command.split("#", 1)[0])
        args = arguments(words)
        assert args.command in ("upload", "list") and args.user == words[words.index("--user") + 1], command


def test_an_option_before_the_command_is_kept_when_the_command_does_not_repeat_it() -> None:
    args = arguments(["--user", "manager.north", "--gateway", "http://gw:8080", "upload", "f.csv"])
    assert (args.user, args.gateway, args.token) == ("manager.north", "http://gw:8080", "")
    assert arguments(["--user", "manager.north", "status", "job-1", "--user", "rep.north.1"]).user == "rep.north.1"
