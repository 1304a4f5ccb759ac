"""Text that shows as typed wherever people read it: dollar amounts and savings in words, and
escapes for the Markdown and HTML that JupyterLab renders (it reads `$…$` as LaTeX, even in HTML
outputs, and any tag in a reply as HTML).

Pure functions, no imports beyond the standard library; used by `Reply`, the notebook's displays
and tables, and the CLI.
"""

from __future__ import annotations

import math
import re

#: Amounts smaller than this show as $0.0000, never as -0.0000.
_HALF_CENT_OF_A_CENT = 0.00005

# Code spans and fenced code blocks: JupyterLab neither typesets nor parses HTML inside them, so
# they keep their text as is (an escape there would show as a backslash).
_CODE = re.compile(
    r"(?P<fence>^(?P<marks>`{3,}|~{3,})[^\n]*\n.*?(?:^(?P=marks)[ \t]*$|\Z))"
    r"|(?P<span>(?P<ticks>`+).+?(?P=ticks))",
    re.S | re.M,
)


def money(value: float) -> str:
    """`$0.0575`, `$12.40`; `n/a` for an unknown (NaN) amount; never a minus zero."""
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) < _HALF_CENT_OF_A_CENT:
        value = 0.0
    sign = "-" if value < 0 else ""
    amount = abs(value)
    return f"{sign}${amount:.4f}" if amount < 1 else f"{sign}${amount:,.2f}"


def savings(value: float) -> str:
    """What caching saved, in words: `saved $0.0286`, or `extra $0.0189` when the cache write cost
    more than it saved (no minus sign to misread), `saved n/a` when unknown."""
    if value is None or math.isnan(value):
        return "saved n/a"
    if value <= -_HALF_CENT_OF_A_CENT:
        return f"extra {money(-value)}"
    return f"saved {money(value)}"


def percent(value: float) -> str:
    """`100%`, `97%`; blank for an unknown ratio (no call, no input)."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.0%}"


def _escape_prose(text: str) -> str:
    # `\\$` reaches MathJax as `\$` (Markdown turns `\\` into `\`), which it shows as a plain `$`;
    # a single `\$` becomes `$` in Markdown and is typeset again.
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return text.replace("$", "\\\\$")


def markdown_text(text: str) -> str:
    """`text` for a `text/markdown` output in JupyterLab: Markdown formatting stays, but `$` shows
    as a dollar (not LaTeX) and `<tag>` as text (not HTML). Code spans and blocks are left alone."""
    parts: list[str] = []
    position = 0
    for match in _CODE.finditer(text):
        parts.append(_escape_prose(text[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_escape_prose(text[position:]))
    return "".join(parts)


def html_text(text: str) -> str:
    """`text` for inside an HTML output: tags escaped, and each `$` in its own element, which
    JupyterLab's MathJax never pairs into a formula (and other front-ends show as a plain `$`)."""
    import html  # here, not at the top: `%load_ext` imports this module and should stay cheap

    return html.escape(text, quote=False).replace("$", "<span>$</span>")


def wrap_parts(text: str, width: int, separator: str = " · ", indent: str = "  ") -> str:
    """A `a · b · c` line wrapped between its parts to fit `width` (a terminal's), never inside one."""
    parts = text.split(separator)
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if current and len(candidate) > width:
            lines.append(current + separator.rstrip())
            current = indent + part
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)
