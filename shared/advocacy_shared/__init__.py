"""Contracts and plumbing shared by every service of the advocacy platform.

Contracts (events, requests, subjects) are defined here once; services import them and never
redefine them. See docs/architecture.md for how the pieces fit together.
"""
