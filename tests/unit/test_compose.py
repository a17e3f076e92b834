"""docker-compose.yml, the Dockerfile and the broker's definitions agree with the code. (There is no Docker
engine where CI runs, so the compose path itself is not run: these checks read the files, and run the two
start-up scripts on their own.)"""

import importlib.util
import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.intake.settings import IntakeSettings
from services.review.settings import ReviewSettings
from shared.broker import (
    dead_letter_queue_declaration,
    exchange,
    intake_events_queue,
    retry_queue_declaration,
    review_events_queue,
)
from shared.contract import Topology

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
TOPOLOGY = Topology("kipp")
SERVICES = ("intake", "review")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def definitions() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFINITIONS.read_text())
    return document


def setting_names() -> set[str]:
    fields = {*IntakeSettings.model_fields, *ReviewSettings.model_fields}
    return {f"KIPP_{name.upper()}" for name in fields}


def kipp_services() -> list[str]:
    """The services built from the Dockerfile: migrate, intake, review and the operator's CLI."""
    return [name for name, service in compose()["services"].items() if service.get("build")]


def broker_user(service: str) -> str:
    username = urlsplit(compose()["services"][service]["environment"]["KIPP_AMQP_URL"]).username
    assert username
    return str(username)


def permissions(user: str) -> dict[str, str]:
    found = [p for p in definitions()["permissions"] if p["user"] == user and p["vhost"] == "/"]
    assert len(found) == 1, user
    return {kind: str(found[0][kind]) for kind in ("configure", "write", "read")}


def grants(pattern: str, name: str) -> bool:
    """As RabbitMQ matches a permission: anywhere in the name, unless the pattern is anchored."""
    return re.search(pattern, name) is not None


def mounts(service: str) -> dict[str, tuple[str, bool]]:
    """Where each named volume is mounted in `service`, and whether read-only."""
    found = {}
    for volume in compose()["services"][service].get("volumes", []):
        source, target, *mode = volume.split(":")
        found[source] = (target, mode == ["ro"])
    return found


@dataclass
class Stage:
    """One stage of the Dockerfile: FROM base [AS name], then its instructions as (INSTRUCTION, words)."""

    base: str
    name: str | None
    instructions: list[tuple[str, list[str]]] = field(default_factory=list)

    def run(self) -> list[str]:
        return [" ".join(words) for instruction, words in self.instructions if instruction == "RUN"]

    def copies(self) -> list[tuple[str | None, list[str], str]]:
        """Each COPY as (the stage it copies from, or None for the build context; sources; target)."""
        found = []
        for instruction, words in self.instructions:
            if instruction == "COPY":
                source = next((w.removeprefix("--from=") for w in words if w.startswith("--from=")), None)
                paths = [w for w in words if not w.startswith("--")]
                found.append((source, paths[:-1], paths[-1]))
        return found


def dockerfile_stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())  # continuation lines joined
    stages: list[Stage] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "FROM":
            stages.append(Stage(words[1], words[3] if words[2:3] == ["AS"] else None))
        else:
            stages[-1].instructions.append((words[0], words[1:]))
    return stages


def test_the_compose_file_has_the_whole_system_with_health_checks() -> None:
    services = compose()["services"]
    assert {"postgres", "rabbitmq", "migrate", "intake", "review"} <= services.keys()
    assert "management" in services["rabbitmq"]["image"]
    for name in ("postgres", "rabbitmq", "intake", "review"):
        assert services[name]["healthcheck"]["test"], name
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"postgres-data", "rabbitmq-data", "intake-keys", "review-keys", "public-keys"} <= compose()[
        "volumes"
    ].keys()


def test_environment_names_only_settings_the_code_reads() -> None:
    # KIPP_APP_DATABASE_URL and the KIPP_*_KEY_FILE variables included: a misspelt one would be ignored.
    for name in kipp_services():
        environment = compose()["services"][name]["environment"]
        assert environment.keys() <= setting_names(), name
        assert environment["KIPP_PREFIX"] == "kipp"


