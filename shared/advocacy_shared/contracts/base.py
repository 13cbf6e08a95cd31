"""How events and request operations are declared, and the registry that holds them once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from advocacy_shared.topology import DOMAINS, Topology


class EventData(BaseModel):
    """The data of an event: an immutable fact, named in the past tense."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spec: ClassVar[EventSpec]


@dataclass(frozen=True)
class EventSpec:
    domain: str
    entity: str
    fact: str
    version: int

    @property
    def name(self) -> str:
        """The versioned, namespace-free name: `<entity>.<fact>.v<version>`."""
        return f"{self.entity}.{self.fact}.v{self.version}"

    @property
    def type(self) -> str:
        """The CloudEvents `type`, stable whatever namespace a platform runs in."""
        return f"advocacy.{self.domain}.{self.name}"

    def subject(self, topology: Topology) -> str:
        return topology.event_subject(self.domain, self.name)


EVENT_TYPES: dict[str, type[EventData]] = {}

E = TypeVar("E", bound=type[EventData])

EntityVersion = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "The entity's version after this fact, raised by one with each change in the "
            "transaction that made it: a consumer applies a fact only when it is newer than the "
            "one it holds. None on facts published before versions were carried."
        ),
    ),
]


def newer(held: int | None, incoming: int | None) -> bool:
    """Whether a fact carrying `incoming` (an `EntityVersion`) is newer than the copy holding
    `held`: a fact of the version already held is not (a second fact of one version changes
    nothing). Facts without versions apply in arrival order, as they did before versions were
    carried."""
    return held is None or incoming is None or incoming > held


def event(domain: str, entity: str, fact: str, version: int) -> Callable[[E], E]:
    """Declare an event class and register it under its CloudEvents type."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}")

    def register(cls: E) -> E:
        spec = EventSpec(domain, entity, fact, version)
        if spec.type in EVENT_TYPES:
            raise ValueError(f"event {spec.type} is declared twice")
        cls.spec = spec
        EVENT_TYPES[spec.type] = cls
        return cls

    return register


class RpcRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RpcReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Req = TypeVar("Req", bound=RpcRequest)
Rep = TypeVar("Rep", bound=RpcReply)


@dataclass(frozen=True)
class Operation(Generic[Req, Rep]):
    """A request-reply operation owned by one service: `advocacy.rpc.<service>.<name>`."""

    service: str
    name: str
    request: type[Req]
    reply: type[Rep]

    def subject(self, topology: Topology) -> str:
        return topology.rpc_subject(self.service, self.name)


class Encoded(Generic[Rep]):
    """A reply serialized once (`Encoded.of`), which a read handler may answer instead of the
    model when it answers the same reply again and again (the planner's kept playbook versions):
    the responder sends the bytes as they are, rather than serializing the model for every
    request (`encode_reply`). The caller cannot tell the two apart."""

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json

    @classmethod
    def of(cls, reply: Rep) -> Encoded[Rep]:
        return cls(reply.__pydantic_serializer__.to_json(reply))
