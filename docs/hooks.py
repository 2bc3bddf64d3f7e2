"""MkDocs hook: the magics reference is generated from the same table as ``%segment help``.

``docs/magics.md`` holds the command table between two markers, written by ``python docs/hooks.py``
(tests/test_docs.py checks it is current); at build time the hook writes the table again and adds every
command's options as argparse prints them for ``-h``, so the site cannot disagree with the magics.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- BEGIN generated from magics.HELP -->", "<!-- END generated -->"
MAGICS_PAGE = Path(__file__).with_name("magics.md")


def command_table() -> str:
    """The table of ``%segment help``, as Markdown."""
    from jupyter_segments.magics import HELP

    def cell(text: str) -> str:
        return "`" + text.replace("|", "\\|") + "`"

    rows = ["| command | what it does | example |", "|---|---|---|"]
    for r in HELP:
        command = r.command if r.command.startswith("%%") else "%segment " + r.command
        rows.append(f"| {cell(command)} | {r.description.replace('|', '/')} | {cell(r.example)} |")
    return "\n".join(rows) + "\n"


def options_sections() -> str:
    """Every command's ``-h`` text, in the order of ``%segment help``."""
    from jupyter_segments.magics import SegmentMagic

    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal width
    magic = SegmentMagic(None)
    parts = ["## Options of every command\n"]
    parts.append("### `%%segment`\n\n```text\n" + magic._cell_parser.format_help().strip() + "\n```\n")
    for name, (_, parser) in magic._commands.items():
        parts.append(f"### `%segment {name}`\n\n```text\n{parser.format_help().strip()}\n```\n")
    return "\n".join(parts)


def replace_generated(markdown: str, generated: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(markdown):
        raise ValueError(f"magics.md lacks the markers {BEGIN} ... {END}")
    return pattern.sub(lambda _: f"{BEGIN}\n{generated}{END}", markdown)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != "magics.md":
        return markdown
    return replace_generated(markdown, command_table() + "\n" + options_sections())


if __name__ == "__main__":  # rewrite the table in docs/magics.md
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    MAGICS_PAGE.write_text(replace_generated(MAGICS_PAGE.read_text(), command_table()))
