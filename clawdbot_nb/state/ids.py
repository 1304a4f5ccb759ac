"""Provider and profile ids, normalised the same way wherever they are read or written.

`anthropic:Work` and ` Anthropic:Work ` name one profile: the provider part is lowercased (with
the gateway's aliases), the name keeps its case. Ids are bounded and limited to characters a
file, a terminal and the gateway all handle; a secret pasted where an id belongs is refused
without being echoed.
"""

from __future__ import annotations

import re

from clawdbot_nb.errors import UsageError
from clawdbot_nb.state.model_refs import normalize_provider_id
from clawdbot_nb.state.redaction import refuse_secret, shown

MAX_PROVIDER_ID = 64
MAX_PROFILE_ID = 128
_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9@._+-]+$")


def provider_id(value: object, *, argument: str = "--provider") -> str:
    """A provider id as the gateway normalises it (`Anthropic ` → `anthropic`), or a clear error."""
    refuse_secret(value, argument=argument, expected="a provider id such as anthropic")
    text = normalize_provider_id(value) if isinstance(value, str) else ""
    if not text or len(text) > MAX_PROVIDER_ID or not _PROVIDER.match(text):
        raise UsageError(
            f"Invalid provider id {shown(value)} for {argument}: use lowercase letters, digits, '.', '_' "
            f"or '-' (at most {MAX_PROVIDER_ID}).",
            fix=f"e.g. {argument} anthropic",
        )
    return text


def profile_id(value: object, provider: str | None = None, *, argument: str = "--profile-id") -> str:
    """`manual` → `<provider>:manual`; `Anthropic:Work` → `anthropic:Work`; bad ids refused."""
    refuse_secret(value, argument=argument, expected="a profile id such as anthropic:work")
    text = value.strip() if isinstance(value, str) else ""
    if text and ":" not in text and provider is not None:
        text = f"{provider}:{text}"
    head, _, tail = text.partition(":")
    problem = None
    if not text or not head or not tail:
        problem = "use provider:name"
    elif len(text) > MAX_PROFILE_ID:
        problem = f"it is longer than {MAX_PROFILE_ID} characters"
    elif not _PROFILE_NAME.match(tail.strip()):
        problem = "the name may hold only letters, digits, '.', '_', '-', '+' and '@'"
    if problem is None:
        head = normalize_provider_id(head)
        if not _PROVIDER.match(head) or len(head) > MAX_PROVIDER_ID:
            problem = "the provider part may hold only lowercase letters, digits, '.', '_' and '-'"
    if problem is not None:
        raise UsageError(
            f"Invalid profile id {shown(value)} for {argument}: {problem}.",
            fix="use provider:name, e.g. anthropic:work",
        )
    return f"{head}:{tail.strip()}"


def lookup_profile_id(value: object, known: list[str] | None = None, *, argument: str = "--profile") -> str:
    """A profile id someone asks for (`--profile`, `order set`, remove ...), normalised like
    the ids we write; an id stored by another program under another spelling is still found."""
    normalized = profile_id(value, argument=argument)
    if known:
        for candidate in known:
            if candidate == normalized:
                return candidate
        for candidate in known:
            head, _, tail = candidate.partition(":")
            if f"{normalize_provider_id(head)}:{tail.strip()}" == normalized:
                return candidate
    return normalized


def token_profile_id(name: str | None, provider: str = "anthropic") -> str:
    """The wizard's `buildTokenProfileId`: a name slugified, blank → `default`."""
    refuse_secret(name, argument="the token name", expected="a short name such as work")
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").strip().lower()).strip("-")[: MAX_PROFILE_ID - 20]
    return f"{provider}:{slug or 'default'}"
