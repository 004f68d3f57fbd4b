"""How README examples are cut into commands and what status each one promises (fast, no suite)."""
from __future__ import annotations

from pathlib import Path

from tests.docs import examples

FENCE = "`" * 3


def _blocks(tmp_path: Path, text: str) -> list[examples.Block]:
    (tmp_path / "README.md").write_text(text.replace("~~~", FENCE), encoding="utf-8")
    return list(examples.blocks(tmp_path / "README.md", tmp_path))


MIXED = """intro
~~~bash
ID=$(curl -s -X POST $API/contacts -H 'A: b' \\
  -d '{"name":"张伟",
       "tags":["高意向"]}' | jget id)
#   → 201 with Location
cat > reply.eml <<END
Subject: Re: [$NUMBER] # not a comment
END
curl -s $API/x   # → 400 naming "budget"
curl -s $API/y   # a stale If-Match → 409
jget() { python3 -c 'import json
print(1)' "$@"; }
~~~
"""


def test_multi_line_quotes_continuations_and_here_documents_stay_one_command(tmp_path: Path) -> None:
    [block] = _blocks(tmp_path, MIXED)
    firsts = [c.text.splitlines()[0] for c in block.commands]
    assert firsts == ["ID=$(curl -s -X POST $API/contacts -H 'A: b' \\", "cat > reply.eml <<END",
                      'curl -s $API/x   # → 400 naming "budget"', "curl -s $API/y   # a stale If-Match → 409",
                      "jget() { python3 -c 'import json"]
    assert [c.expect for c in block.commands] == [201, None, 400, None, None]
    assert [c.line for c in block.commands] == [3, 7, 10, 11, 12]
    assert [c.is_curl for c in block.commands] == [True, False, True, True, False]
    assert block.commands[1].text.endswith("END") and block.commands[1].text.count("\n") == 2


SKIPPED = """
~~~bash
make run
~~~
<!-- example: not runnable: needs a real SMTP relay -->
~~~bash
curl -s smtp://relay.example
~~~
~~~json
{"curl ": 1}
~~~
"""


def test_a_block_marked_not_runnable_keeps_its_reason_and_blocks_without_curl_are_not_examples(
        tmp_path: Path) -> None:
    found = _blocks(tmp_path, SKIPPED)
    assert [(b.line, b.skipped) for b in found] == [(6, "needs a real SMTP relay")]
    assert "relay.example" not in examples.script(found, tmp_path)


def test_the_script_logs_each_commands_exit_status_where_it_stands(tmp_path: Path) -> None:
    blocks = _blocks(tmp_path, "~~~bash\nA=1\ncurl -s $API/a\n~~~\n")
    script = examples.script(blocks, tmp_path / "log")
    assert script.index("export EXAMPLE_AT=README.md:2") < script.index("A=1") < \
        script.index("export EXAMPLE_AT=README.md:3") < script.index("curl -s $API/a")
    assert script.count('>> "$__log/exits"') == 2


def test_a_status_is_accepted_only_as_promised() -> None:
    plain = examples.Command("README.md", 1, "curl x", None)
    refused = examples.Command("README.md", 2, "curl y", 400)
    assert plain.accepts(201) and plain.accepts(204) and not plain.accepts(302) and not plain.accepts(400)
    assert refused.accepts(400) and not refused.accepts(200) and not refused.accepts(409)


def test_prose_that_quotes_the_marker_marks_nothing(tmp_path: Path) -> None:
    [block] = _blocks(tmp_path, "say why in `<!-- example: not runnable: <reason> -->` right before it.\n"
                                "~~~bash\ncurl -s $API/a\n~~~\n")
    assert block.skipped is None


def test_a_block_after_a_json_block_is_still_an_example(tmp_path: Path) -> None:
    # A closing fence after ```json was once read as an opening one, silently skipping the next example.
    text = "~~~json\n{\"a\": 1}\n~~~\n\n~~~bash\ncurl -s $API/first\n~~~\n\n~~~bash\ncurl -s $API/second\n~~~\n"
    found = [c.text for b in _blocks(tmp_path, text) for c in b.commands]
    assert found == ["curl -s $API/first", "curl -s $API/second"]
