"""Stencils: the output of a serialising function, cut where its variable strings go.

A bulk import writes a million rows that differ only in a few strings (the number, a time,
evidence). Calling the generic serialisers (``canonical``, the hash payload, ``state_row``) for
each costs most of the import; a stencil calls them once, with placeholder strings in the
variable places, and keeps the fixed text between them. Filling it with the real values gives
the very bytes the generic call would (a property test compares them), because JSON encodes a
string the same way wherever it stands and ``sort_keys`` orders keys by name, not by value.

Placeholders are Unicode private-use characters that JSON leaves as they are (``ensure_ascii``
is off); a stencil refuses to be built if a placeholder came out any other way (escaped, cut,
or changed by the function), so a function that does more than place the strings is never
stencilled by mistake.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

_encode_str: Any = (getattr(json.encoder, "c_encode_basestring", None)
                    or json.encoder.py_encode_basestring)


_OPEN, _CLOSE = "\ue000", "\ue001"


def placeholder(slot: int) -> str:
    """The stand-in for slot ``slot``: text no real value holds (private-use code points)."""
    return f"{_OPEN}{slot}{_CLOSE}"


# A string as ``json.dumps`` writes it (``ensure_ascii=False``): the encoder's own function,
# called directly (a Python wrapper around it was a tenth of a bulk import's Python time).
json_string: Callable[[str], str] = _encode_str


def json_value(value: str | int | None) -> str:
    """A string, integer or None as ``json.dumps`` writes it (``ensure_ascii=False``)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return str(_encode_str(value))
    if isinstance(value, bool):  # a bool is an int: keep JSON's spelling
        return "true" if value else "false"
    return int.__repr__(value)


class Unstencillable(ValueError):
    """The function did something with a placeholder other than write it whole."""


class Stencil:
    """Fixed text with holes; each hole takes one slot's value.

    A text that is nothing but a placeholder is one raw hole (a plain column value); anywhere
    else a placeholder must stand as a whole JSON string, and its hole takes the value as JSON
    writes it (so any str or None may fill it, and an int where the generic call had one).
    """

    __slots__ = ("_format", "_holes", "_parts", "_raw")
    _holes: tuple[int, ...]
    _parts: tuple[str, ...]  # the fixed text around the holes (one more than holes)

    def __init__(self, text: str, slots: int) -> None:
        names = {placeholder(i): i for i in range(slots)}
        if text in names:
            self._format, self._holes, self._raw = "{}", (names[text],), True
            self._parts = ("", "")
            return
        parts: list[str] = []
        holes: list[int] = []
        rest = text
        while (at := rest.find(_OPEN)) >= 0:
            end = rest.find(_CLOSE, at)
            mark = rest[at:end + 1]
            if mark not in names or at == 0 or rest[at - 1] != '"' or rest[end + 1:end + 2] != '"':
                raise Unstencillable(f"a placeholder was changed, not placed whole: {text!r}")
            parts.append(rest[:at - 1])
            holes.append(names[mark])
            rest = rest[end + 2:]
        if _CLOSE in "".join(parts) + rest:
            raise Unstencillable(f"a placeholder was changed, not placed whole: {text!r}")
        parts.append(rest)
        self._set(tuple(parts), tuple(holes))

    def _set(self, parts: tuple[str, ...], holes: tuple[int, ...]) -> None:
        self._format = "".join(p.replace("{", "{{").replace("}", "}}") + f"{{{slot}}}"
                               for p, slot in zip(parts, holes, strict=False)) \
            + parts[-1].replace("{", "{{").replace("}", "}}")
        self._parts, self._holes, self._raw = parts, holes, False

    def cut(self, late: Collection[int]) -> tuple[list[Stencil], list[int]]:
        """This stencil cut at the holes of the ``late`` slots: the stencils of the text
        between them (filled now, from the other slots) and the late slots in order (their
        encoded values go between those texts later), for a text whose last few values are
        known only by another process than the one that fills the rest."""
        if self._raw:
            raise Unstencillable("a raw value has no text to cut")
        pieces: list[Stencil] = []
        order: list[int] = []
        parts: list[str] = [self._parts[0]]
        holes: list[int] = []
        for slot, after in zip(self._holes, self._parts[1:], strict=True):
            if slot in late:
                piece = Stencil.__new__(Stencil)
                piece._set(tuple(parts), tuple(holes))
                pieces.append(piece)
                order.append(slot)
                parts, holes = [after], []
            else:
                holes.append(slot)
                parts.append(after)
        piece = Stencil.__new__(Stencil)
        piece._set(tuple(parts), tuple(holes))
        pieces.append(piece)
        return pieces, order

    @property
    def filler(self) -> Any:
        """``fill_encoded`` with the encoded values as arguments, as the one C call it is
        (for a caller that fills millions: no Python frame per fill)."""
        return self._format.format

    @property
    def constant(self) -> bool:
        return not self._holes

    @property
    def holes(self) -> tuple[int, ...]:
        """The slots this stencil's holes take, in order."""
        return self._holes

    @property
    def raw_slot(self) -> int | None:
        """The slot a raw stencil is (its text is that value, as it is)."""
        return self._holes[0] if self._raw else None

    def fill(self, values: Sequence[Any]) -> str:
        """The text with ``values[slot]`` in each hole."""
        if self._raw:
            return str(values[self._holes[0]])
        return self.fill_encoded([json_value(v) for v in values])

    def fill_encoded(self, encoded: Sequence[str]) -> str:
        """``fill`` for values already JSON-encoded (``json_value``) by slot, for a caller
        that fills several stencils from the same values."""
        return self._format.format(*encoded)
