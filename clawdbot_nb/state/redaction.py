"""Recognising Anthropic secrets in text, masking them, and redacting any text that may hold one.

The one place for every secret pattern of the client side (the simulator keeps its own, since
it stands alone): the ledger, the display, the CLI, the magics and the widgets call these.
A mask shows at most a known prefix and the last 4 characters (`sk-ant-api03-…WXYZ`).
"""

from __future__ import annotations

import re

API_KEY_PREFIX = "sk-ant-api03-"
SETUP_TOKEN_PREFIX = "sk-ant-oat01-"
#: Prefixes that may be shown: they say what a secret is without revealing any of it.
KNOWN_PREFIXES = (API_KEY_PREFIX, SETUP_TOKEN_PREFIX)
#: pi-ai's `isOAuthToken`: the wire path is chosen by this substring of the secret.
OAUTH_TOKEN_MARKER = "sk-ant-oat"
API_KEY_MARKER = "sk-ant-api"

#: Masks reveal the last 4 characters only when at least this many stay hidden.
_MIN_HIDDEN = 8

# Anything that starts like an Anthropic secret (`sk-ant-…`, any kind and version), or a long
# `sk-…` key of another provider. A match takes the whole token: an already masked
# `sk-ant-api03-…WXYZ` is left alone, so redacting twice changes nothing.
_SECRET = re.compile(
    r"\bsk-ant-[A-Za-z0-9_\-]+(?![A-Za-z0-9_\-…])|\bsk-[A-Za-z0-9_\-]{16,}(?![A-Za-z0-9_\-…])"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([^\s\"',;…]{8,})(?=[\s\"',;]|$)")
#: A full key or token as typed: a known shape with a real-looking body (not a placeholder
#: such as `sk-ant-api03-…` or `sk-ant-...`).
_FULL_SECRET = re.compile(r"sk-ant-[a-z]{3}\d{2}-[A-Za-z0-9_\-]{16,}")


def mask_secret(secret: object) -> str:
    """`sk-ant-api03-…WXYZ`: at most a known prefix and the last 4 characters.

    Short or unknown-shaped secrets reveal less: the last 4 only when 8 or more characters
    stay hidden, otherwise nothing.
    """
    if not isinstance(secret, str) or not secret:
        return "(none)"
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    rest = secret[len(prefix) :]
    if len(rest) >= _MIN_HIDDEN + 4:
        return f"{prefix}…{rest[-4:]}"
    return f"{prefix}…" if prefix else "…"


def redact(text: str) -> str:
    """`text` with anything shaped like an Anthropic key, token or bearer credential masked."""
    text = _SECRET.sub(lambda m: mask_secret(m.group(0)), text)
    # Whole bearer tokens only, so an already masked key is left as it is.
    return _BEARER.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)


def redact_line(text: str) -> str:
    """`redact` on one line: whitespace runs (line breaks included) become single spaces."""
    return redact(" ".join(text.split()))


def contains_secret(text: object) -> bool:
    """Whether `text` holds something redaction would mask (a key, a token, a bearer value)."""
    return isinstance(text, str) and redact(text) != text


def full_secrets(text: str) -> list[str]:
    """Complete Anthropic keys or tokens in `text` (e.g. typed into a notebook cell)."""
    return _FULL_SECRET.findall(text)


def looks_like_oauth_token(secret: str) -> bool:
    return OAUTH_TOKEN_MARKER in secret


def shown(value: object, *, limit: int = 60) -> str:
    """`value` as an error message may quote it: repr'd, secrets masked, cut to `limit`."""
    text = redact_line(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refuse_secret(value: object, *, argument: str, expected: str) -> None:
    """Refuse a secret where an id, a provider, a model or a duration belongs.

    A key pasted into the wrong option would otherwise be echoed in errors or saved into the
    config or the ledger. The error shows it masked, and says what the option expects.
    """
    if isinstance(value, str) and contains_secret(value):
        from clawdbot_nb.errors import UsageError

        raise UsageError(
            f"{argument} looks like a secret ({redact_line(value)[:40]}), not {expected}.",
            fix=f"give {argument} {expected}; secrets are read from a hidden prompt, stdin or the "
            "environment, never from such an option (nothing was saved)",
        )
