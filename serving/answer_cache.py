"""A per-process cache of finished ``POST /recommend`` answers (the response body, serialised), beside the
user-representation cache of :mod:`serving.recommender`.

A storefront asks for the same user on every page view, with the same ``k`` and options, and most of those
requests come before the user does anything new. For them the whole answer -- representation, catalogue product,
top-k, explanations and JSON -- is the same as last time, so it is kept and sent again.

The rule that keeps it fresh is the user cache's: every request still reads the user's feature row from the online
store (one ``HMGET``), and a cached answer is sent only when that row is *byte-identical* to the row the answer was
computed from, under the same model version. A new behaviour (or a late one inserted behind the newest) changes the
row and so misses. Entries are per ``(model version, user)`` -- one stored row -- holding the answers for up to
``variants`` (4) request shapes ``(channel, k, exclude_items, explain)``; least recently used users are dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

Row = tuple[bytes | None, ...]  # the stored feature row, byte for byte, as the online store returned it
Shape = tuple[str, int, tuple[str, ...], bool]  # (channel, k, exclude_items, explain)


@dataclass(slots=True)
class _Entry:
    row: Row
    answers: dict[Shape, bytes] = field(default_factory=dict)


class AnswerCache:
    """LRU of serialised answers keyed by ``(model version, user)``, valid only for the exact row they came from."""

    def __init__(self, size: int, variants: int = 4) -> None:
        self.size = size
        self.variants = variants
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def get(self, version: str, user_id: str, row: Row, shape: Shape) -> bytes | None:
        """The answer computed for ``shape`` from exactly ``row`` under ``version``, else None."""
        entry = self._entries.get((version, user_id))
        if entry is None or entry.row != row:
            return None
        body = entry.answers.get(shape)
        if body is not None:
            self._entries.move_to_end((version, user_id))
        return body

    def put(self, version: str, user_id: str, row: Row, shape: Shape, body: bytes) -> None:
        if self.size <= 0:
            return
        key = (version, user_id)
        entry = self._entries.get(key)
        if entry is None or entry.row != row:  # a changed row drops every answer computed from the old one
            entry = self._entries[key] = _Entry(row)
        if shape not in entry.answers and len(entry.answers) >= self.variants:
            entry.answers.pop(next(iter(entry.answers)))  # the oldest shape of this user
        entry.answers[shape] = body
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
