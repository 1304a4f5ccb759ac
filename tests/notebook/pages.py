"""Reading what a page shows: an HTML table as a person reads it, cell by cell."""

from __future__ import annotations

import html
import re


def html_table_rows(page: str) -> dict[str, list[str]]:
    """Every HTML table row in `page` as {first cell: all its cells}, tags gone, entities decoded."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        ]
        if cells:
            rows[cells[0]] = cells
    return rows
