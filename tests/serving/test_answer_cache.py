"""serving.answer_cache.AnswerCache: pure logic (the served behaviour is in test_cache_explain.py)."""

from __future__ import annotations

from serving.answer_cache import AnswerCache

ROW = (b"3", b"[1,2,3]", b"1700000000000")
SHAPE = ("online", 10, (), False)


def test_an_answer_is_sent_only_for_the_exact_row_version_and_shape() -> None:
    cache = AnswerCache(10)
    cache.put("v1", "alice", ROW, SHAPE, b"answer")
    assert cache.get("v1", "alice", ROW, SHAPE) == b"answer"
    assert cache.get("v1", "alice", (b"4", b"[1,2,3,4]", b"1700000000001"), SHAPE) is None  # a new behaviour
    assert cache.get("v1", "alice", (b"4", b"[1,2,3]", b"1700000000000"), SHAPE) is None  # same newest ts
    assert cache.get("v2", "alice", ROW, SHAPE) is None  # another model version
    assert cache.get("v1", "bob", ROW, SHAPE) is None
    for other in (("store", 10, (), False), ("online", 5, (), False), ("online", 10, ("i1",), False),
                  ("online", 10, (), True)):  # fmt: skip
        assert cache.get("v1", "alice", ROW, other) is None


def test_a_changed_row_drops_every_answer_of_the_old_one() -> None:
    cache = AnswerCache(10)
    cache.put("v1", "alice", ROW, SHAPE, b"old")
    cache.put("v1", "alice", ROW, ("online", 5, (), False), b"old k5")
    newer = (b"4", b"[1,2,3,4]", b"1700000000001")
    cache.put("v1", "alice", newer, SHAPE, b"new")
    assert cache.get("v1", "alice", newer, SHAPE) == b"new"
    assert cache.get("v1", "alice", newer, ("online", 5, (), False)) is None
    # the old row again (a rollback) is not trusted either
    assert cache.get("v1", "alice", ROW, SHAPE) is None


def test_bounded_in_users_and_in_shapes_per_user() -> None:
    cache = AnswerCache(2, variants=2)
    for user in ("a", "b"):
        cache.put("v1", user, ROW, SHAPE, user.encode())
    assert cache.get("v1", "a", ROW, SHAPE) == b"a"  # a is now the most recently used
    cache.put("v1", "c", ROW, SHAPE, b"c")
    assert len(cache) == 2 and cache.get("v1", "b", ROW, SHAPE) is None and cache.get("v1", "a", ROW, SHAPE)
    for k in (1, 2, 3):
        cache.put("v1", "a", ROW, ("online", k, (), False), b"k%d" % k)
    assert cache.get("v1", "a", ROW, ("online", 1, (), False)) is None  # the user's oldest shape went
    assert cache.get("v1", "a", ROW, ("online", 3, (), False)) == b"k3"


def test_size_zero_is_off() -> None:
    cache = AnswerCache(0)
    cache.put("v1", "alice", ROW, SHAPE, b"answer")
    assert not cache.enabled and cache.get("v1", "alice", ROW, SHAPE) is None and len(cache) == 0
