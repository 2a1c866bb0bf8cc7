"""The one escaping policy of the markdown renderer (pull-request comments, drift issues).

Every user-provided string (names, paths, values) is shown as code: a markdown code span with a
fence longer than any backtick inside (``|`` escaped in tables), or ``<code>`` with HTML escaping
inside an HTML block such as ``<summary>``, where markdown is not parsed. Tool prose that quotes
user text (block reasons) is backslash-escaped. So a spec named ``<script>`` or holding ``|`` or
backticks cannot inject HTML, mention anyone or break a table.
"""

from __future__ import annotations

import html
import re

from reconciler.render.values import clean

#: Characters that can start markup, and the ``:`` of ``://`` and ``.`` of ``www.`` (autolinks).
_MARKDOWN_SPECIALS = re.compile(r"[\\`*\[\]<>&|~$@#!_]|:(?=//)|(?<=[wW]{3})\.")


def code(text: str, *, in_table: bool = False) -> str:
    """User text as an inline code span: shown literally, no HTML, links or mentions.

    The fence is longer than any backtick run inside; in a table cell ``|`` is escaped, which
    GitHub's table parser requires even inside code.
    """
    content = clean(text)
    if in_table:
        content = content.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", content)), default=0) + 1)
    if not content or content[0] in "` " or content[-1] in "` ":
        content = f" {content} "
    return f"{fence}{content}{fence}"


def html_code(text: str) -> str:
    """User text inside an HTML block (``<summary>``), where markdown is not parsed."""
    return f"<code>{html_text(text)}</code>"


def html_text(text: str) -> str:
    """Text (ours, quoting users') inside an HTML block: escaped, never markup."""
    return html.escape(clean(text), quote=False)


def md(text: str) -> str:
    """Plain markdown text with every character that could start markup backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(lambda m: "\\" + m.group(0), clean(text))


def prose(text: str) -> str:
    """Tool-written text whose backtick spans are code; every part is escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return md(text)
    return "".join(code(part) if i % 2 else md(part) for i, part in enumerate(parts))