def test_commands_and_ports_match_the_entry_points_and_defaults() -> None:
    services = compose()["services"]
    for name, port in (("intake", IntakeSettings().intake_port), ("review", ReviewSettings().review_port)):
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert importlib.util.find_spec(f"services.{name}.__main__") is not None
        assert any(mapping.endswith(f":{port}") for mapping in services[name]["ports"]), name
        assert f"127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"])
    # The review port is a range, so `docker compose up --scale review=3` can publish each replica.
    assert services["review"]["ports"][0].split(":")[0].count("-") == 1
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert services["migrate"]["command"][0] in scripts
    assert services["migrate"]["command"][1] == "migrate"
    # `docker compose run --rm kipp dead-letters list`: the image's entrypoint, then the CLI.
    dockerfile = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    entrypoint = json.loads(" ".join(next(words[1:] for words in dockerfile if words[0] == "ENTRYPOINT")))
    assert services["kipp"]["entrypoint"] == [*entrypoint, "kipp"]
    assert "kipp" in scripts


def test_the_dockerfile_copies_what_exists_and_listens_everywhere() -> None:
    stages = dockerfile_stages()
    for position, stage in enumerate(stages):
        for source, paths, _ in stage.copies():
            if source is None:
                assert paths
                assert all((ROOT / path).exists() for path in paths), paths
            else:  # from a stage before this one
                assert source in {earlier.name for earlier in stages[:position]}, source
    text = (ROOT / "Dockerfile").read_text()
    assert "KIPP_INTAKE_HOST=0.0.0.0" in text
    assert "KIPP_REVIEW_HOST=0.0.0.0" in text
    assert {"KIPP_INTAKE_HOST", "KIPP_REVIEW_HOST"} <= setting_names()


def test_the_services_run_the_round_files_make_run_uses_and_the_image_has_them() -> None:
    final = dockerfile_stages()[-1]
    workdir = [words[0] for instruction, words in final.instructions if instruction == "WORKDIR"][-1]
    copied = [str(PurePosixPath(workdir) / target) for source, _, target in final.copies() if source is None]
    for name in SERVICES:
        directory = compose()["services"][name]["environment"]["KIPP_ROUNDS_DIR"]
        relative = directory.removeprefix("/app/")
        assert (ROOT / relative / "kipp-2023.json").exists(), name
        assert any(f"{directory}/".startswith(f"{target}/") for target in copied), name


def test_the_image_runs_as_a_user_that_is_not_root_and_completes_urls_from_secrets() -> None:
    final = dockerfile_stages()[-1]
    users = [words[0] for instruction, words in final.instructions if instruction == "USER"]
    assert users
    assert users[-1] == "kipp"
    # The user is made in the image, with a fixed id the key volumes' files belong to, and not root's.
    [useradd] = [command for command in final.run() if "useradd" in command]
    assert "--uid 10001" in useradd
    assert useradd.split("&&")[0].split()[-1] == "kipp"
    # Nothing after USER runs as root again, and the command runs as that user.
    after = final.instructions[[i for i, _ in final.instructions].index("USER") :]
    assert [i for i, _ in after].count("USER") == 1
    assert ("ENTRYPOINT", ['["kipp-entrypoint"]']) in after
    assert (None, ["deploy/entrypoint.sh"], "/usr/local/bin/kipp-entrypoint") in final.copies()


