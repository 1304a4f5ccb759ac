"""Trying a call on each candidate profile in turn, as the gateway's runtime loop does.

A failure is classified (429/529 rate_limit, 402 billing, 401/403 auth, timeouts, ...);
a classified failure cools the profile down and the next one is tried; an unclassified one
(a bad request, an unknown model) is the request's fault and ends the call at once. When every
profile failed, the error says what each one did and how to fix the last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clawdbot_nb.api.client import ConnectionFailed
from clawdbot_nb.api.reply import Attempt
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state.cooldown import classify_failure
from clawdbot_nb.state.selection import AuthCandidate
from clawdbot_nb.state.troubleshooting import token_invalid


class ApiError(ClawdbotError):
    """An error answer from the Anthropic API, as one line with what to do."""

    def __init__(
        self, message: str, *, fix: str | None, status: int | None = None, request_id: str | None = None
    ):
        super().__init__(message, fix=fix)
        self.status = status
        self.request_id = request_id


@dataclass(frozen=True)
class Failure:
    reason: str | None
    status: int | None
    message: str
    request_id: str | None = None
    error_type: str | None = None


def describe_exception(error: BaseException) -> Failure:
    """Status, API error type and a one-line message for anything a call can raise."""
    import anthropic

    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error") if isinstance(body.get("error"), dict) else {}
        error_type = detail.get("type") or getattr(error, "type", None)
        message = detail.get("message") or error.message
        text = f"{error.status_code} {error_type or 'error'}: {message}"
        return Failure(
            classify_failure(error.status_code, text), error.status_code, text, error.request_id, error_type
        )
    if isinstance(error, ConnectionFailed):
        reason = classify_failure(None, error.message, timed_out=error.timed_out)
        return Failure(reason, None, error.message)
    if isinstance(error, anthropic.APITimeoutError):
        return Failure("timeout", None, "Request timed out")
    if isinstance(error, anthropic.APIConnectionError):
        message = f"Connection error: {error.__cause__ or error}"
        return Failure(classify_failure(None, message), None, message)
    if isinstance(error, ClawdbotError):  # e.g. an OAuth refresh that failed
        return Failure(classify_failure(None, error.message), None, error.message)
    return Failure(None, None, f"{type(error).__name__}: {error}")


def _fix_for(failure: Failure, candidate: AuthCandidate | None) -> str:
    if failure.status == 404 and failure.error_type == "not_found_error":
        return "use a model id the API knows, e.g. claude-sonnet-5-5 (clawdbot_nb.catalog.served_model_ids())"
    if failure.status == 413:
        return "send less: the request body is over the API's 32 MB limit"
    if failure.status == 400:
        return "correct the request as the message says"
    if failure.reason == "rate_limit":
        return "wait for the rate limit to reset, or add another Anthropic profile so calls can fail over"
    if failure.reason == "billing":
        return "check the plan and credit balance in the Anthropic Console, or use another profile"
    if failure.reason == "timeout":
        return "try again; for long answers use streaming"
    if failure.reason == "auth":
        return "check the credential with `clawdbot-nb models status`; re-onboard or paste a new setup-token"
    return "try again; if it persists, run with --debug and report the request id"


def api_error(failure: Failure, candidate: AuthCandidate | None = None) -> ClawdbotError:
    """One clear error for a failure that ends the call."""
    request = f" (request {failure.request_id})" if failure.request_id else ""
    if (
        failure.status == 404
        and failure.error_type == "not_found_error"
        and failure.message.startswith("404")
    ):
        message = f"Unknown model — the API answered {failure.message}{request}"
    else:
        message = f"Anthropic API error {failure.message}{request}"
    return ApiError(
        message, fix=_fix_for(failure, candidate), status=failure.status, request_id=failure.request_id
    )


class Failover:
    """Iterate over candidates; report failures with `failed()`; `exhausted()` when none is left.

    `more` says whether another candidate follows the current one: then the call should fail
    fast (see `client.fail_fast_variant`); the last candidate gets the SDK's normal retries.
    """

    def __init__(self, candidates: list[AuthCandidate], mark_failure: Callable[[AuthCandidate, str], None]):
        self.candidates = candidates
        self.mark_failure = mark_failure
        self.attempts: list[Attempt] = []
        self.last: tuple[Failure, AuthCandidate] | None = None
        self.more = False

    def __iter__(self) -> Iterator[AuthCandidate]:
        for index, candidate in enumerate(self.candidates):
            self.more = index < len(self.candidates) - 1
            yield candidate

    @property
    def tried(self) -> list[str]:
        return [attempt.profile for attempt in self.attempts]

    def failed(self, candidate: AuthCandidate, error: BaseException) -> Failure:
        """Record a failure; raise at once when it is not one that another profile could fix."""
        failure = describe_exception(error)
        self.attempts.append(Attempt(candidate.label, failure.reason, failure.status, failure.message))
        if failure.reason is None or failure.reason == "format":
            raise api_error(failure, candidate) from error
        if candidate.profile_id is not None:
            self.mark_failure(candidate, failure.reason)
        self.last = (failure, candidate)
        return failure

    def interrupted(self, candidate: AuthCandidate, error: BaseException) -> ClawdbotError:
        """A stream that failed after text was shown: too late to switch profiles silently."""
        failure = describe_exception(error)
        self.attempts.append(Attempt(candidate.label, failure.reason, failure.status, failure.message))
        if failure.reason is not None and candidate.profile_id is not None:
            self.mark_failure(candidate, failure.reason)
        return ApiError(
            f"The reply stream from {candidate.label} broke off: {failure.message}",
            fix="run the call again (the partial reply above is incomplete)",
            status=failure.status,
            request_id=failure.request_id,
        )

    def exhausted(self) -> ClawdbotError:
        """The error when every candidate failed: each profile's outcome and the fix for the last."""
        assert self.last is not None
        failure, candidate = self.last
        summary = "; ".join(str(a) for a in self.attempts)
        if failure.status == 401 and candidate.credential.type in ("token", "oauth"):
            error = token_invalid(candidate.label, failure.message)
            if len(self.attempts) > 1:
                error.message += f" (every profile failed: {summary})"
            return error
        count = len(self.attempts)
        message = (
            f"All {count} profiles failed: {summary}"
            if count > 1
            else f"{candidate.label} failed: {failure.message}"
        )
        return ApiError(
            message, fix=_fix_for(failure, candidate), status=failure.status, request_id=failure.request_id
        )
