"""The simulator's own token counter: a real Claude BPE vocabulary, not the client's estimate.

The vocabulary is the byte-level BPE tokenizer the Anthropic SDK shipped up to 0.38 (vendored in
`vocab/`, MIT, sha256 checked on load; see `vocab/README.md`), run by Hugging Face `tokenizers`.
It is Claude 2's vocabulary: the simulator scales its counts per model (`model_facts`), and the
client never imports this module, so a counting mistake on the client side shows up as a
disagreement with the simulator instead of being copied into it.

`count_text` is memoised in a small bounded cache keyed by a digest for long strings, so a long
system prompt resent on every turn is tokenised once without the cache pinning megabytes.
Nothing here raises on odd text: lone surrogates (valid JSON, invalid UTF-8) are replaced first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["VOCABULARY", "VOCABULARY_SHA256", "count_text", "token_pieces"]

VOCABULARY = Path(__file__).parent / "vocab" / "claude-tokenizer.json"
VOCABULARY_SHA256 = "c241737df24b4e7f7c9af4fdcee29a0ca903dcb288a8b753bc346a3092911767"

_CACHE_ENTRIES = 4096
#: Strings up to this length are their own cache key; longer ones are keyed by a digest.
_SHORT = 256


@cache
def _tokenizer() -> Any:
    """The loaded vocabulary (once per process); a clear error when the file is damaged."""
    from tokenizers import Tokenizer  # heavy: only when the simulator first counts

    try:
        data = VOCABULARY.read_bytes()
    except OSError as error:
        raise RuntimeError(
            f"{VOCABULARY}: cannot read the simulator's tokenizer vocabulary ({error.strerror}). "
            "Fix: reinstall clawdbot_nb (the file ships inside the package)."
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != VOCABULARY_SHA256:
        raise RuntimeError(
            f"{VOCABULARY}: sha256 {digest[:12]}… is not the vendored vocabulary's "
            f"{VOCABULARY_SHA256[:12]}…. Fix: restore the file from the package (git checkout or reinstall)."
        )
    return Tokenizer.from_str(data.decode("utf-8"))


def _clean(text: str) -> str:
    # JSON allows lone surrogates ("\ud800"); the tokenizer only takes valid Unicode.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


class _Counts:
    """A bounded, thread-safe LRU of text → token count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: OrderedDict[Any, int] = OrderedDict()

    def get(self, text: str) -> int:
        key: Any = text
        if len(text) > _SHORT:
            key = (len(text), hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest())
        with self._lock:
            found = self._counts.get(key)
            if found is not None:
                self._counts.move_to_end(key)
                return found
        count = len(_tokenizer().encode(_clean(text), add_special_tokens=False).ids)
        with self._lock:
            self._counts[key] = count
            if len(self._counts) > _CACHE_ENTRIES:
                self._counts.popitem(last=False)
        return count

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_COUNTS = _Counts()


def count_text(text: Any) -> int:
    """BPE tokens of `text` in the vendored vocabulary; 0 for a non-string or empty string."""
    if not isinstance(text, str) or not text:
        return 0
    return _COUNTS.get(text)


def token_pieces(text: str) -> list[tuple[str, int]]:
    """`text` cut at token boundaries: (piece, tokens in it), every piece at least one token.

    Joined, the pieces give `text` back (after surrogate cleaning) and their token counts add up
    to `count_text(text)`. A piece normally holds one token; a character split over several byte
    tokens (some CJK, emoji) keeps them together, so a reply cut at a piece boundary is always
    valid text. Used to truncate replies at `max_tokens` and to stream them as deltas.
    """
    if not isinstance(text, str) or not text:
        return []
    text = _clean(text)
    encoding = _tokenizer().encode(text, add_special_tokens=False)
    pieces: list[tuple[str, int]] = []
    start = pending = 0
    for _, end in encoding.offsets:
        pending += 1
        if end > start:
            pieces.append((text[start:end], pending))
            start, pending = end, 0
    if start < len(text) or pending:
        if pieces:
            last, tokens = pieces[-1]
            pieces[-1] = (last + text[start:], tokens + pending)
        else:
            pieces.append((text, max(pending, 1)))
    return pieces