def test_the_image_is_built_in_stages_and_installs_the_lock_before_the_source() -> None:
    stages = dockerfile_stages()
    named = {stage.name: stage for stage in stages if stage.name}
    final = stages[-1]
    assert len(named) >= 2
    assert final.name is None
    # One stage installs the runtime lock, with its hashes, and copies nothing but the lock into the image:
    # its layers stay cached whatever else changes.
    [locked] = [stage for stage in stages if any("runtime.txt" in command for command in stage.run())]
    [install] = [command for command in locked.run() if "runtime.txt" in command]
    assert "--require-hashes" in install
    assert "-r /tmp/requirements/runtime.txt" in install
    for source, paths, _ in locked.copies():
        assert source is None
        assert all(path.startswith("requirements/") for path in paths), paths
    assert (
        None,
        ["requirements/build.txt", "requirements/runtime.txt"],
        "/tmp/requirements/",
    ) in locked.copies()
    # The source is copied only in a stage built on that one, which installs it without dependencies.
    with_source = [stage for stage in stages if any("services" in paths for _, paths, _ in stage.copies())]
    [built] = with_source
    assert built.base == locked.name
    assert any("--no-deps" in command and "pip install" in command for command in built.run())
    assert {"shared", "services", "pyproject.toml"} <= {p for _, paths, _ in built.copies() for p in paths}
    # The image itself takes that environment whole, and installs nothing.
    assert (built.name, ["/opt/kipp"], "/opt/kipp") in final.copies()
    assert not any("pip install" in command for command in final.run())
    assert ("ENV", ["PATH=/opt/kipp/bin:$PATH"]) in final.instructions
    # Neither the test and lint tools nor npm's stage reach it.
    text = (ROOT / "Dockerfile").read_text()
    assert "dev.txt" not in text
    assert "[dev]" not in text
    # The AsyncAPI page's files come from the same pinned script `make install` runs.
    [fetched] = [stage for stage in stages if any("asyncapi-react.sh" in c for c in stage.run())]
    assert (fetched.name, ["/asyncapi-react"], "./shared/asyncapi-react") in built.copies()
    assert "sh requirements/asyncapi-react.sh shared/asyncapi-react" in (ROOT / "Makefile").read_text()
    assert "shared/asyncapi-react" in (ROOT / ".dockerignore").read_text().splitlines()


def test_intake_and_review_restart_unless_stopped() -> None:
    for name in SERVICES:
        assert compose()["services"][name]["restart"] == "unless-stopped", name


def test_each_service_has_a_broker_user_of_its_own_and_none_is_guest() -> None:
    users = {name: broker_user(name) for name in SERVICES}
    assert users == {"intake": "kipp-intake", "review": "kipp-review"}
    assert broker_user("kipp") == "kipp-operator"
    defined = {user["name"] for user in definitions()["users"]}
    assert "guest" not in defined
    assert {*users.values(), "kipp-operator"} <= defined
    assert definitions()["vhosts"] == [{"name": "/"}]


def test_each_service_may_publish_only_its_own_events_and_consume_only_its_own_queue() -> None:
    intake, review = permissions("kipp-intake"), permissions("kipp-review")
    assert grants(intake["write"], "kipp.intake")
    assert not grants(intake["write"], "kipp.review")
    assert grants(review["write"], "kipp.review")
    assert not grants(review["write"], "kipp.intake")
    assert grants(intake["read"], TOPOLOGY.intake_queue)
    assert grants(review["read"], TOPOLOGY.review_queue)
    for queue in (TOPOLOGY.review_queue, TOPOLOGY.review_dead_letter_queue):
        assert not grants(intake["read"], queue), queue
    for queue in (TOPOLOGY.intake_queue, TOPOLOGY.intake_dead_letter_queue):
        assert not grants(review["read"], queue), queue
    # Anchored: a longer name that starts with an allowed one is not allowed with it.
    assert not grants(intake["write"], "kipp.intake.anything")
    assert not grants(review["read"], "x.kipp.review")


