"""The ambassadors service's domain logic. No commits and no broker here: the edges own both.

The onboarding journey is an explicit state machine:
invited → consented → connected → trained → active ⇄ quiet → offboarded. Training may be
recorded before the LinkedIn connection; a revoked consent sends the ambassador back to invited.

One module per concern; callers import the module they need (`from
advocacy_ambassadors.service import journey`), never names from this package:

- `states`: the state machine (`TRANSITIONS`, `move`) and `existing`, which finds an ambassador.
- `journey`: the ambassador's own steps (invite, consent, training, profile, activity, offboard,
  erase) and `view`.
- `invitations`: invitations and the consent texts they show.
- `linkedin`: the LinkedIn connection (authorize, complete, token, sweep, disconnect).
- `roster`: the SCIM roster of employees, and offboarding the ambassadors linked to them.
- `tenants`: provisioning an organisation.

Imports go one way only: `states` ← `linkedin` ← `journey` ← `invitations` ← `tenants`, and
`journey` ← `roster`.
"""
