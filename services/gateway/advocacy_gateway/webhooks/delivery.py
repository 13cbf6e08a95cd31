"""The delivery worker: sends due deliveries, retries failures on a schedule, then gives up.

A background task of the gateway, woken after the intake commits and polling otherwise. Each pass
claims a batch of due deliveries (several replicas share them, see `DeliveryQueue.claim`), sends
them concurrently, and records each outcome in its own transaction. An attempt checks its target
again, connects to the address it checked, does not follow redirects, and keeps the answer's status
and time, never its body (the subscriber could otherwise read whatever an allowed target answers).
2xx is delivered; anything else is retried after the next delay of the schedule (or a longer
`Retry-After`), and once the schedule is spent the delivery has failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.webhooks import service, signing, targets
from advocacy_gateway.webhooks.models import WebhookDelivery, WebhookEndpoint
from advocacy_gateway.webhooks.repository import DeliveryQueue
from advocacy_gateway.webhooks.service import AttemptResult, DisableRule
from advocacy_shared import outbound, tracing
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import woken
from advocacy_shared.outbox import Outbox
from advocacy_shared.telemetry import WEBHOOK_DELIVERIES, WEBHOOK_SECONDS

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class DeliveryPolicy:
    retry_delays: tuple[float, ...]
    jitter: float
    timeout: float
    poll_interval: float
    batch_size: int
    max_concurrency: int
    disable: DisableRule
    targets: targets.TargetPolicy

    @classmethod
    def of(cls, settings: GatewaySettings) -> DeliveryPolicy:
        return cls(
            retry_delays=settings.webhooks_retry_delays_seconds,
            jitter=settings.webhooks_retry_jitter,
            timeout=settings.webhooks_timeout_seconds,
            poll_interval=settings.webhooks_poll_seconds,
            batch_size=settings.webhooks_batch_size,
            max_concurrency=settings.webhooks_max_concurrency,
            disable=DisableRule(
                after=timedelta(seconds=settings.webhooks_disable_after_seconds),
                min_failures=settings.webhooks_disable_min_failures,
            ),
            targets=targets.policy_of(settings),
        )

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is not claimed again: longer than any attempt lasts."""
        return timedelta(seconds=self.timeout + LEASE_MARGIN_SECONDS)

    def next_attempt(
        self, attempts_made: int, now: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try again after `attempts_made` failed attempts; None when the schedule is
        spent. A receiver's `Retry-After` may lengthen a delay up to the schedule's longest."""
        if attempts_made > len(self.retry_delays):
            return None
        delay = self.retry_delays[attempts_made - 1]
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.retry_delays)))
        return now + timedelta(seconds=delay)


@dataclass(frozen=True)
class Answer:
    status_code: int
    retry_after: float | None


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: DeliveryPolicy,
        box: SecretBox,
        outbox: Outbox,
        after_commit: Callable[[], None] = lambda: None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.box = box
        self.outbox = outbox
        self.after_commit = after_commit
        self.transport = transport
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._client = outbound.guarded_client(self.policy.timeout, transport=self.transport)
        self._task = asyncio.create_task(self.run(), name="gateway-webhook-delivery")

    @property
    def task(self) -> asyncio.Task[None]:
        """The delivery loop (after `start`)."""
        assert self._task is not None, "the worker has not started"
        return self._task

    async def stop(self) -> None:
        """Let the pass in progress finish (an attempt lasts `timeout` at most), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=self.policy.timeout + 1.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def run(self) -> None:
        """Deliver until stopped. Never raises: a failed pass is logged and retried later."""
        while not self._stopping:
            try:
                claimed = await self.deliver_due()
            except Exception:
                log.exception("webhook delivery pass failed; its deliveries are retried later")
                claimed = 0
            if claimed >= self.policy.batch_size:
                continue
            await woken(self._wake, self.policy.poll_interval)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """One pass: claim a batch of due deliveries and attempt each; returns how many."""
        now = utc_now()
        async with self.sessions() as session, session.begin():
            claimed = await DeliveryQueue(session).claim(
                now, self.policy.batch_size, now + self.policy.lease
            )
        gate = asyncio.Semaphore(self.policy.max_concurrency)

        async def attempt(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
            async with gate:
                await self.attempt(delivery, endpoint)

        outcomes = await asyncio.gather(
            *(attempt(delivery, endpoint) for delivery, endpoint in claimed),
            return_exceptions=True,
        )
        for (delivery, _), outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.error(
                    "webhook attempt not recorded; retried when its lease ends",
                    exc_info=outcome,
                    extra={"delivery": str(delivery.id)},
                )
        return len(claimed)

    async def attempt(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        if not tracing.active:
            await self._attempt(delivery, endpoint)
            return
        with tracing.span(
            f"webhook {delivery.event_type}",
            "client",
            parent=delivery.traceparent,
            attributes={
                "http.request.method": "POST",
                "advocacy.webhook.attempt": delivery.attempts + 1,
            },
        ):
            await self._attempt(delivery, endpoint)

    async def _attempt(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        started = time.perf_counter()
        result, retry_after = await self.send(delivery, endpoint)
        WEBHOOK_SECONDS.observe(time.perf_counter() - started)
        retry_at = None
        async with self.sessions() as session, session.begin():
            if result.succeeded:
                await service.record_success(session, delivery, result)
            else:
                retry_at = self.policy.next_attempt(delivery.attempts + 1, result.at, retry_after)
                await service.record_failure(
                    session, delivery, result, retry_at, self.policy.disable, self.outbox
                )
        WEBHOOK_DELIVERIES.labels(
            "delivered" if result.succeeded else "retrying" if retry_at else "failed"
        ).inc()
        self.after_commit()  # a disabled endpoint's event waits in the outbox
        log.info(
            "webhook attempt",
            extra={
                "organisation_id": str(delivery.organisation_id),
                "webhook": str(endpoint.id),
                "delivery": str(delivery.id),
                "status_code": result.status_code,
                "error": result.error,
            },
        )

    async def send(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint
    ) -> tuple[AttemptResult, float | None]:
        """POST the delivery's message, signed now; the result and any Retry-After."""
        now = utc_now()
        try:
            target = await targets.check(endpoint.url, self.policy.targets)
        except targets.TargetRefused as refused:
            return AttemptResult(at=now, error=f"target refused: {refused.message}"), None
        body = delivery.payload.encode()
        headers = signing.webhook_headers(
            endpoint.signing_secrets(now, self.box), delivery.message_id, int(now.timestamp()), body
        )
        tracing.inject(headers)  # the receiver may continue the trace (W3C trace context)
        try:
            async with asyncio.timeout(self.policy.timeout):
                answer = await self._post(target, headers, body)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return AttemptResult(at=now, error=_describe(exc)), None
        result = AttemptResult(at=now, status_code=answer.status_code)
        return result, answer.retry_after

    async def _post(self, target: targets.Target, headers: dict[str, str], body: bytes) -> Answer:
        """POST to the checked addresses; the answer's body is never read (it is not ours)."""
        if self._client is None:
            raise RuntimeError("the delivery worker is not started")
        answer = await outbound.send(
            self._client, target, "POST", max_bytes=0, content=body, headers=headers
        )
        return Answer(
            status_code=answer.status_code,
            retry_after=_seconds_until(answer.headers.get("retry-after")),
        )


def _seconds_until(retry_after: str | None) -> float | None:
    """A Retry-After header in seconds: either delay-seconds or an HTTP date."""
    if not retry_after:
        return None
    value = retry_after.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return (f"{name}: {text}" if text else name)[:500]