def test_each_service_may_declare_the_topology_and_dead_letter() -> None:
    # declare_topology declares every exchange and queue (configure) and binds every queue, which needs
    # write on the queue and read on the exchange; a consumer dead-letters to the dead-letter exchange,
    # and sends a message to wait for its next attempt through the retry exchange.
    for user in ("kipp-intake", "kipp-review"):
        allowed = permissions(user)
        for name in [*TOPOLOGY.all_exchanges(), *TOPOLOGY.all_queues()]:
            assert grants(allowed["configure"], name), (user, name)
        for queue in TOPOLOGY.all_queues():
            assert grants(allowed["write"], queue), (user, queue)
        for name in TOPOLOGY.all_exchanges():
            assert grants(allowed["read"], name), (user, name)
        assert grants(allowed["write"], TOPOLOGY.dead_letter_exchange), user
        assert grants(allowed["write"], TOPOLOGY.retry_exchange), user
        for queue in [
            *TOPOLOGY.retry_queues(TOPOLOGY.review_queue),
            *TOPOLOGY.retry_queues(TOPOLOGY.intake_queue),
        ]:
            assert not grants(allowed["read"], queue), (user, queue)  # the broker moves them, nobody consumes
        assert not grants(allowed["configure"], "amq.default"), user


def test_only_the_operator_is_an_administrator() -> None:
    tags = {user["name"]: user["tags"] for user in definitions()["users"]}
    assert "administrator" not in tags["kipp-intake"]
    assert "administrator" not in tags["kipp-review"]
    assert "administrator" in tags["kipp-operator"]
    assert all("password" not in user and "password_hash" not in user for user in definitions()["users"])


def test_the_broker_declares_the_topology_as_the_services_do() -> None:
    # If the broker created a queue with other arguments, the services' declarations would be refused.
    exchanges = {e["name"]: e for e in definitions()["exchanges"]}
    assert exchanges.keys() == set(TOPOLOGY.all_exchanges())
    for name, declared in exchanges.items():
        expected = exchange(name)
        assert declared["type"] == expected.type.value
        assert (declared["durable"], declared["auto_delete"]) == (expected.durable, expected.auto_delete)
        assert declared["arguments"] == (expected.arguments or {})
        assert declared["vhost"] == "/"
    queues = {q["name"]: q for q in definitions()["queues"]}
    assert queues.keys() == set(TOPOLOGY.all_queues())
    expected_queues = [
        intake_events_queue(TOPOLOGY),
        review_events_queue(TOPOLOGY),
        dead_letter_queue_declaration(TOPOLOGY.review_dead_letter_queue),
        dead_letter_queue_declaration(TOPOLOGY.intake_dead_letter_queue),
        *(
            retry_queue_declaration(TOPOLOGY, consuming, step)
            for consuming in (TOPOLOGY.review_queue, TOPOLOGY.intake_queue)
            for step in range(1, len(TOPOLOGY.retry_delays) + 1)
        ),
    ]
    assert {queue.name for queue in expected_queues} == queues.keys()
    for queue in expected_queues:
        declared = queues[queue.name]
        assert (declared["durable"], declared["auto_delete"]) == (queue.durable, queue.auto_delete)
        assert declared["arguments"] == queue.arguments, queue.name
        assert declared["vhost"] == "/"


