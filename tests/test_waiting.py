import itertools

import pytest

from tests.waiting import wait_until


def test_wait_until_returns_value_and_times_out():
    c = itertools.count()
    assert wait_until(lambda: next(c) >= 3 and "ok", 5, "three calls") == "ok"
    with pytest.raises(AssertionError, match="never"):
        wait_until(lambda: False, 0.1, "nothing")
    with pytest.raises(AssertionError) as info:
        wait_until(lambda: 1 / 0, 0.1, "division")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
