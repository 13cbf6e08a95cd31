"""Size limits of everything that can reach an event, named once and used by every contract.

An event must always fit in one NATS message (`max_payload`, 1 MB by default): a row the relay can
never publish would otherwise wait in the outbox forever. So every string and every list of a
request that can end up in an event has a maximum, checked where the request is validated (a 422
at the API), and the outbox refuses an event larger than `MAX_EVENT_BYTES` in the writing
transaction. `tests/shared/test_limits.py` holds the rule: it fails for any unbounded string or
list in an event or a request model, and for any event whose largest valid instance would not fit.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

MAX_EVENT_BYTES = 64 * 1024
"""The largest event envelope (JSON bytes) the outbox accepts: far below NATS' 1 MB default."""

TOPIC_CHARS = 100
LANGUAGE_CHARS = 35  # the longest BCP 47 tag in common use fits
KEY_CHARS = 60
EXTERNAL_ID_CHARS = 200
FILTER_VALUE_CHARS = 400

Topic = Annotated[str, StringConstraints(max_length=TOPIC_CHARS)]
"""A topic of expertise or awareness."""

Language = Annotated[str, StringConstraints(max_length=LANGUAGE_CHARS)]
"""A language tag (`da`, `en-GB`)."""

Key = Annotated[str, StringConstraints(max_length=KEY_CHARS)]
"""A stable key (a discipline of the playbook)."""

ExternalId = Annotated[str, StringConstraints(max_length=EXTERNAL_ID_CHARS)]
"""The HR system's id of an employee (SCIM externalId)."""

Challenge = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A challenge of the playbook, as a program's objective names it."""

AnglePrompt = Annotated[str, StringConstraints(min_length=1, max_length=300)]
"""A prompt for an ambassador's own angle."""

ShortText = Annotated[str, StringConstraints(max_length=200)]
"""A name, a reason, a scope: one line."""

LongText = Annotated[str, StringConstraints(max_length=2000)]
"""A free-text explanation (an override's reason)."""
