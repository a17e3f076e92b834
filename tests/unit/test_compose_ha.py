"""docker-compose.yml's ha profile: three RabbitMQ nodes in one cluster and a PostgreSQL hot standby, and
every service pointed at all of them. (No Docker engine where CI runs: these checks read the files and run
the scripts that can run here; the HA drill runs the same topology on this machine's own binaries.)"""

import os
import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.failover import broker_urls
from tests.unit.test_compose import ROOT, compose, kipp_services, run_script

BROKER_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
DATABASE_HOSTS = "postgres:5432,postgres-standby:5432"


def conf(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split(" = ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_ha_profile_adds_two_broker_nodes_and_a_standby_and_nothing_else() -> None:
    services = compose()["services"]
    in_profile = {name for name, service in services.items() if "ha" in service.get("profiles", [])}
    assert in_profile == {"rabbitmq-2", "rabbitmq-3", "postgres-standby"}
    for name in ("postgres", "rabbitmq", "migrate", "intake", "review"):
        assert "profiles" not in services[name], name  # the system without the profile is unchanged
    for name in in_profile:
        assert services[name]["healthcheck"]["test"], name
    assert services["postgres-standby"]["image"] == services["postgres"]["image"]


def test_the_broker_nodes_are_one_cluster_with_one_cookie_and_data_of_their_own() -> None:
    services = compose()["services"]
    joining = conf(ROOT / "deploy" / "rabbitmq" / "join-cluster.conf")
    assert joining["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = {
        value for key, value in joining.items() if key.startswith("cluster_formation.classic_config.nodes.")
    }
    # A node is rabbit@<hostname>: the names the joining nodes look for are the services' host names.
    assert listed == {f"rabbit@{services[name]['hostname']}" for name in BROKER_NODES}
    assert [services[name]["hostname"] for name in BROKER_NODES] == list(BROKER_NODES)
    data = set()
    for name in BROKER_NODES:
        node = services[name]
        assert node["image"] == services["rabbitmq"]["image"]
        assert node["command"] == services["rabbitmq"]["command"]  # the same definitions and users
        assert "broker-erlang-cookie" in node["secrets"]
        assert set(services["rabbitmq"]["secrets"]) == set(node["secrets"])
        volumes = node["volumes"]
        assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/30-kipp.conf:ro" in volumes
        joins = any(
            v.startswith("./deploy/rabbitmq/join-cluster.conf:/etc/rabbitmq/conf.d/") for v in volumes
        )
        assert joins == (name != "rabbitmq"), name  # the first node starts the cluster the others join
        [own] = [v.split(":")[0] for v in volumes if v.endswith(":/var/lib/rabbitmq")]
        data.add(own)
        if name != "rabbitmq":
            assert node["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert len(data) == 3
    assert data <= compose()["volumes"].keys()


def test_quorum_queues_get_a_replica_on_each_node_that_joins() -> None:
    settings = conf(ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf")
    assert settings["quorum_queue.continuous_membership_reconciliation.enabled"] == "true"
    assert int(settings["quorum_queue.continuous_membership_reconciliation.target_group_size"]) == len(
        BROKER_NODES
    )


def test_every_service_names_every_broker_node_and_both_database_servers() -> None:
    for name in kipp_services():
        environment = compose()["services"][name]["environment"]
        for variable, url in environment.items():
            if variable.endswith("DATABASE_URL"):
                parts = urlsplit(url)
                assert parts.netloc.rpartition("@")[2] == DATABASE_HOSTS, (name, variable)  # primary first
                assert parse_qs(parts.query) == {"target_session_attrs": ["read-write"]}, (name, variable)
        if "KIPP_AMQP_URL" in environment:
            nodes = [urlsplit(url) for url in broker_urls(environment["KIPP_AMQP_URL"])]
            assert [(node.hostname, node.port) for node in nodes] == [(n, 5672) for n in BROKER_NODES], name
            assert len({(node.username, node.path) for node in nodes}) == 1


def test_the_standby_replicates_as_the_role_the_primary_creates_and_is_named_for_synchronous_commit() -> None:
    services = compose()["services"]
    primary, standby = services["postgres"], services["postgres-standby"]
    assert (
        "./deploy/postgres/replication.sh:/docker-entrypoint-initdb.d/replication.sh:ro" in primary["volumes"]
    )
    assert "replication-password" in primary["secrets"]
    assert "replication-password" in standby["secrets"]
    assert standby["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert standby["environment"]["PRIMARY_HOST"] == "postgres"
    [script] = [v.split(":")[1] for v in standby["volumes"] if v.startswith("./deploy/postgres:")]
    assert standby["entrypoint"] == ["sh", f"{script}/standby.sh"]
    replication = (ROOT / "deploy" / "postgres" / "replication.sh").read_text()
    assert "CREATE ROLE replicator WITH REPLICATION LOGIN" in replication
    assert "host replication replicator all scram-sha-256" in replication
    starting = (ROOT / "deploy" / "postgres" / "standby.sh").read_text()
    assert "-U replicator" in starting
    assert "application_name=standby" in starting
    # Synchronous only when asked, naming that application name (unset without the standby).
    assert "synchronous_standby_names=${KIPP_SYNCHRONOUS_STANDBY:-}" in primary["command"]
    assert "KIPP_SYNCHRONOUS_STANDBY=standby" in (ROOT / "docker-compose.yml").read_text()
    assert not any(
        v.endswith(":/var/lib/postgresql/data") and v.startswith("postgres-data") for v in standby["volumes"]
    )


@pytest.mark.parametrize("script", ["postgres/standby.sh", "postgres/replication.sh", "rabbitmq/start.sh"])
def test_the_start_scripts_are_valid_shell(script: str) -> None:
    done = subprocess.run(
        ["sh", "-n", str(ROOT / "deploy" / script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_new_secrets_makes_every_secret_the_compose_file_hands_over(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "new-secrets.sh").write_bytes((ROOT / "deploy" / "new-secrets.sh").read_bytes())
    done = subprocess.run(["sh", str(deploy / "new-secrets.sh")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    made = {path.name for path in (deploy / "secrets").iterdir()}
    declared = {Path(secret["file"]).name for secret in compose()["secrets"].values()}
    assert made == declared
    assert all(re.fullmatch(r"[0-9a-f]{64}\n", (deploy / "secrets" / name).read_text()) for name in made)


def test_the_broker_start_installs_the_clusters_erlang_cookie(tmp_path: Path) -> None:
    for user in ("intake", "review", "operator"):
        (tmp_path / f"broker-{user}-password").write_text(f"{user}-pw\n")
    (tmp_path / "broker-erlang-cookie").write_text("0123abcd\n")
    cookie = tmp_path / "data" / ".erlang.cookie"
    cookie.parent.mkdir()
    env = {
        "SECRETS_DIR": str(tmp_path),
        "DEFINITIONS_TEMPLATE": str(ROOT / "deploy" / "rabbitmq" / "definitions.json"),
        "DEFINITIONS": str(tmp_path / "definitions.json"),
        "ERLANG_COOKIE": str(cookie),
    }
    for _ in range(2):  # at every start, over the read-only cookie the last start left
        done = run_script("rabbitmq/start.sh", "echo", "started", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "started\n"
    assert cookie.read_text() == "0123abcd"
    assert stat.S_IMODE(os.stat(cookie).st_mode) == 0o400


def test_the_entrypoint_adds_the_password_once_to_a_url_naming_several_hosts(tmp_path: Path) -> None:
    (tmp_path / "broker-password").write_text("b0b\n")
    (tmp_path / "app-database-password").write_text("app\n")
    env = {
        "SECRETS_DIR": str(tmp_path),
        "KIPP_AMQP_URL": "amqp://kipp-intake@rabbitmq:5672,rabbitmq-2:5672,rabbitmq-3:5672/",
        "KIPP_APP_DATABASE_URL": f"postgresql://kipp_app@{DATABASE_HOSTS}/kipp?target_session_attrs=read-write",
    }
    done = run_script("entrypoint.sh", "env", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "KIPP_AMQP_URL=amqp://kipp-intake:b0b@rabbitmq:5672,rabbitmq-2:5672,rabbitmq-3:5672/" in lines
    assert (
        f"KIPP_APP_DATABASE_URL=postgresql://kipp_app:app@{DATABASE_HOSTS}/kipp?target_session_attrs=read-write"
        in lines
    )
    urls = broker_urls(next(line for line in lines if line.startswith("KIPP_AMQP_URL=")).split("=", 1)[1])
    assert [urlsplit(url).password for url in urls] == ["b0b", "b0b", "b0b"]
