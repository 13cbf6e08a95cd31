"""Wiring of the content service."""

from __future__ import annotations

from advocacy_content.handlers import consumers
from advocacy_content.models import messaging
from advocacy_content.posting import Publisher
from advocacy_content.rpc import PostingWiring, posting_wiring, server
from advocacy_content.settings import ContentSettings
from advocacy_shared.linkedin import LinkedInClient
from advocacy_shared.linkedin.posts import LinkedInPosts
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    settings = settings or ContentSettings()
    assert isinstance(settings, ContentSettings)
    runtime = ServiceRuntime(settings, messaging, consumers, server, background=[publish_posts])
    clients: list[RpcClient] = []

    def rpc() -> RpcClient:
        """Requests to other services, on the runtime's own NATS connection (once started)."""
        if not clients:
            clients.append(
                RpcClient(
                    runtime.broker.connection, runtime.subject_of, settings.rpc_timeout_seconds
                )
            )
        return clients[0]

    adapters: list[LinkedInPosts] = []

    def linkedin() -> LinkedInPosts:
        """The LinkedIn adapter, made when the first post is due (see `Publisher`)."""
        if not adapters:
            adapters.append(LinkedInPosts(LinkedInClient(settings.linkedin)))
        return adapters[0]

    posting_wiring.wiring = PostingWiring(Publisher(settings, linkedin, rpc), rpc)
    return runtime


async def publish_posts(runtime: ServiceRuntime) -> None:
    """Due posts go to LinkedIn; manual-path reminders are raised (advocacy_content.posting)."""
    await posting_wiring().publisher.run(runtime)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_content", ContentSettings, create_runtime, argv)
