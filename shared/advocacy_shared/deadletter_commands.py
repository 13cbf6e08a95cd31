"""The `advocacy deadletters ...` command line (`deadletters.run_command` runs it): apart from
`deadletters`, whose imports (the consumers' machinery, SQLAlchemy, nats-py) `advocacy run` and the
other commands, which only parse these arguments, need not pay (`advocacy_devtools.cli`)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`deadletters list|show|replay`, for the `advocacy` command."""
    parser = commands.add_parser("deadletters", help="list, inspect and replay dead letters")
    actions = parser.add_subparsers(dest="deadletters_command", required=True)
    listing = actions.add_parser("list", help="dead letters, oldest first")
    listing.add_argument("--consumer", help="only this consumer's (e.g. planner_on_roster)")
    listing.add_argument("--limit", type=int, default=100)
    for name, text in [("show", "one dead letter and its message"), ("replay", "replay one")]:
        action = actions.add_parser(name, help=text)
        action.add_argument("sequence", type=int, help="its sequence, as `list` shows it")
    parked = actions.add_parser(
        "parked", help="a service's outbox rows that can never be published, with the reason"
    )
    parked.add_argument("service", help="gateway, planner, ambassadors, content or metrics")
    parked.add_argument("--limit", type=int, default=100)
