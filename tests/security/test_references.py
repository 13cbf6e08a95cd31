"""Finding 12: references to another service's ids are checked. An ambassador's `program_id` and a
cohort's ambassador ids must be the organisation's own: unknown ones, and another organisation's,
answer 422 naming the field."""

from __future__ import annotations

from uuid import uuid4

from tests.actors import new_ambassador, new_program, ready_organisation
from tests.security.conftest import Live

PILOT = {
    "targets": {"active_rate": 0.6},
    "review_date": "2027-03-31",
}


async def test_an_ambassadors_program_must_be_the_organisations(live: Live) -> None:
    acme = await ready_organisation(live, "Acme")
    globex = await ready_organisation(live, "Globex")
    theirs = await new_program(live, globex)
    for program_id in (str(uuid4()), theirs):
        response = await live.http.post(
            f"/api/v1/orgs/{acme}/ambassadors",
            json={"email": "ada@acme.test", "display_name": "Ada", "program_id": program_id},
            headers=live.admin,
        )
        assert response.status_code == 422, response.text
        assert response.json()["context"]["field"] == "program_id"
    ours = await new_program(live, acme)
    accepted = await new_ambassador(live, acme, "ada@acme.test", program_id=ours)
    assert accepted["program_id"] == ours


async def test_a_cohort_names_only_the_organisations_ambassadors(live: Live) -> None:
    acme = await ready_organisation(live, "Acme")
    globex = await ready_organisation(live, "Globex")
    program = await new_program(live, acme)
    ours = (await new_ambassador(live, acme, "ada@acme.test"))["id"]
    theirs = (await new_ambassador(live, globex, "bo@globex.test"))["id"]
    phase = f"/api/v1/orgs/{acme}/programs/{program}/phases/pilot"
    for stranger in (str(uuid4()), theirs):
        cohort = {"ambassador_ids": [ours, stranger]}
        response = await live.http.put(phase, json={**PILOT, "cohort": cohort}, headers=live.admin)
        assert response.status_code == 422, response.text
        context = response.json()["context"]
        assert context == {"field": "cohort.ambassador_ids", "unknown": [stranger]}
    accepted = await live.http.put(
        phase, json={**PILOT, "cohort": {"ambassador_ids": [ours]}}, headers=live.admin
    )
    assert accepted.status_code == 200, accepted.text
