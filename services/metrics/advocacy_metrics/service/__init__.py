"""The metrics service's domain logic. No commits and no broker here: the edges own both.

- `measures`: the formulas (totals, engagement rate, EMV, the company comparison, participation,
  weekly activity and trend), pure functions tested against hand-computed cases.
- `ingest`: posts from the content service, snapshots from NATS and from imports.
- `people`: enrolment, track and segments from the ambassadors service, programs' phases.
- `reports`: the aggregates the API answers.
- `rollups`: the daily rollups per dimension.
- `bi`: the BI datasets, a page at a time (the gateway streams them as Parquet or CSV).
- `schedule`: the periodic work: momentum (quiet, back, program drops) and cohort actuals.
"""