def test_each_service_mounts_its_own_private_key_and_not_the_others() -> None:
    services = compose()["services"]
    intake, review, migrate = mounts("intake"), mounts("review"), mounts("migrate")
    assert "intake-keys" in intake
    assert "review-keys" not in intake
    assert "review-keys" in review
    assert "intake-keys" not in review
    assert intake["intake-keys"][1]  # read-only: migrate wrote it
    assert intake["public-keys"][1]
    assert review["public-keys"][1]
    assert not review["review-keys"][1]  # review creates the audit key on first use
    assert {volume: read_only for volume, (_, read_only) in migrate.items()} == {
        "intake-keys": False,
        "review-keys": False,
        "public-keys": False,
        "master-key": False,
    }
    # Every key file a container is told of lies in a volume it mounts.
    for name in ("migrate", *SERVICES):
        directories = {target for target, _ in mounts(name).values()}
        for variable, path in services[name]["environment"].items():
            if variable.endswith("_KEY_FILE"):
                assert str(Path(path).parent) in directories, (name, variable)
    intake_private, review_private = intake["intake-keys"][0], review["review-keys"][0]
    assert services["intake"]["environment"]["KIPP_INTAKE_SIGNING_KEY_FILE"].startswith(intake_private)
    assert services["review"]["environment"]["KIPP_REVIEW_SIGNING_KEY_FILE"].startswith(review_private)
    assert services["review"]["environment"]["KIPP_AUDIT_KEY_FILE"].startswith(review_private)
    for name in SERVICES:
        peer = "review" if name == "intake" else "intake"
        environment = services[name]["environment"]
        assert f"KIPP_{peer.upper()}_SIGNING_KEY_FILE" not in environment, name
        assert environment[f"KIPP_{peer.upper()}_PUBLIC_KEY_FILE"].startswith(mounts(name)["public-keys"][0])
        # What migrate writes is where the service reads it.
        for variable in (f"KIPP_{name.upper()}_SIGNING_KEY_FILE", f"KIPP_{peer.upper()}_PUBLIC_KEY_FILE"):
            assert environment[variable] == services["migrate"]["environment"][variable], (name, variable)
    # Review's audit and log keys: made by migrate where review reads them, and the checkpoints it signs
    # kept in a volume of their own; every path absolute, never relative to a working directory.
    review_environment = services["review"]["environment"]
    for variable in ("KIPP_AUDIT_KEY_FILE", "KIPP_LOG_KEY_FILE"):
        assert review_environment[variable] == services["migrate"]["environment"][variable], variable
    assert services["migrate"]["environment"]["KIPP_LOG_VKEY_FILE"].startswith(
        mounts("migrate")["public-keys"][0]
    )
    assert review_environment["KIPP_CHECKPOINT_DIR"] == mounts("review")["checkpoints"][0]
    for name in ("migrate", *SERVICES):
        for variable, path in services[name]["environment"].items():
            if variable.endswith(("_FILE", "_DIR")):
                assert path.startswith("/"), (name, variable)


def test_the_services_use_the_runtime_role_and_only_migrate_and_the_cli_the_owner() -> None:
    services = compose()["services"]
    for name in SERVICES:
        environment = services[name]["environment"]
        assert "KIPP_DATABASE_URL" not in environment, name
        assert urlsplit(environment["KIPP_APP_DATABASE_URL"]).username == "kipp_app"
    runtime = services["intake"]["environment"]["KIPP_APP_DATABASE_URL"]
    assert services["migrate"]["environment"]["KIPP_APP_DATABASE_URL"] == runtime
    assert urlsplit(services["migrate"]["environment"]["KIPP_DATABASE_URL"]).username == "postgres"


def test_passwords_come_from_secret_files_and_no_url_carries_one() -> None:
    document = compose()
    for name in kipp_services():
        service = document["services"][name]
        for variable, value in service["environment"].items():
            if variable.endswith("_URL"):
                assert urlsplit(value).password is None, (name, variable)
        targets = {s if isinstance(s, str) else s.get("target", s["source"]) for s in service["secrets"]}
        # Each URL has the secret deploy/entrypoint.sh completes it from, and nothing else is handed over.
        expected = {
            "KIPP_DATABASE_URL": "database-password",
            "KIPP_APP_DATABASE_URL": "app-database-password",
            "KIPP_AMQP_URL": "broker-password",
        }
        assert targets == {expected[v] for v in service["environment"] if v in expected}, name
    for secret in document["secrets"].values():
        assert secret["file"].startswith("deploy/secrets/")
    assert "deploy/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/secrets" in (ROOT / ".dockerignore").read_text().splitlines()
    assert document["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/postgres-password"
    )
    rabbitmq = document["services"]["rabbitmq"]["secrets"]
    assert set(rabbitmq) == {f"broker-{user}-password" for user in ("intake", "review", "operator")}


