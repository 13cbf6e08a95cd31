"""Subject and stream names, rendered for one namespace. The only place that spells them."""

from __future__ import annotations

from dataclasses import dataclass

DOMAINS: tuple[str, ...] = ("gateway", "planner", "ambassadors", "content", "metrics", "snapshots")
"""Every domain that publishes events; each has one stream."""

FEED_DOMAINS: frozenset[str] = frozenset({"snapshots"})
"""Domains of high-volume observations (post analytics snapshots, which other tools publish too):
a stream of their own, so their volume never sits in front of the facts of another domain, and
no webhooks (`WEBHOOK_DOMAINS`): a customer subscribes to what the platform concluded from them."""

WEBHOOK_DOMAINS: tuple[str, ...] = tuple(d for d in DOMAINS if d not in FEED_DOMAINS)


@dataclass(frozen=True)
class Topology:
    namespace: str

    def event_subject(self, domain: str, name: str) -> str:
        return f"{self.namespace}.{domain}.{name}"

    def stream_name(self, domain: str) -> str:
        return f"{self.namespace}_{domain}".upper()

    def stream_subjects(self, domain: str) -> list[str]:
        return [f"{self.namespace}.{domain}.>"]

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.namespace}_deadletter".upper()

    def dead_letter_subject(self, consumer: str) -> str:
        return f"{self.namespace}.deadletter.{consumer}"

    def rpc_subject(self, service: str, operation: str) -> str:
        return f"{self.namespace}.rpc.{service}.{operation}"

    def rpc_queue(self, service: str) -> str:
        return f"{self.namespace}-{service}"
