"""The API's error vocabulary: an exception the core raises and the exact error body it becomes.

Bodies are `{"type": "error", "error": {"type", "message", "details"?}, "request_id"}`
(reference §5.1; `details.error_code` where the API gives one), always sent with a matching
`request-id` header.
"""

from __future__ import annotations

import json

__all__ = ["ERROR_TYPES", "ApiError", "error_body", "invalid_request"]

#: HTTP status → `error.type` (reference §5.2).
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: A plausible first-party message per status, used when a fault gives none.
DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request",
    401: "invalid x-api-key",
    402: "Your credit balance is too low to access the Anthropic API. "
    "Please go to Plans & Billing to upgrade or purchase credits.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "Not Found",
    409: "Conflict",
    413: "Request exceeds the maximum allowed number of bytes. The maximum request size is 32 MB.",
    429: "This request would exceed your organization's rate limit. Please reduce the prompt length "
    "or the maximum tokens requested, or try again later.",
    500: "Internal server error",
    504: "Request timed out. Consider using streaming for long requests.",
    529: "Overloaded",
}


class ApiError(Exception):
    """An HTTP error response the simulator sends, as the real API would."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict | None = None,
    ) -> None:
        self.status = status
        self.details = details
        self.error_type = error_type or ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        self.message = message if message is not None else DEFAULT_MESSAGES.get(status, "Error")
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.error_type}: {self.message}")


def invalid_request(message: str) -> ApiError:
    """The common 400 `invalid_request_error`."""
    return ApiError(400, message)


def error_body(error_type: str, message: str, request_id: str, details: dict | None = None) -> bytes:
    """The exact JSON error body of the real API."""
    error: dict = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = details
    return json.dumps({"type": "error", "error": error, "request_id": request_id}).encode()
