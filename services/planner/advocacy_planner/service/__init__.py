"""The planner's domain logic, one module per concern. No commits and no broker here: the edges
(`rpc`, `handlers`) own both.

- `playbook`: the versioned playbook, seeded from the default matrix for every organisation.
- `programs`: programs, checked against the playbook, and their readiness assessments.
- `plans`: a program's plan, gathered for the fit check (the rules are in `advocacy_planner.fit`).
- `phases`: pilot → targeted recruitment → organisation-wide; targets, actuals, graduation and
  overrides, each step kept in the program's audit trail.
- `groups`: the event-fed copy of HR groups and their members, and the groups the targeted
  recruitment phase recruits from ("everyone in Sales").
- `recruitment`: the event-fed copies of roster and enrolment facts, and whom to invite next.
- `leadership`: the leadership track's report.

The modules import one another in that order only (never back up the list).
"""
