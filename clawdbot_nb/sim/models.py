"""The models the simulator serves (its own `model_facts`), their overridable minimums, `/v1/models`.

A retired or unknown id gets the real 404 `not_found_error` with message `model: <id>`.
Minimum cacheable lengths are per simulator instance: the Sonnet 4.6 minimum is disputed
(1,024 documented, 2,048 observed; reference §3.4), so tests can pin either.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.api_errors import ApiError
from clawdbot_nb.sim.model_facts import ModelFacts

__all__ = ["ModelRegistry"]

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

    def resolve(self, model: str) -> ModelFacts:
        """The served model behind an id or dated alias, or the real 404."""
        info = model_facts.lookup(model) if "/" not in model else None
        if info is None or info.retired:
            raise ApiError(404, f"model: {model}")
        return info

    def set_min_cacheable(self, model: str, minimum: int) -> None:
        info = model_facts.lookup(model)
        if info is None:
            raise KeyError(f"unknown model {model!r}")
        if minimum < 0:
            raise ValueError("a minimum cacheable length cannot be negative")
        with self._lock:
            self._min_override[info.id] = int(minimum)

    def min_cacheable(self, model: str) -> int:
        info = model_facts.lookup(model)
        if info is None:
            raise KeyError(f"unknown model {model!r}")
        with self._lock:
            return self._min_override.get(info.id, info.min_cacheable)

    # -- /v1/models ---------------------------------------------------------------------------

    @staticmethod
    def model_object(info: ModelFacts, requested_id: str | None = None) -> dict:
        lifecycle = _LIFECYCLE.get(info.status, "active")
        # The docs give deprecation dates only in prose; the release date stands in for them.
        deprecated_at = _rfc3339(info.released) if lifecycle in ("deprecated", "retired") else None
        return {
            "type": "model",
            "id": requested_id or info.id,
            "display_name": info.display_name,
            "created_at": _rfc3339(info.released),
            "lifecycle": lifecycle,
            "deprecated_at": deprecated_at,
            "retires_at": _rfc3339(info.retires_on),
            "line": info.line,
            "max_tokens": info.max_output,
            "max_input_tokens": info.max_input,
            "capabilities": info.capabilities(),
        }

    def list_page(
        self, *, limit: int = 20, after_id: str | None = None, before_id: str | None = None
    ) -> dict:
        """One page of `GET /v1/models`, newest release first, retired models last."""

        def order(info: ModelFacts) -> tuple:
            return (info.retired, -datetime.fromisoformat(info.released).replace(tzinfo=UTC).timestamp())

        infos = sorted(model_facts.MODELS, key=order)
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
        info = model_facts.lookup(model_id) if "/" not in model_id else None
        if info is None:
            raise ApiError(404, f"model: {model_id}")
        return self.model_object(info, requested_id=model_id)
