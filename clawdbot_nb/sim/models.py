"""The models the simulator serves (from `catalog.py`), their overridable minimums, `/v1/models`.

A retired or unknown id gets the real 404 `not_found_error` with message `model: <id>`.
Minimum cacheable lengths are per simulator instance: the Sonnet 4.6 minimum is disputed
(1,024 documented, 2,048 observed; reference §3.4), so tests can pin either.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from clawdbot_nb import catalog
from clawdbot_nb.sim.api_errors import ApiError

__all__ = ["ModelRegistry"]

#: Release dates from the reference (§7); other models show the epoch, as the API allows.
_RELEASED: dict[str, str] = {
    "claude-opus-4-6": "2026-02-05",
    "claude-sonnet-4-6": "2026-02-17",
    "claude-mythos-preview": "2026-04-07",
    "claude-opus-4-7": "2026-04-16",
    "claude-opus-4-8": "2026-05-28",
    "claude-fable-5": "2026-06-09",
    "claude-mythos-5": "2026-06-09",
    "claude-sonnet-5": "2026-06-30",
    "claude-opus-5": "2026-07-24",
    "claude-fable-5-1": "2026-09-01",
    "claude-mythos-5-1": "2026-09-01",
    "claude-opus-5-5": "2026-09-22",
    "claude-sonnet-5-5": "2026-09-28",
    "claude-haiku-5-5": "2026-10-07",
    "claude-fable-5-2": "2026-11-09",
    "claude-mythos-5-2": "2026-11-09",
    "claude-haiku-4-5": "2025-10-01",
    "claude-opus-4-5": "2025-11-01",
    "claude-sonnet-4-5": "2025-09-29",
    "claude-opus-4-1": "2025-08-05",
    "claude-opus-4-0": "2025-05-14",
    "claude-sonnet-4-0": "2025-05-14",
    "claude-3-5-haiku-latest": "2024-10-22",
}

_LIFECYCLE = {"active": "active", "legacy": "active", "deprecated": "deprecated", "retired": "retired"}


def _rfc3339(day: str | None) -> str | None:
    return f"{day}T00:00:00Z" if day else None


class ModelRegistry:
    """Which model ids answer, and with which minimum cacheable prompt."""

    def __init__(self, min_cacheable: dict[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._min_override: dict[str, int] = {}
        for model, minimum in (min_cacheable or {}).items():
            self.set_min_cacheable(model, minimum)

    def resolve(self, model: str) -> catalog.ModelInfo:
        """The served model behind an id or dated alias, or the real 404."""
        info = catalog.lookup(model) if "/" not in model else None
        if info is None or info.retired:
            raise ApiError(404, f"model: {model}")
        return info

    def set_min_cacheable(self, model: str, minimum: int) -> None:
        info = catalog.lookup(model)
        if info is None:
            raise KeyError(f"unknown model {model!r}")
        if minimum < 0:
            raise ValueError("a minimum cacheable length cannot be negative")
        with self._lock:
            self._min_override[info.id] = int(minimum)

    def min_cacheable(self, model: str) -> int:
        info = catalog.lookup(model)
        if info is None:
            raise KeyError(f"unknown model {model!r}")
        with self._lock:
            return self._min_override.get(info.id, info.min_cacheable_tokens)

    # -- /v1/models ---------------------------------------------------------------------------

    @staticmethod
    def model_object(info: catalog.ModelInfo, requested_id: str | None = None) -> dict:
        lifecycle = _LIFECYCLE.get(info.status, "active")
        deprecated_at = None
        if lifecycle in ("deprecated", "retired"):
            deprecated_at = _rfc3339(_RELEASED.get(info.id)) or "1970-01-01T00:00:00Z"
        return {
            "type": "model",
            "id": requested_id or info.id,
            "display_name": info.display_name,
            "created_at": _rfc3339(_RELEASED.get(info.id)) or "1970-01-01T00:00:00Z",
            "lifecycle": lifecycle,
            "deprecated_at": deprecated_at,
            "retires_at": _rfc3339(info.retires_on),
            "max_tokens": info.max_output_tokens,
            "max_input_tokens": None,
        }

    def list_page(
        self, *, limit: int = 20, after_id: str | None = None, before_id: str | None = None
    ) -> dict:
        """One page of `GET /v1/models`, newest release first, retired models last."""

        def order(info: catalog.ModelInfo) -> tuple:
            released = _RELEASED.get(info.id, "1970-01-01")
            return (info.retired, -datetime.fromisoformat(released).replace(tzinfo=UTC).timestamp())

        infos = sorted(catalog.MODELS, key=order)
        ids = [info.id for info in infos]
        start, stop = 0, len(infos)
        if after_id is not None:
            if after_id not in ids:
                raise ApiError(400, f"after_id: unknown model {after_id}")
            start = ids.index(after_id) + 1
        if before_id is not None:
            if before_id not in ids:
                raise ApiError(400, f"before_id: unknown model {before_id}")
            stop = ids.index(before_id)
            start = max(start, stop - limit)
        page = infos[start : min(stop, start + limit)]
        data = [self.model_object(info) for info in page]
        return {
            "data": data,
            "has_more": (start + len(page) < stop) if before_id is None else start > 0,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def retrieve(self, model_id: str) -> dict:
        info = catalog.lookup(model_id) if "/" not in model_id else None
        if info is None:
            raise ApiError(404, f"model: {model_id}")
        return self.model_object(info, requested_id=model_id)
