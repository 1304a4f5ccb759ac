"""What went wrong in one attempt, in the call engine's words, and the errors a call ends with.

`describe_exception` turns anything the SDK or the transport raises into a `Failure` (the only
SDK-aware code here); the engine decides from `Failure` alone. Failures are classified as the
gateway does (429/529 rate_limit, 402 billing, 401/403 auth, timeouts, other 5xx unknown), by
HTTP status — an error event inside a stream carries its status in its type
(`overloaded_error` is a 529).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from clawdbot_nb.api.clients import ConnectionFailed
from clawdbot_nb.errors import ClawdbotError, command, fix_for
from clawdbot_nb.state.cooldown import classify_failure
from clawdbot_nb.state.troubleshooting import token_invalid

#: The HTTP status behind each API error type (anthropic-api.md §5.2).
STATUS_OF_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


#: The rate limits the API reports (`anthropic-ratelimit-<name>-remaining` / `-reset`).
RATE_LIMIT_NAMES = ("requests", "tokens", "input-tokens", "output-tokens")


@dataclass(frozen=True)
class ServerWait:
    """When the server asked us to come back: `retry-after` (seconds from the response), and the
    latest `anthropic-ratelimit-*-reset` of a limit whose `remaining` is 0 (epoch ms)."""

    retry_after_s: float | None = None
    reset_ms: int | None = None

    def until_ms(self, now_ms: int) -> int:
        """The moment (epoch ms) before which this credential should not be sent to again."""
        moments = [now_ms]
        if self.retry_after_s is not None:
            moments.append(now_ms + round(self.retry_after_s * 1000))
        if self.reset_ms is not None:
            moments.append(self.reset_ms)
        return max(moments)


def _epoch_ms(text: str) -> int | None:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def server_wait(headers: Mapping[str, str] | None) -> ServerWait | None:
    """What a response's headers say about waiting (anthropic-api.md §5.3, §9.4): `retry-after-ms`,
    `retry-after` in seconds or as an HTTP date, and exhausted rate limits; None when nothing."""
    if headers is None:
        return None
    retry_after: float | None = None
    reset: int | None = None
    raw_ms, raw = headers.get("retry-after-ms"), headers.get("retry-after")
    try:
        if raw_ms is not None:
            retry_after = float(raw_ms) / 1000
        elif raw is not None:
            retry_after = float(raw)
    except ValueError:
        try:
            reset = int(parsedate_to_datetime(raw).timestamp() * 1000)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    if retry_after is not None and retry_after <= 0:
        retry_after = None
    for name in RATE_LIMIT_NAMES:
        if headers.get(f"anthropic-ratelimit-{name}-remaining") == "0":
            moment = _epoch_ms(headers.get(f"anthropic-ratelimit-{name}-reset") or "")
            if moment is not None:
                reset = max(reset or 0, moment)
    if retry_after is None and reset is None:
        return None
    return ServerWait(retry_after, reset)


class ApiError(ClawdbotError):
    """A call that failed: one line with what to do. `status` is the HTTP status (None for a
    transport failure), `reason` the failover reason (rate_limit, billing, auth, timeout, format,
    unknown; None when the request itself was at fault). `attempts` lists the profiles tried
    (`reply.Attempt`, each with the server's wait, if it named one) when every one failed."""

    def __init__(
        self,
        message: str,
        *,
        fix: str | None,
        status: int | None = None,
        request_id: str | None = None,
        reason: str | None = None,
        attempts: tuple[Any, ...] = (),
        unreachable: bool = False,
    ):
        super().__init__(message, fix=fix)
        self.status = status
        self.request_id = request_id
        self.reason = reason
        self.attempts = attempts
        self.unreachable = unreachable


@dataclass(frozen=True)
class Failure:
    """One failed attempt. `transport` is set when no HTTP answer (or only part of one) came
    back: `unreachable` when the host could not be reached at all (no request was sent), else
    the connection dropped or timed out."""

    status: int | None
    message: str
    reason: str | None
    request_id: str | None = None
    error_type: str | None = None
    transport: bool = False
    unreachable: bool = False
    host: str | None = None
    #: Whether the SDK's own retry loop could have retried this (429, 5xx, dropped connections)
    #: had it not happened after the response began (inside a stream).
    retryable: bool = False
    #: The fix our own error carried (e.g. a refresh failure's), kept for the final error.
    fix: str | None = None
    #: What the response's headers said about coming back (retry-after, exhausted limits).
    wait: ServerWait | None = None


def _host_of(error: BaseException) -> str | None:
    request = getattr(error, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return None
    parts = urlsplit(str(url))
    return parts.netloc or None


def _transport(message: str, *, timed_out: bool, unreachable: bool, host: str | None) -> Failure:
    return Failure(
        None,
        message,
        None if unreachable else ("timeout" if timed_out else "unknown"),
        transport=True,
        unreachable=unreachable,
        host=host,
        retryable=not unreachable,
    )


def _is_connect_error(error: BaseException) -> bool:
    # A connection that was never made (refused, DNS): the host is unreachable, for every profile.
    import httpx2

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout):
            return not isinstance(cause, httpx2.ConnectTimeout)
        cause = cause.__cause__ or cause.__context__
    return False


def _our_error_behind(error: BaseException) -> ClawdbotError | None:
    """A ClawdbotError the SDK wrapped (it wraps what a credentials provider raises), or itself."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ClawdbotError) and not isinstance(seen, ConnectionFailed):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_exception(error: BaseException) -> Failure:
    """Status, reason and a one-line message for anything an attempt can raise."""
    import anthropic
    import httpx2

    ours = _our_error_behind(error)
    if ours is not None:  # e.g. an OAuth refresh that failed inside the SDK's token provider
        return Failure(None, ours.message, classify_failure(None, ours.message), fix=ours.fix)
    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error") if isinstance(body.get("error"), dict) else {}
        error_type = detail.get("type") or getattr(error, "type", None)
        message = detail.get("message") or error.message
        status = error.status_code
        if status < 400 and error_type in STATUS_OF_ERROR_TYPE:
            status = STATUS_OF_ERROR_TYPE[error_type]  # an error event inside a 200 stream
        text = f"{status} {error_type or 'error'}: {message}"
        return Failure(
            status,
            text,
            classify_failure(status, text),
            error.request_id,
            error_type,
            retryable=status in (408, 409, 429) or status >= 500,
            wait=server_wait(getattr(error.response, "headers", None)),
        )
    if isinstance(error, ConnectionFailed):
        original = error.original
        return _transport(
            error.message,
            timed_out=error.timed_out,
            unreachable=_is_connect_error(original),
            host=_host_of(original),
        )
    if isinstance(error, anthropic.APITimeoutError):
        return _transport("Request timed out", timed_out=True, unreachable=False, host=_host_of(error))
    if isinstance(error, anthropic.APIConnectionError):
        unreachable = _is_connect_error(error)
        cause = error.__cause__ or error.__context__
        message = f"Connection error: {type(cause).__name__ if cause else 'APIConnectionError'}"
        if cause is not None and str(cause):
            message += f" ({cause})"
        return _transport(message, timed_out=False, unreachable=unreachable, host=_host_of(error))
    if isinstance(error, httpx2.TimeoutException):
        return _transport(
            f"Stream timed out: {type(error).__name__}", timed_out=True, unreachable=False, host=None
        )
    if isinstance(error, httpx2.TransportError):  # e.g. the connection dropped inside a stream
        return _transport(
            f"Connection dropped: {type(error).__name__}", timed_out=False, unreachable=False, host=None
        )
    return Failure(None, f"{type(error).__name__}: {error}", None)


def _fix_for(failure: Failure) -> str:
    if failure.fix:
        return failure.fix
    if failure.unreachable:
        return fix_for(
            python="check the network, or ANTHROPIC_BASE_URL if it points elsewhere; offline, use the "
            "simulator: Workspace.simulated()",
            cli="check the network, or ANTHROPIC_BASE_URL if it points elsewhere; offline, start the "
            f"simulator with `{command('sim serve')}`",
            magic="check the network, or ANTHROPIC_BASE_URL if it points elsewhere; offline, run "
            "`%clawdbot sim start`",
        )
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
        return (
            f"check the credential with `{command('models status')}`; re-onboard or paste a new setup-token"
        )
    return "try again; if it persists, run with --debug and report the request id"


def request_error(failure: Failure) -> ApiError:
    """The error for a failure no other profile could fix (a bad request, an unreachable host)."""
    request = f" (request {failure.request_id})" if failure.request_id else ""
    if failure.unreachable:
        where = failure.host or "the API"
        message = f"Cannot reach {where}: {failure.message}"
    elif failure.status == 404 and failure.error_type == "not_found_error":
        message = f"Unknown model — the API answered {failure.message}{request}"
    else:
        message = f"Anthropic API error {failure.message}{request}"
    return ApiError(
        message,
        fix=_fix_for(failure),
        status=failure.status,
        request_id=failure.request_id,
        reason=failure.reason,
        unreachable=failure.unreachable,
    )


def interrupted_error(label: str, failure: Failure) -> ApiError:
    """A stream that failed after text was shown: too late to switch profiles silently."""
    return ApiError(
        f"The reply stream from {label} broke off: {failure.message}",
        fix="run the call again (the partial reply above is incomplete)",
        status=failure.status,
        request_id=failure.request_id,
        reason=failure.reason,
    )


def exhausted_error(attempts: list[Any], last: Failure, last_label: str, last_type: str) -> ApiError:
    """The error when every candidate failed: each profile's outcome and the fix for the last."""
    summary = "; ".join(str(a) for a in attempts)
    if last.status == 401 and last_type in ("token", "oauth"):
        invalid = token_invalid(last_label, last.message)
        if len(attempts) > 1:
            invalid.message += f" (every profile failed: {summary})"
        return ApiError(
            invalid.message,
            fix=invalid.fix,
            status=401,
            request_id=last.request_id,
            reason=last.reason,
            attempts=tuple(attempts),
        )
    profiles = len({a.profile for a in attempts})
    message = (
        f"All {profiles} profiles failed: {summary}"
        if profiles > 1
        else f"{last_label} failed: {last.message}"
        + (f" (after {len(attempts)} attempts)" if len(attempts) > 1 else "")
    )
    return ApiError(
        message,
        fix=_fix_for(last),
        status=last.status,
        request_id=last.request_id,
        reason=last.reason,
        attempts=tuple(attempts),
    )
