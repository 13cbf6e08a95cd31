"""What a fault did to a stream of events, counted from what was sent and what was applied."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    events: int
    lost: int
    applied_twice: int
    out_of_order: int


def count(sent: Sequence[str], applied: Sequence[str]) -> Counts:
    """`sent`: event ids in publication order; `applied`: event ids in the order they were applied,
    one entry per application (a message applied twice appears twice).

    An application is out of order when an event published later was applied before it.
    """
    position = {event_id: index for index, event_id in enumerate(sent)}
    times = Counter(applied)
    latest = -1
    out_of_order = 0
    for event_id in dict.fromkeys(applied):  # first applications, in order
        index = position.get(event_id, -1)
        if index < latest:
            out_of_order += 1
        latest = max(latest, index)
    return Counts(
        events=len(sent),
        lost=sum(1 for event_id in sent if times[event_id] == 0),
        applied_twice=sum(n - 1 for event_id, n in times.items() if n > 1),
        out_of_order=out_of_order,
    )
