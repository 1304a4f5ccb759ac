"""Texts of an exact size in the simulator's tokens, for the benches' cost models and replays.

A cost model stands for the server, so a size it names (a 5,000-token system prompt, a 40-token
question, a 250-token reply sent back) is the simulator's BPE count (`clawdbot_nb.sim.bpe`),
never the client's estimate (`clawdbot_nb.tokenizer`). `sized_text(tag, tokens)` is the number
`tag` (what makes two texts differ) followed by filler words; the whole text is counted, and a
text that does not come out at exactly `tokens` is an error, not a silent approximation.
"""

from __future__ import annotations

from clawdbot_nb.sim.bpe import count_text

__all__ = ["FILLER", "sized_text"]

#: Words the vocabulary keeps whole after a space: one token each.
FILLER = ("cache", "entry", "reads", "write", "hours", "pause", "token", "model")


def sized_text(tag: int, tokens: int) -> str:
    """A text of exactly `tokens` simulator tokens that starts with the number `tag`."""
    head = str(tag)
    used = count_text(head)
    if tokens < used:
        raise ValueError(f"sized_text: tag {tag} is {used} tokens; ask for {used} or more, not {tokens}")
    text = head + "".join(" " + FILLER[i % len(FILLER)] for i in range(tokens - used))
    counted = count_text(text)
    if counted != tokens:
        raise RuntimeError(
            f"sized_text: {tag}/{tokens} came out at {counted} tokens; the vocabulary merges the filler "
            "words, so bench/sized_texts.py needs other FILLER"
        )
    return text
