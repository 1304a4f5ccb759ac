"""`models status --probe`: one minimal request per auth profile, as the gateway's probes.

The targets are chosen by the gateway's rules (`buildProbeTargets`): every profile of each
provider (or the environment's key when a provider has no profile), on the first configured
model of that provider; profiles an explicit order leaves out, or whose credentials are
unusable, are reported without a request. Each request goes through the one public entry
point, `Workspace.ask(prompt, profile=..., max_tokens=..., cache=False)`, so it fails over,
marks cooldowns and is recorded exactly like any other call.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.cooldown import classify_failure
from clawdbot_nb.state.model_refs import ModelRef, normalize_provider_id
from clawdbot_nb.state.redaction import redact_line
from clawdbot_nb.state.selection import profile_order
from clawdbot_nb.state.status import ProbeResult, ProbeSummary, StatusReport, display_label

#: The gateway's probe prompt.
PROBE_PROMPT = "Reply with OK. Do not use tools."
DEFAULT_TIMEOUT_MS = 8000
DEFAULT_CONCURRENCY = 2
DEFAULT_MAX_TOKENS = 8
_STATUSES = ("auth", "rate_limit", "billing", "timeout", "format")


@dataclass(frozen=True)
class ProbeOptions:
    provider: str | None = None
    profile_ids: tuple[str, ...] = ()
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    concurrency: int = DEFAULT_CONCURRENCY
    max_tokens: int = DEFAULT_MAX_TOKENS

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.provider is not None:
            data["provider"] = self.provider
        data.update(
            profileIds=list(self.profile_ids),
            timeoutMs=self.timeout_ms,
            concurrency=self.concurrency,
            maxTokens=self.max_tokens,
        )
        return data


@dataclass(frozen=True)
class ProbeTarget:
    provider: str
    model: ModelRef
    label: str
    source: str
    mode: str | None
    profile_id: str | None = None


def plan_probes(
    report: StatusReport, config: ClawdbotConfig, options: ProbeOptions
) -> tuple[list[ProbeTarget], list[ProbeResult]]:
    """Which requests to send, and the results known without one (pure)."""
    store = report.store
    wanted_provider = normalize_provider_id(options.provider) if options.provider else None
    wanted_profiles = {pid.strip() for pid in options.profile_ids if pid.strip()}
    targets: list[ProbeTarget] = []
    known: list[ProbeResult] = []
    for provider in report.health_providers:
        provider = normalize_provider_id(provider)
        if wanted_provider and provider != wanted_provider:
            continue
        model = next((ref for ref in report.model_candidates if ref.provider == provider), None)
        if model is None and provider == "anthropic":
            model = ModelRef("anthropic", report.resolved_default.partition("/")[2])
        shown_model = str(model) if model else None
        explicit = store.order(provider) or config.auth_order.get(provider)
        allowed = set(profile_order(store, config, provider, report.now_ms).ordered) if explicit else None
        profile_ids = store.profile_ids(provider)
        if wanted_profiles:
            profile_ids = [pid for pid in profile_ids if pid in wanted_profiles]
        if profile_ids:
            for pid in profile_ids:
                credential = store.profiles[pid]
                label = display_label(pid, credential, config)
                base = {"provider": provider, "label": label, "source": "profile", "profile_id": pid}
                if explicit and pid not in explicit:
                    error = "Excluded by auth.order for this provider."
                    known.append(
                        ProbeResult(
                            **base, model=shown_model, mode=credential.type, status="unknown", error=error
                        )
                    )
                elif allowed is not None and pid not in allowed:
                    error = "Auth profile credentials are missing or expired."
                    known.append(
                        ProbeResult(
                            **base, model=shown_model, mode=credential.type, status="unknown", error=error
                        )
                    )
                elif model is None:
                    error = "No model available for probe"
                    known.append(ProbeResult(**base, mode=credential.type, status="no_model", error=error))
                else:
                    targets.append(ProbeTarget(provider, model, label, "profile", credential.type, pid))
            continue
        if wanted_profiles:
            continue
        env = report.env_credential_of(provider)
        if env is None:
            continue
        mode = "oauth" if env.mode == "oauth" else "api_key"
        if model is None:
            known.append(
                ProbeResult(
                    provider, "env", "env", "no_model", mode=mode, error="No model available for probe"
                )
            )
        else:
            targets.append(ProbeTarget(provider, model, "env", "env", mode))
    return targets, known


def failure_status(error: BaseException) -> str:
    """A failed probe's status: the error's `.reason`, else its `.status` and text classified."""
    reason = getattr(error, "reason", None)
    if reason is None:
        reason = classify_failure(getattr(error, "status", None), str(error))
    return reason if reason in _STATUSES else "unknown"


AskFunction = Callable[[ProbeTarget, ProbeOptions], Any]


def _ask_with_a_workspace(agent: AgentState) -> AskFunction:
    def ask(target: ProbeTarget, options: ProbeOptions) -> Any:
        from clawdbot_nb.api.workspace import Workspace

        workspace = Workspace(agent, timeout=options.timeout_ms / 1000, max_retries=0)
        try:
            return workspace.ask(
                PROBE_PROMPT,
                model=target.model.model,
                profile=target.profile_id,
                max_tokens=options.max_tokens,
                cache=False,
            )
        finally:
            close = getattr(workspace, "close", None)
            if close is not None:
                close()

    return ask


def _probe_one(target: ProbeTarget, options: ProbeOptions, ask: AskFunction) -> ProbeResult:
    base = {
        "provider": target.provider,
        "model": str(target.model),
        "profile_id": target.profile_id,
        "label": target.label,
        "source": target.source,
        "mode": target.mode,
    }
    if target.provider != "anthropic":
        error = "clawdbot-nb sends requests to Anthropic only; probe this provider with the gateway."
        return ProbeResult(**base, status="unknown", error=error)
    started = time.monotonic()
    try:
        ask(target, options)
    except Exception as error:  # every failure becomes a probe result, as in the gateway
        latency = round((time.monotonic() - started) * 1000)
        return ProbeResult(
            **base, status=failure_status(error), error=redact_line(str(error)), latency_ms=latency
        )
    return ProbeResult(**base, status="ok", latency_ms=round((time.monotonic() - started) * 1000))


def run_probes(
    agent: AgentState,
    report: StatusReport,
    options: ProbeOptions | None = None,
    *,
    config: ClawdbotConfig | None = None,
    ask: AskFunction | None = None,
) -> ProbeSummary:
    """Probe the report's profiles and return `auth.probes` (also set on the report)."""
    options = options or ProbeOptions()
    config = config or agent.config()
    ask = ask or _ask_with_a_workspace(agent)
    started = int(time.time() * 1000)
    targets, known = plan_probes(report, config, options)
    workers = max(1, min(len(targets) or 1, options.concurrency))
    context = contextvars.copy_context()  # errors keep speaking the words of the surface in use

    def probe(target: ProbeTarget) -> ProbeResult:
        return context.copy().run(_probe_one, target, options, ask)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clawdbot-probe") as pool:
        results: Sequence[ProbeResult] = list(pool.map(probe, targets))
    summary = ProbeSummary(
        started_at=started,
        finished_at=int(time.time() * 1000),
        total_targets=len(targets),
        options=options.to_json(),
        results=[*known, *results],
    )
    report.probes = summary
    return summary
