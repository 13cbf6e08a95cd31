"""Which facts the planner's event-fed copies take (roster, enrolment and groups alike): each copy
keeps the version of the newest fact applied and takes only newer ones. Facts published before
versions were carried (None) apply in arrival order, as they always did. Most copies take only
newer facts (`advocacy_shared.contracts.base.newer`); a group's name takes facts not older."""

from __future__ import annotations


def not_older(held: int | None, incoming: int | None) -> bool:
    """A group's name: a rename and the membership change of one PATCH share a version and carry
    the same name, so a fact of the same version may apply."""
    return held is None or incoming is None or incoming >= held
