"""Reaching whichever node of a RabbitMQ cluster is up.

KIPP_AMQP_URL names the cluster's nodes the way a PostgreSQL URL names several hosts: one user, password
and virtual host, and a comma-separated list of host:port, `amqp://kipp-intake:pw@mq1:5672,mq2:5672,mq3:5672/`.
A URL with one host is a cluster of one. The broker client connects to one node at a time; when that
connection is refused or lost, the next attempt goes to the next node of the list, round and round, until
one answers. Quorum queues are replicated on every node, so whichever node answers serves the same queues.
"""

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from yarl import URL


def broker_urls(url: str) -> list[str]:
    """One URL per host of a multi-host AMQP URL, each with the same user, password, virtual host and
    query; a URL with one host (or none, for the client's default) as it is."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return [url]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    credentials, at, hosts = netloc.rpartition("@")
    prefix = f"{scheme}://{credentials}@" if at else f"{scheme}://"
    found = [f"{prefix}{host.strip()}{tail}" for host in hosts.split(",") if host.strip()]
    return found or [url]


def without_password(url: URL) -> str:
    return str(url.with_password("******") if url.password else url)


class BrokerAddresses:
    """The nodes of one cluster and which to try next. Every attempt to connect takes the next node of the
    list, so after a refusal or a lost connection the node that failed is the last one asked again. One
    object per client, shared by its successive connections, so a client that starts again after a
    refusal does not begin with the same node."""

    def __init__(self, amqp_url: str) -> None:
        self.urls = [URL(url) for url in broker_urls(amqp_url)]
        self._next = 0

    @property
    def upcoming(self) -> URL:
        return self.urls[self._next % len(self.urls)]

    def take(self) -> URL:
        url = self.upcoming
        self._next += 1
        return url

    def __str__(self) -> str:
        return ", ".join(without_password(url) for url in self.urls)


class FailoverConnection(RobustConnection):
    """aio-pika's robust connection (it restores channels, consumers and declarations after a reconnect),
    connecting to the next node of `addresses` at every attempt.

    aio-pika reads `url` once per attempt to connect (in Connection.connect, called by the reconnecting
    loop), and once while it is constructed, for the query's parameters. So the attribute is a property:
    after construction, each read takes the next address.

    After a lost connection, the client reaches the next node within milliseconds, before the cluster has
    noticed the lost node and elected new leaders for the quorum queues it led. A channel that declares,
    consumes or publishes on such a queue in that moment can keep the dead leader: in the HA drill
    (RabbitMQ 3.10) every publish on it was then nacked for minutes. So a reconnected client waits
    `SETTLE_SECONDS` before it restores its channels (publishers wait for it meanwhile)."""

    SETTLE_SECONDS = 2.0

    def __init__(self, url: URL, loop: Any = None, *, addresses: BrokerAddresses, **kwargs: Any) -> None:
        self._addresses = addresses
        self._address = addresses.upcoming
        self._constructed = False
        super().__init__(url, loop, **kwargs)
        self._constructed = True

    @property
    def url(self) -> URL:
        if self._constructed:
            self._address = self._addresses.take()
        return self._address

    @url.setter
    def url(self, _: URL) -> None:
        """aio-pika sets it once, from the first address; the addresses themselves do not change."""

    async def _on_connected(self) -> None:
        if self.connection_attempt:  # connected before: this is a reconnection after a lost connection
            await asyncio.sleep(self.SETTLE_SECONDS)
        await super()._on_connected()

    @property
    def address(self) -> URL:
        """The node this connection reached, or tried last."""
        return self._address

    def __str__(self) -> str:
        return without_password(self._address)


def failover_connection_class(addresses: BrokerAddresses) -> Callable[..., AbstractRobustConnection]:
    """What `aio_pika.connect_robust(connection_class=...)` takes to connect to any node of the cluster."""
    return functools.partial(FailoverConnection, addresses=addresses)


async def connect_robust(amqp_url: str) -> AbstractRobustConnection:
    """A robust connection to the first node of the cluster that answers, moving on when it is lost."""
    addresses = BrokerAddresses(amqp_url)
    return await aio_pika.connect_robust(
        str(addresses.upcoming), connection_class=failover_connection_class(addresses)
    )


async def connect_once(amqp_url: str, seconds_per_node: float) -> AbstractConnection:
    """A plain connection (for one command of the CLI) to the first node that answers, in the list's
    order; the last node's error when none does."""
    urls = broker_urls(amqp_url)
    for url in urls[:-1]:
        try:
            return await aio_pika.connect(url, timeout=seconds_per_node)
        except (OSError, TimeoutError):
            continue
    return await aio_pika.connect(urls[-1], timeout=seconds_per_node)
