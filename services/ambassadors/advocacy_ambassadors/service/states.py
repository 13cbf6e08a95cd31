"""The onboarding state machine, and finding the ambassador whose state it moves.

Every other module of the package moves ambassadors with `move` and finds them with `existing`;
this module imports none of them.
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
    ambassador.updated_at = utc_now()


async def existing(ambassadors: AmbassadorRepository, ambassador_id: UUID) -> AmbassadorRecord:
    record = await ambassadors.get(ambassador_id)
    if record is None:
        raise NotFound(f"no ambassador {ambassador_id} in this organisation")
    return record
