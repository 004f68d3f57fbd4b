"""The curl examples of the READMEs, as a user would paste them into bash.

Every fenced ```bash (or sh/shell/console) block that runs `curl` is an example block. It is split into
shell commands (continuation lines, multi-line quotes and here-documents kept whole), each with the
HTTP status its README promises:
- a comment that starts with `→ NNN` on the command's own lines or on the comment lines right after
  it states that status (`# → 400 naming "budget"`);
- otherwise any 2xx.
A command that calls curl more than once (a loop polling until something is ready) is judged by
its last answer. Compound commands (for/while/if) go on one line or with `\\` continuations.
A block the test must leave alone says so, with its reason, in an HTML comment on one of the lines
right before its fence, on a line of its own:  <!-- example: not runnable: needs a real SMTP relay -->
(the reason is required, and printed with the test's results).

`script()` turns the blocks of several READMEs into one bash script: commands run in README order
in one shell, so variables set by one example (TOKEN, API, an id captured from an answer) are there
for the next, as for a reader who follows the page."""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Any opening fence (```json too), so a closing fence is never taken for an opening one;
# only bash-like blocks are examples.
FENCE = re.compile(r"^(\s*)```+\s*([\w+-]*)\s*$")
RUNNABLE = {"bash", "sh", "shell", "console"}
SKIP = re.compile(r"<!--\s*example:\s*not runnable\s*(?::\s*(?P<reason>.*?))?\s*-->")  # a line of its own
EXPECT = re.compile(r"^#\s*→\s*(\d{3})\b")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
CURL = re.compile(r"(^|[\s;|&(`$])curl\s")


@dataclass
class Command:
    doc: str            # README path relative to the repo
    line: int           # 1-based line of its first line in the README
    text: str
    expect: int | None  # the status the README states; None: any 2xx

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def is_curl(self) -> bool:
        return bool(CURL.search(_code(self.text)))

    def accepts(self, status: int) -> bool:
        return status == self.expect if self.expect is not None else 200 <= status < 300


@dataclass
class Block:
    doc: str
    line: int                          # the fence's line
    commands: list[Command] = field(default_factory=list)
    skipped: str | None = None         # the reason, when the README marks it not runnable


def _scan(text: str, state: list[str]) -> tuple[str, str | None]:
    """Scan one line of shell with the quoting `state` carried over from the lines before (a stack
    of open ' " $( ); returns the line without its comment, and the comment (None if none)."""
    i, code = 0, []
    while i < len(text):
        c = text[i]
        top = state[-1] if state else ""
        if top == "'":
            if c == "'":
                state.pop()
        elif top == '"':
            if c == "\\":
                code.append(text[i:i + 2])
                i += 2
                continue
            if c == '"':
                state.pop()
            elif text.startswith("$(", i):
                state.append("$(")
                code.append("$(")
                i += 2
                continue
        else:
            if c == "\\":
                code.append(text[i:i + 2])
                i += 2
                continue
            if c == "#" and (i == 0 or text[i - 1] in " \t;|&("):
                return "".join(code), text[i:]
            if c in "'\"":
                state.append(c)
            elif text.startswith("$(", i):
                state.append("$(")
                code.append("$(")
                i += 2
                continue
            elif c == ")" and top == "$(":
                state.pop()
        code.append(c)
        i += 1
    return "".join(code), None


def _code(text: str) -> str:
    state: list[str] = []
    return "\n".join(_scan(line, state)[0] for line in text.splitlines())


def split_commands(lines: list[str], first_line: int, doc: str) -> list[Command]:
    """The shell commands of a block's lines (numbered from `first_line`)."""
    commands: list[Command] = []
    current: list[str] = []
    start = 0
    state: list[str] = []
    heredoc: str | None = None
    comments: list[str] = []

    def finish() -> None:
        nonlocal current
        text = "\n".join(current)
        commands.append(Command(doc, start, text, _expectation(comments)))
        current = []

    for offset, line in enumerate(lines):
        number = first_line + offset
        if heredoc is not None:
            current.append(line)
            if line.strip() == heredoc:
                heredoc = None
                finish()
            continue
        if not current:
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                # A comment line right after a command belongs to it (what it answers).
                if commands and commands[-1].expect is None:
                    expect = _expectation([line.strip()])
                    if expect is not None:
                        commands[-1].expect = expect
                continue
            start, comments = number, []
        current.append(line)
        code, comment = _scan(line, state)
        if comment:
            comments.append(comment)
        if state:
            continue  # inside a quote or $( ... ) that goes on
        heredocs = HEREDOC.findall(code)
        if heredocs:
            heredoc = heredocs[-1][1]
            continue
        if code.rstrip().endswith("\\") or code.rstrip().endswith(("&&", "||", "|")):
            continue
        if code.count("{") > code.count("}") and re.search(r"\(\)\s*\{", "\n".join(current)):
            continue  # a function definition over several lines
        finish()
    if current:
        finish()
    return commands


def _expectation(comments: Iterable[str]) -> int | None:
    for comment in comments:
        found = EXPECT.match(comment.strip())
        if found:
            return int(found.group(1))
    return None


def blocks(path: Path, root: Path) -> Iterator[Block]:
    """The example blocks of one README (blocks that run no curl are not examples)."""
    doc = str(path.relative_to(root))
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")), len(lines))
        if fence.group(2) in RUNNABLE:
            body = lines[i + 1:end]
            block = Block(doc, i + 1)
            for before in lines[max(0, i - 3):i]:
                marked = SKIP.fullmatch(before.strip())
                if marked:
                    block.skipped = (marked.group("reason") or "").strip() or "(no reason given)"
            block.commands = split_commands(body, i + 2, doc)
            if any(c.is_curl for c in block.commands):
                yield block
        i = end + 1


def readmes(root: Path) -> list[Path]:
    """The top README first, then the gateway's and each service's, in a fixed order."""
    found = [root / "README.md", root / "gateway" / "README.md", *sorted((root / "services").glob("*/README.md"))]
    return [p for p in found if p.exists()]


def script(all_blocks: Iterable[Block], log_dir: Path) -> str:
    """One bash script running every runnable command in order; after each one the exit status is
    appended to `log_dir`/exits as "<where> <status>", and EXAMPLE_AT tells the curl shim where it is."""
    out = ["set +e", f"__log={shlex.quote(str(log_dir))}"]
    for block in all_blocks:
        if block.skipped is not None:
            continue
        for command in block.commands:
            out.append(f"export EXAMPLE_AT={shlex.quote(command.where)}")
            out.append(command.text)
            out.append('printf "%s %s\\n" "$EXAMPLE_AT" "$?" >> "$__log/exits"')
    return "\n".join(out) + "\n"


# A curl that also writes the answer's headers to a file and logs "<where>\t<status>" per call.
CURL_SHIM = """#!/bin/bash
hdr=$(mktemp "$EXAMPLES_LOG/headers.XXXXXX")
{real} -D "$hdr" "$@"
rc=$?
status=$(grep -E '^HTTP/' "$hdr" | tail -n 1 | cut -d' ' -f2)
printf '%s\\t%s\\t%s\\n' "$EXAMPLE_AT" "${{status:-none}}" "$rc" >> "$EXAMPLES_LOG/curl"
exit $rc
"""
