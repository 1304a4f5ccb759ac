"""Shared helpers for the simulator conformance suite: SDK clients over either front-end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from clawdbot_nb import sim
from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.bpe import count_text
from clawdbot_nb.sim.credentials import OAUTH_BETA
from clawdbot_nb.sim.positions import count_request, request_positions

#: Any host works in-process; `localhost` also satisfies the SDK's https rule for token endpoints.
IN_PROCESS_BASE_URL = "http://localhost"

#: Models used by the cache tests: factor 1.0 with a 1,024 minimum, and factor 1.3 with 512.
MODEL = "claude-sonnet-4-6"
NEW_MODEL = "claude-haiku-5-5"


def words(count: int, word: str = "alpha") -> str:
    """Text of exactly `count` vocabulary tokens: `word` and ` word` are one token each."""
    assert count_text(word) == 1 and count_text(" " + word) == 1, word
    return " ".join([word] * count)


def _factor(params: dict) -> float:
    facts = model_facts.lookup(params.get("model"))
    return facts.tokenizer_factor if facts is not None else 1.0


def total_tokens(params: dict) -> int:
    """The simulator's input-token total of a request body (its own positions and vocabulary)."""
    return count_request(params, _factor(params))


def prefix_sums(params: dict) -> list[int]:
    """The simulator's cumulative token count at each prefix position of a request body."""
    total, sums = 0, []
    for position in request_positions(params, _factor(params)):
        total += position.tokens
        sums.append(total)
    return sums


@dataclass
class Api:
    """SDK clients for one simulator behind one front-end (`kind`: inprocess | loopback)."""

    simulator: sim.Simulator
    kind: str
    base_url: str
    _clients: list[Any] = field(default_factory=list)

    def _sync_http(self) -> httpx2.Client | None:
        if self.kind == "inprocess":
            return httpx2.Client(transport=self.simulator.transport())
        return None

    def _async_http(self) -> httpx2.AsyncClient | None:
        if self.kind == "inprocess":
            return httpx2.AsyncClient(transport=self.simulator.transport())
        return None

    def client(
        self,
        api_key: str | None = sim.DEMO_API_KEY,
        *,
        auth_token: str | None = None,
        oauth: bool = False,
        max_retries: int = 0,
        **options: Any,
    ) -> anthropic.Anthropic:
        """A sync client; `oauth=True` adds the `anthropic-beta: oauth-2025-04-20` header."""
        headers = dict(options.pop("default_headers", {}) or {})
        if oauth:
            headers["anthropic-beta"] = OAUTH_BETA
        credentials = {"auth_token": auth_token} if auth_token is not None else {"api_key": api_key}
        if "credentials" in options:
            credentials = {}
        client = anthropic.Anthropic(
            **credentials,
            base_url=self.base_url,
            http_client=self._sync_http(),
            max_retries=max_retries,
            default_headers=headers or None,
            **options,
        )
        self._clients.append(client)
        return client

    def async_client(
        self,
        api_key: str | None = sim.DEMO_API_KEY,
        *,
        auth_token: str | None = None,
        oauth: bool = False,
        max_retries: int = 0,
        **options: Any,
    ) -> anthropic.AsyncAnthropic:
        headers = dict(options.pop("default_headers", {}) or {})
        if oauth:
            headers["anthropic-beta"] = OAUTH_BETA
        credentials = {"auth_token": auth_token} if auth_token is not None else {"api_key": api_key}
        return anthropic.AsyncAnthropic(
            **credentials,
            base_url=self.base_url,
            http_client=self._async_http(),
            max_retries=max_retries,
            default_headers=headers or None,
            **options,
        )

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def ask(client: anthropic.Anthropic, text: str = "Hello", *, model: str = MODEL, **params: Any) -> Any:
    """One small `messages.create`."""
    params.setdefault("max_tokens", 64)
    return client.messages.create(model=model, messages=[{"role": "user", "content": text}], **params)


def cached_system(text: str, ttl: str | None = None) -> list[dict]:
    """A system prompt of one text block with a breakpoint."""
    control: dict = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": text, "cache_control": control}]


def cache_split(usage: Any) -> tuple[int, int, int, int, int]:
    """(read, 5m write, 1h write, creation total, uncached input) of an SDK `Usage`."""
    creation = usage.cache_creation
    return (
        usage.cache_read_input_tokens,
        creation.ephemeral_5m_input_tokens,
        creation.ephemeral_1h_input_tokens,
        usage.cache_creation_input_tokens,
        usage.input_tokens,
    )
