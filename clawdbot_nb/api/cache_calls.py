"""The cache watch as the call drivers see it: `CallWatcher` turns each attempt of a call into
`CacheWatch.begin` (sending), `began` (its response headers arrived) and `finish` (its usage),
with the call's scope — model, credential kind, and the organisation and workspace its
responses name — its prices and the model's minimum. It also answers `ttl="auto"` for a plan.

The watch is a bystander: anything failing in it is reported once as a warning and the watch
stops, but the call itself goes on and returns its reply.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from clawdbot_nb import catalog
from clawdbot_nb.api.cache_watch import (
    CacheWatch,
    CallReport,
    CallTicket,
    Scope,
    is_shared,
    release_watch,
)
from clawdbot_nb.api.clients import uses_oauth_wire
from clawdbot_nb.api.planner import CachePlan
from clawdbot_nb.api.pricing import prices_for, usage_counts
from clawdbot_nb.api.ttl_policy import PriceRatios, TtlChoice
from clawdbot_nb.state.selection import AuthCandidate

ORGANIZATION_HEADER = "anthropic-organization-id"
WORKSPACE_HEADER = "anthropic-workspace-id"


class CacheWatchWarning(UserWarning):
    """The cache watch stopped following calls (the calls themselves are fine)."""


class CallWatcher:
    """One workspace's link between its calls and its `CacheWatch`."""

    def __init__(
        self, watch: Callable[[], CacheWatch], overrides: Callable[[], Mapping[str, Any] | None]
    ) -> None:
        self._watch_factory = watch
        self._overrides = overrides
        self._watch: CacheWatch | None = None
        self._broken = False
        self._lock = threading.Lock()
        #: Per credential, the organisation and workspace its responses named last.
        self._places: dict[str, tuple[str | None, str | None]] = {}
        self._facts: dict[str, tuple[Any, Any, int | None]] = {}
        self._current: Mapping[str, Any] | None = None
        self._overrides_at = float("-inf")

    @property
    def watch(self) -> CacheWatch | None:
        if self._watch is None and not self._broken:
            with self._lock:
                if self._watch is None:
                    try:
                        self._watch = self._watch_factory()
                    except Exception as error:
                        self._stop(error)
        return self._watch

    def _stop(self, error: Exception) -> None:
        if not self._broken:
            self._broken = True
            warnings.warn(
                f"clawdbot_nb: the cache watch stopped ({type(error).__name__}: {error}); replies no "
                "longer say why a call missed. Fix: report it; restarting the kernel resumes the watch.",
                CacheWatchWarning,
                stacklevel=4,
            )
        self._watch = None

    def scope(self, candidate: AuthCandidate, model: str) -> Scope:
        organization, workspace = self._places.get(candidate.label, (None, None))
        return Scope(model, candidate.credential.type, organization, workspace)

    # -- the drivers' hooks --------------------------------------------------------------------

    def sending(self, send: Any) -> CallTicket | None:
        plan: CachePlan = send.plan
        watch = self.watch
        if watch is None or not plan.breakpoints:
            return None
        try:
            ticket = watch.begin(plan.params, self.scope(send.candidate, str(plan.params.get("model"))))
        except Exception as error:
            self._stop(error)
            return None
        ticket.context = (send.candidate.label, plan)
        return ticket

    def responded(self, ticket: CallTicket, headers: Any) -> None:
        watch = self.watch
        if watch is None:
            return
        try:
            organization, workspace = headers.get(ORGANIZATION_HEADER), headers.get(WORKSPACE_HEADER)
            scope = ticket.scope
            if (organization or workspace) and (scope.organization, scope.workspace) != (
                organization,
                workspace,
            ):
                self._places[ticket.context[0]] = (organization, workspace)
                ticket.scope = dataclasses.replace(scope, organization=organization, workspace=workspace)
            watch.began(ticket)
        except Exception as error:
            self._stop(error)

    def answered(self, ticket: CallTicket, message: Any, request_id: str | None) -> CallReport | None:
        watch = self.watch
        if watch is None:
            return None
        try:
            model = ticket.scope.model
            prices, minimum = self._model_facts(model)
            plan: CachePlan = ticket.context[1]
            return watch.finish(
                ticket,
                usage_counts(message.usage),
                prices=prices,
                minimum=minimum,
                # What was paid comes from the ledger (by request id) when the what-if runs.
                record={
                    "request_id": request_id or getattr(message, "_request_id", None),
                    "ttl_requested": plan.ttl_requested,
                    "ttl_applied": plan.ttl_applied,
                },
            )
        except Exception as error:
            self._stop(error)
            return None

    def _model_facts(self, model: str) -> tuple[Any, int | None]:
        """(prices, minimum cacheable tokens) of `model`, recomputed when the overrides change."""
        # The config is looked at again at most once a second (prices change rarely, and the look
        # is a stat of the file).
        now = time.monotonic()
        if now - self._overrides_at > 1.0:
            self._current, self._overrides_at = self._overrides(), now
        overrides = self._current
        memo = self._facts.get(model)
        if memo is None or memo[0] is not overrides:
            info = catalog.lookup(model)
            memo = (overrides, prices_for(model, overrides), info.min_cacheable_tokens if info else None)
            self._facts[model] = memo
        return memo[1], memo[2]

    def failed(self, ticket: CallTicket) -> None:
        watch = self.watch
        if watch is not None:
            watch.fail(ticket)

    # -- ttl="auto" ----------------------------------------------------------------------------

    def advise(self, plan: CachePlan, candidate: AuthCandidate) -> TtlChoice | None:
        """`ttl="auto"` for a plan made with any TTL; None when the watch is not running."""
        watch = self.watch
        if watch is None:
            return None
        model = str(plan.params.get("model"))
        try:
            return watch.advise_ttl(
                plan.params,
                self.scope(candidate, model),
                ratios=PriceRatios.for_model(model, self._overrides()),
                oauth=uses_oauth_wire(candidate.credential),
            )
        except Exception as error:
            self._stop(error)
            return None

    def close(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            if is_shared(watch):
                release_watch(watch)
            else:
                watch.close()
