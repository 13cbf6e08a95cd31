"""The onboarding state machine, and finding the ambassador whose state it moves.

Every other module of the package moves ambassadors with `move` (or `touch` for a change that
keeps the state) and finds them with `existing`, or with `locked` before changing them: the row
lock makes a command's read-check-write atomic (two concurrent consent grants: the second waits,
then sees the first's state and is refused), and the version it raises orders the facts
published about the ambassador. This module imports none of the others.
"""

from __future__ import annotations

from uuid import UUID

from advocacy_ambassadors.models import AmbassadorRecord
from advocacy_ambassadors.repository import AmbassadorRepository
from advocacy_shared.contracts.ambassadors import OnboardingState
from advocacy_shared.contracts.errors import Conflict, NotFound
from advocacy_shared.envelope import utc_now

TRANSITIONS: dict[str, frozenset[str]] = {
    "invited": frozenset({"consented", "offboarded"}),
    "consented": frozenset({"connected", "trained", "invited", "offboarded"}),
    "connected": frozenset({"trained", "consented", "invited", "offboarded"}),
    "trained": frozenset({"active", "invited", "offboarded"}),
    "active": frozenset({"quiet", "invited", "offboarded"}),
    "quiet": frozenset({"active", "invited", "offboarded"}),
    "offboarded": frozenset(),
}


def move(ambassador: AmbassadorRecord, to: OnboardingState) -> None:
    """Change the onboarding state, or refuse an impossible transition with a clear reason."""
    if to not in TRANSITIONS[ambassador.state]:
        allowed = ", ".join(sorted(TRANSITIONS[ambassador.state])) or "none"
        raise Conflict(
            f"an ambassador who is {ambassador.state} cannot become {to} (allowed: {allowed})",
            {"state": ambassador.state, "requested": to},
        )
    ambassador.state = to
    touch(ambassador)


def touch(ambassador: AmbassadorRecord) -> None:
    """A change that publishes a fact: the next version, which the fact carries."""
    ambassador.version += 1
    ambassador.updated_at = utc_now()


async def existing(ambassadors: AmbassadorRepository, ambassador_id: UUID) -> AmbassadorRecord:
    return _found(await ambassadors.get(ambassador_id), ambassador_id)


async def locked(ambassadors: AmbassadorRepository, ambassador_id: UUID) -> AmbassadorRecord:
    """The ambassador, locked for this transaction: for every command that changes them."""
    return _found(await ambassadors.locked(ambassador_id), ambassador_id)


def _found(record: AmbassadorRecord | None, ambassador_id: UUID) -> AmbassadorRecord:
    if record is None:
        raise NotFound(f"no ambassador {ambassador_id} in this organisation")
    return record