def run_script(script: str, *command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / script), *command],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_entrypoint_adds_each_password_to_its_url(tmp_path: Path) -> None:
    (tmp_path / "app-database-password").write_text("app-Secret_1.~\n")
    (tmp_path / "broker-password").write_text("b0b\n")
    env = {
        "SECRETS_DIR": str(tmp_path),
        "KIPP_APP_DATABASE_URL": "postgresql://kipp_app@postgres:5432/kipp",
        "KIPP_AMQP_URL": "amqp://kipp-intake@rabbitmq:5672/",
        "KIPP_DATABASE_URL": "postgresql://postgres@postgres:5432/kipp",  # no file: left as it is
    }
    done = run_script("entrypoint.sh", "env", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "KIPP_APP_DATABASE_URL=postgresql://kipp_app:app-Secret_1.~@postgres:5432/kipp" in lines
    assert "KIPP_AMQP_URL=amqp://kipp-intake:b0b@rabbitmq:5672/" in lines
    assert "KIPP_DATABASE_URL=postgresql://postgres@postgres:5432/kipp" in lines


@pytest.mark.parametrize(
    ("password", "url"),
    [
        ("a/b@c", "amqp://kipp-intake@rabbitmq:5672/"),  # would need escaping: refused
        ("", "amqp://kipp-intake@rabbitmq:5672/"),
        ("good", "amqp://kipp-intake:other@rabbitmq:5672/"),  # the URL has a password already
    ],
)
def test_the_entrypoint_refuses_what_it_cannot_add(tmp_path: Path, password: str, url: str) -> None:
    (tmp_path / "broker-password").write_text(password)
    done = run_script("entrypoint.sh", "env", env={"SECRETS_DIR": str(tmp_path), "KIPP_AMQP_URL": url})
    assert done.returncode != 0
    assert "KIPP_AMQP_URL" not in done.stdout


def test_the_broker_start_adds_every_users_password_and_nothing_else(tmp_path: Path) -> None:
    for user in ("intake", "review", "operator"):
        (tmp_path / f"broker-{user}-password").write_text(f"{user}-pw\n")
    out = tmp_path / "definitions.json"
    env = {"SECRETS_DIR": str(tmp_path), "DEFINITIONS_TEMPLATE": str(DEFINITIONS), "DEFINITIONS": str(out)}
    done = run_script("rabbitmq/start.sh", "echo", "started", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "started\n"
    written = json.loads(out.read_text())
    assert {user["name"]: user["password"] for user in written["users"]} == {
        "kipp-intake": "intake-pw",
        "kipp-review": "review-pw",
        "kipp-operator": "operator-pw",
    }
    for user in written["users"]:
        del user["password"]
    assert written == definitions()


def test_the_broker_start_refuses_a_missing_or_unusable_password(tmp_path: Path) -> None:
    (tmp_path / "broker-intake-password").write_text('pw"with"quotes')
    (tmp_path / "broker-review-password").write_text("pw")
    env = {"SECRETS_DIR": str(tmp_path), "DEFINITIONS_TEMPLATE": str(DEFINITIONS), "DEFINITIONS": "/dev/null"}
    done = run_script("rabbitmq/start.sh", "echo", "started", env=env)
    assert done.returncode != 0
    assert "started" not in done.stdout


def test_the_broker_loads_the_definitions_start_writes() -> None:
    service = compose()["services"]["rabbitmq"]
    conf = (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text()
    settings = dict(
        line.split(" = ", 1) for line in conf.splitlines() if line.strip() and not line.startswith("#")
    )
    assert settings["definitions.import_backend"] == "local_filesystem"
    assert settings["definitions.local.path"] == "/etc/rabbitmq/definitions.json"  # start.sh's default
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/30-kipp.conf:ro" in service["volumes"]
    assert "./deploy/rabbitmq:/etc/rabbitmq/kipp:ro" in service["volumes"]
    assert service["command"][:2] == ["sh", "/etc/rabbitmq/kipp/start.sh"]
