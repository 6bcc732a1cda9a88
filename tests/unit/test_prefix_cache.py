"""Which slot a prompt takes, and what each free slot's KV cells still hold."""

from __future__ import annotations

import pytest

from conclave.services.engine.prefix_cache import PrefixCache, common_prefix

PREFIX = list(range(100, 164))  # 64 tokens every prompt shares (a chat format's examples)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_an_empty_cache_reuses_nothing_and_takes_the_oldest_slots() -> None:
    cache = PrefixCache(3)
    taken = cache.take([1, 2, 3], 2)
    assert taken.reused == 0 and taken.slots == [0, 1] and cache.free == 1


def test_the_slot_with_the_longest_shared_prefix_wins() -> None:
    cache = PrefixCache(3)
    cache.take([0], 3)
    for slot, tail in ((0, [1]), (1, [2, 3, 4]), (2, [9])):
        cache.give_back(slot, [*PREFIX, *tail])
    taken = cache.take([*PREFIX, 2, 3, 7, 8], 1)
    assert taken.slots == [1] and taken.reused == 66
    assert cache.held(1) == [*PREFIX, 2, 3]  # the rest of its cells are the scheduler's to drop


def test_at_least_one_prompt_token_is_left_to_prefill() -> None:
    cache = PrefixCache(1)
    cache.take([0], 1)
    cache.give_back(0, [1, 2, 3, 4])
    assert cache.take([1, 2, 3, 4], 1).reused == 3  # its logits start the reply


def test_siblings_of_an_n_sample_job_hold_nothing_and_ties_go_to_the_oldest() -> None:
    cache = PrefixCache(3)
    cache.take([0], 3)
    for slot in (2, 0, 1):  # freed in this order: 2 is the oldest
        cache.give_back(slot, [*PREFIX, slot])
    taken = cache.take([7, 7, 7], 2)
    assert taken.slots == [2, 0] and taken.reused == 0
    assert cache.held(2) == [] and cache.held(0) == []
    assert cache.held(1) == [*PREFIX, 1]  # the newest cache survives


def test_forget_and_overfull_take() -> None:
    cache = PrefixCache(1)
    cache.take([0], 1)
    cache.give_back(0, [1, 2, 3])
    cache.forget(0)
    assert cache.take([1, 2, 3, 4], 1).reused == 0
    with pytest.raises(ValueError, match="1 slots asked, 0 free"):
        cache.take([1], 1)


def test_among_equal_reuse_a_slot_next_to_a_busy_one_wins() -> None:
    cache = PrefixCache(6)
    cache.take([0], 6)
    for slot in (4, 3, 5, 2):  # freed in this order: 4 is the oldest; 0 and 1 stay busy
        cache.give_back(slot, [*PREFIX, slot])
    taken = cache.take([*PREFIX, 9], 1)
    assert taken.slots == [2] and taken.reused == 64  # next to busy 1: one run of slots


def test_a_longer_reuse_beats_a_busy_neighbour() -> None:
    cache = PrefixCache(4)
    cache.take([0], 4)
    cache.give_back(3, [*PREFIX, 7, 8])
    cache.give_back(1, [*PREFIX, 1])
    assert cache.take([*PREFIX, 7, 8, 9], 1).slots == [3]
