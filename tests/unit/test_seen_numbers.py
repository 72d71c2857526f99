"""``SeenNumbers.add_new`` takes a chunk at once only when ``add`` would have found every
number new, and leaves the set as it was otherwise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.services.seen_numbers import SeenNumbers

_PHONE = st.integers(0, 30).map(lambda n: f"+1555123{n:04d}")


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.lists(_PHONE, max_size=8), max_size=6))
def test_add_new_is_add_for_a_chunk_of_new_numbers(chunks: list[list[str]]) -> None:
    fast, slow = SeenNumbers(1_000_000), SeenNumbers(1_000_000)
    for phones in chunks:
        before = set(fast._seen)
        if fast.add_new(phones):
            assert all([slow.add(phone) for phone in phones])
        else:
            assert fast._seen == before
            assert not all([slow.add(phone) for phone in phones])
            for phone in phones:
                fast.add(phone)
        assert fast._seen == slow._seen
