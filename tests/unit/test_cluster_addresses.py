"""How the settings name a cluster: several broker nodes in one AMQP URL, a primary and its standby in one
PostgreSQL URL, and the order the broker client tries the nodes in."""

import pytest
from yarl import URL

from shared.failover import BrokerAddresses, FailoverConnection, broker_urls
from shared.settings import CommonSettings, with_user


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", ["amqp://guest:guest@127.0.0.1:5672/"]),
        (
            "amqp://kipp-intake:s3cret@mq1:5672,mq2:5673,mq3/kipp?heartbeat=30",
            [
                "amqp://kipp-intake:s3cret@mq1:5672/kipp?heartbeat=30",
                "amqp://kipp-intake:s3cret@mq2:5673/kipp?heartbeat=30",
                "amqp://kipp-intake:s3cret@mq3/kipp?heartbeat=30",
            ],
        ),
        ("amqp://mq1:5672, mq2:5672", ["amqp://mq1:5672", "amqp://mq2:5672"]),
        ("amqp://u@[::1]:5672,[::1]:5673/", ["amqp://u@[::1]:5672/", "amqp://u@[::1]:5673/"]),
        ("amqps://u:p%40ss@h1:5671,h2:5671/", ["amqps://u:p%40ss@h1:5671/", "amqps://u:p%40ss@h2:5671/"]),
        ("amqp:///", ["amqp:///"]),  # no host at all: the client's default, as before
    ],
)
def test_a_multi_host_url_is_one_url_per_node_with_the_same_user_and_vhost(
    url: str, expected: list[str]
) -> None:
    assert broker_urls(url) == expected


def test_each_attempt_takes_the_next_node_round_the_list() -> None:
    addresses = BrokerAddresses("amqp://u:p@mq1:5672,mq2:5672,mq3:5672/")
    taken = [addresses.take().host for _ in range(7)]
    assert taken == ["mq1", "mq2", "mq3", "mq1", "mq2", "mq3", "mq1"]
    assert str(addresses) == "amqp://u:******@mq1:5672/, amqp://u:******@mq2:5672/, amqp://u:******@mq3:5672/"


async def test_a_connection_tries_the_first_node_first_then_the_next_at_every_attempt() -> None:
    addresses = BrokerAddresses("amqp://u:secret@mq1:5672,mq2:5672/?reconnect_interval=2")
    first = URL("amqp://u:secret@mq1:5672/?reconnect_interval=2")
    connection = FailoverConnection(first, addresses=addresses)
    # Constructing it read the query (aio-pika does), without using up an attempt.
    assert connection.reconnect_interval == 2
    assert connection.address.host == "mq1"
    assert [connection.url.host for _ in range(3)] == ["mq1", "mq2", "mq1"]  # as aio-pika reads it
    assert str(connection) == "amqp://u:******@mq1:5672/?reconnect_interval=2"  # logged without the password
    # A second connection of the same client (after a refused first attempt) goes on from there.
    again = FailoverConnection(URL("amqp://u:secret@mq1:5672/"), addresses=addresses)
    assert again.url.host == "mq2"


def test_the_runtime_role_keeps_every_host_and_the_query_of_a_multi_host_database_url() -> None:
    owner = "postgresql://postgres:pw@db1:5432,db2:5433/kipp?target_session_attrs=read-write"
    expected = "postgresql://kipp_app@db1:5432,db2:5433/kipp?target_session_attrs=read-write"
    assert with_user(owner, "kipp_app") == expected
    assert CommonSettings(database_url=owner).runtime_database_url == expected
    assert (
        with_user("postgresql://postgres@[::1]:5432/kipp", "kipp_app")
        == "postgresql://kipp_app@[::1]:5432/kipp"
    )
    assert with_user("postgresql://127.0.0.1/kipp", "kipp_app") == "postgresql://kipp_app@127.0.0.1/kipp"
