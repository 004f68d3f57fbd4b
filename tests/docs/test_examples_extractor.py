"""How README examples are cut into commands and what status each one promises (fast, no suite)."""
from __future__ import annotations

from pathlib import Path

from tests.docs import examples


def _blocks(tmp_path: Path, text: str) -> list[examples.Block]:
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    return list(examples.blocks(tmp_path / "README.md", tmp_path))


def test_multi_line_quotes_continuations_and_here_documents_stay_one_command(tmp_path: Path) -> None:
    [block] = _blocks(tmp_path, """intro
```bash
ID=$(curl -s -X POST $API/contacts -H 'A: b' \\
  -d '{"name":"张伟",
       "tags":["高意向"]}' | jget id)
#   → 201 with Location
cat > reply.eml <<EOF
Subject: Re: [$NUMBER] # not a comment
