"""docker-compose.yml and the Dockerfile agree with the code. (There is no Docker engine where CI runs, so
the compose path itself is not run: these checks read the files.)"""

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import yaml

from services.intake.settings import IntakeSettings
from services.review.settings import ReviewSettings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def setting_names() -> set[str]:
    fields = {*IntakeSettings.model_fields, *ReviewSettings.model_fields}
    return {f"KIPP_{name.upper()}" for name in fields}


def test_the_compose_file_has_the_whole_system_with_health_checks() -> None:
    services = compose()["services"]
    assert {"postgres", "rabbitmq", "migrate", "intake", "review"} <= services.keys()
    assert "management" in services["rabbitmq"]["image"]
    for name in ("postgres", "rabbitmq", "intake", "review"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("intake", "review"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"postgres-data", "rabbitmq-data", "audit-key"} <= compose()["volumes"].keys()


def test_environment_names_only_settings_the_code_reads() -> None:
    for name in ("migrate", "intake", "review"):
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


def test_the_dockerfile_copies_what_exists_and_listens_everywhere() -> None:
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    copied = [words[1] for words in lines if words[0] == "COPY"]
    assert copied
    assert all((ROOT / path).exists() for path in copied)
    text = (ROOT / "Dockerfile").read_text()
    assert "KIPP_INTAKE_HOST=0.0.0.0" in text
    assert "KIPP_REVIEW_HOST=0.0.0.0" in text
    assert {"KIPP_INTAKE_HOST", "KIPP_REVIEW_HOST"} <= setting_names()


def test_the_services_run_the_round_files_make_run_uses_and_the_image_has_them() -> None:
    copied = [
        line.split()[2] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")
    ]
    for name in ("intake", "review"):
        directory = compose()["services"][name]["environment"]["KIPP_ROUNDS_DIR"]
        relative = directory.removeprefix("/app/")
        assert (ROOT / relative / "kipp-2023.json").exists(), name
        assert any(relative.startswith(target.removeprefix("./")) for target in copied), name
