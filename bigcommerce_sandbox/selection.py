"""Ordered, paged views over base records (built on demand from their id) merged with the few
records that tests changed or added, without materialising the base records; in id order, or
in a fixed scramble of it for lists whose order the API leaves unstated."""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import gcd
from typing import Protocol, overload

Key = tuple[int, int]  # (sort value, id): ties are broken by id


class Selection(Protocol):
    """Records in a fixed order that can be counted and sliced cheaply."""

    def __len__(self) -> int: ...

    def page(self, offset: int, limit: int) -> list[dict]:
        """Up to `limit` records starting at 0-based `offset`."""
        ...


@dataclass(frozen=True)
class ListSelection:
    """A selection that is already a (small) sorted list."""

    records: list[dict]

    def __len__(self) -> int:
        return len(self.records)

    def page(self, offset: int, limit: int) -> list[dict]:
        """Up to `limit` records starting at 0-based `offset`."""
        return self.records[offset : offset + limit]


class RangeSelection:
    """Base ids first..last whose sort key never decreases with id, minus hidden and replaced
    ids, merged with `extras` (already filtered records with their keys).

    Counting and seeking use arithmetic and bisection, so a page costs O(limit + log n)
    record builds and lookups whatever the size of the store.
    """

    def __init__(
        self,
        *,
        first: int,
        last: int,
        key: Callable[[int], int],
        build: Callable[[int], dict],
        replaced: Sequence[int],
        extras: list[tuple[Key, dict]],
        hidden: Callable[[int], bool] | None = None,
        hidden_up_to: Callable[[int], int] | None = None,
        descending: bool = False,
    ) -> None:
        self._first = first
        self._last = max(last, first - 1)
        self._key = key
        self._build = build
        self._hidden = hidden
        self._hidden_up_to = hidden_up_to
        self._replaced = [
            record_id
            for record_id in sorted(set(replaced))
            if first <= record_id <= last and not (hidden and hidden(record_id))
        ]
        self._replaced_set = set(self._replaced)
        self._extras = sorted(extras, key=lambda pair: pair[0])
        self._descending = descending
        self._base_total = self._count_to(self._last)
        self._positions: list[int] | None = None

    def __len__(self) -> int:
        return self._base_total + len(self._extras)

    def __iter__(self) -> Iterator[dict]:
        for offset in range(0, len(self), 250):
            yield from self.page(offset, 250)

    def page(self, offset: int, limit: int) -> list[dict]:
        """Up to `limit` records starting at 0-based `offset`."""
        if not self._descending:
            return self._ascending(offset, limit)
        end = len(self) - offset
        start = max(0, end - limit)
        return self._ascending(start, end - start)[::-1] if end > 0 else []

    def _count_to(self, record_id: int) -> int:
        """How many base candidates have an id in first..record_id."""
        if record_id < self._first:
            return 0
        count = record_id - self._first + 1 - bisect_right(self._replaced, record_id)
        if self._hidden_up_to:
            count -= self._hidden_up_to(record_id) - self._hidden_up_to(self._first - 1)
        return count

    def _select(self, rank: int) -> int:
        """The id of the base candidate at a 0-based rank."""
        ids = range(self._first, self._last + 1)
        return self._first + bisect_left(ids, rank + 1, key=self._count_to)

    def _next(self, record_id: int) -> int:
        record_id += 1
        while record_id in self._replaced_set or (self._hidden and self._hidden(record_id)):
            record_id += 1
        return record_id

    def _merged_positions(self) -> list[int]:
        """Where each extra lands in the merged order."""
        if self._positions is None:
            ids = range(self._first, self._last + 1)
            self._positions = []
            for rank, (key, _) in enumerate(self._extras):
                before = bisect_left(
                    ids, key, key=lambda record_id: (self._key(record_id), record_id)
                )
                self._positions.append(self._count_to(self._first + before - 1) + rank)
        return self._positions

    def _ascending(self, offset: int, limit: int) -> list[dict]:
        positions = self._merged_positions()
        extra = bisect_left(positions, offset)
        base_rank = offset - extra
        record_id: int | None = None
        records: list[dict] = []
        for index in range(offset, offset + limit):
            if extra < len(positions) and positions[extra] == index:
                records.append(self._extras[extra][1])
                extra += 1
            elif base_rank < self._base_total:
                record_id = self._select(base_rank) if record_id is None else self._next(record_id)
                records.append(self._build(record_id))
                base_rank += 1
            else:
                break
        return records


class ScrambledIds(Sequence[int]):
    """Base ids 1..count in a fixed scrambled order (an affine permutation of positions, drawn
    from two numbers), less the deleted ones, followed by the added ids; O(1) per id."""

    def __init__(
        self, count: int, scramble: tuple[int, int], deleted: Iterable[int], added: list[int]
    ) -> None:
        self._count = count
        self._modulus = max(count, 1)
        self._step = 1 + scramble[0] % self._modulus
        while gcd(self._step, self._modulus) > 1:
            self._step += 1
        self._unstep = pow(self._step, -1, self._modulus)
        self._shift = scramble[1] % self._modulus
        self._gaps = sorted(self.position(row_id) for row_id in deleted)
        self._added = added

    def position(self, row_id: int) -> int:
        """Where a base id stands in the scrambled order (0-based, deleted ids counted)."""
        return (row_id - 1 - self._shift) * self._unstep % self._modulus

    def __len__(self) -> int:
        return self._count - len(self._gaps) + len(self._added)

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[rank] for rank in range(*index.indices(len(self)))]
        kept = self._count - len(self._gaps)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index >= kept:
            return self._added[index - kept]
        position = index
        for gap in self._gaps:
            if gap > position:
                break
            position += 1
        return (position * self._step + self._shift) % self._modulus + 1


@dataclass(frozen=True)
class IdSelection:
    """Rows in list order, each built only when its page is asked for."""

    ids: Sequence[int]
    fetch: Callable[[int], dict]

    def __len__(self) -> int:
        return len(self.ids)

    def page(self, offset: int, limit: int) -> list[dict]:
        """Up to `limit` rows starting at 0-based `offset`."""
        return [self.fetch(row_id) for row_id in self.ids[offset : offset + limit]]


class RecordView(Sequence[dict]):
    """A lazily built, read-only list of records: `len()` is cheap, items are copies."""

    def __init__(self, selection: Selection) -> None:
        self._selection = selection

    def __len__(self) -> int:
        return len(self._selection)

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index: int | slice) -> dict | list[dict]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return copy.deepcopy(self._selection.page(index, 1)[0])

    def __iter__(self) -> Iterator[dict]:
        for offset in range(0, len(self), 250):
            yield from copy.deepcopy(self._selection.page(offset, 250))
