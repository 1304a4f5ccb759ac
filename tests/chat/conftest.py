"""Fixtures for conversations: the cache tests' simulator, agent with the demo key, and
workspaces on it (a second `make_workspace()` stands for a restarted kernel: same state dir,
same ledger file)."""

from __future__ import annotations

from tests.cache.conftest import agent, make_workspace, simulator, workspace  # noqa: F401 (fixtures)

#: A document well above the 512-token minimum of the default model: about 1,250 tokens as the
#: simulator counts it (its position), so a turn that caches it writes over 1,000.
DOCUMENT = "The contract limits liability to direct damages and excludes lost profits. " * 80


def sent_texts(reply) -> list[tuple[str, str]]:
    """(role, text) of each message the reply's request sent: its plan's params are the body."""
    out = []
    for message in reply.plan.params["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
        out.append((message["role"], text))
    return out
