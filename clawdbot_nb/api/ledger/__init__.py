"""The usage ledger: one SQLite row per API call (tokens per cache kind, cost, timings, who and
where), shared safely by several kernels, with DataFrame views, summaries and exports.

    rows.py    the row model (`LedgerRow`, `build_row`)
    schema.py  the file's schema, migrations, and which files are refused
    store.py   `Ledger`: appends and queries
    frames.py  DataFrame, JSON and CSV views
"""

from clawdbot_nb.api.ledger.frames import EXPORT_COLUMNS, FRAME_COLUMNS, rows_to_csv, rows_to_json
from clawdbot_nb.api.ledger.rows import LedgerRow, build_row, current_session
from clawdbot_nb.api.ledger.schema import SCHEMA_VERSION, LedgerUnavailable, ledger_path
from clawdbot_nb.api.ledger.store import GROUP_COLUMNS, Ledger, LedgerTotals

__all__ = [
    "EXPORT_COLUMNS",
    "FRAME_COLUMNS",
    "GROUP_COLUMNS",
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerRow",
    "LedgerTotals",
    "LedgerUnavailable",
    "build_row",
    "current_session",
    "ledger_path",
    "rows_to_csv",
    "rows_to_json",
]
