"""The hash chain's JSON (storage/chain.py) is ``json.dumps``'s byte for byte, whatever the data."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.storage.chain import canonical, hash_payload

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text())
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.tuples(inner, inner)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=20)
texts = st.text() | st.none()


def _dumps(o: Any, *, sort_keys: bool) -> str:
    return json.dumps(o, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


def _outcome(encode: Callable[[], str]) -> str | type[Exception]:
    """The text, or the type of the error raised (keys of mixed types cannot be sorted)."""
    try:
        return encode()
    except Exception as exc:  # compared with the reference's, whatever it is
        return type(exc)


@settings(max_examples=500, deadline=None)
@given(data=st.dictionaries(st.text(), values, max_size=6))
def test_canonical_is_json_dumps(data: dict[str, Any]) -> None:
    """Any event data (nested, unicode, lone surrogates, floats, NaN, big integers): the
    same text as ``json.dumps`` with sorted keys, or the same error."""
    assert _outcome(lambda: canonical(data)) == _outcome(lambda: _dumps(data, sort_keys=True))


@settings(max_examples=300, deadline=None)
@given(prev=st.text(), seq=st.integers(), type_=st.text(), contact=texts, occurred=st.text(),
       recorded=st.text(), actor=st.text(), provider_id=texts, data_json=st.text())
def test_hash_payload_is_json_dumps(prev: str, seq: int, type_: str, contact: str | None,
                                    occurred: str, recorded: str, actor: str,
                                    provider_id: str | None, data_json: str) -> None:
    """The hash payload is the stored fields as ``json.dumps`` writes the list of them."""
    fields = [seq, type_, contact, occurred, recorded, actor, provider_id, data_json, prev]
    assert hash_payload(prev, seq, type_, contact, occurred, recorded, actor, provider_id,
                        data_json) == _dumps(fields, sort_keys=False)


@pytest.mark.parametrize("bad", [{"a": object()}, {"a": {1: 2, "1": 3, "b": {"c": b"x"}}},
                                 {1: "x", "y": 2}, {"a": [math.nan, set()]}])
def test_canonical_fails_as_json_dumps(bad: dict[Any, Any]) -> None:
    """What ``json.dumps`` refuses is refused alike (the same error type), and the next
    call is not affected by what the failed one left behind."""
    assert _outcome(lambda: canonical(bad)) == _outcome(lambda: _dumps(bad, sort_keys=True))
    shared: dict[str, Any] = {"x": 1}
    assert canonical({"a": shared, "b": shared}) == '{"a":{"x":1},"b":{"x":1}}'


def test_canonical_refuses_a_circular_structure_as_json_dumps() -> None:
    """A structure holding itself is refused with ``json.dumps``'s error."""
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        canonical(loop)
