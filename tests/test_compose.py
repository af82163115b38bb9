"""docker-compose.yml holds the production layout: nginx the only published port, in front of two API
replicas that each talk to their own Rasa replica, secrets required rather than defaulted, health checks,
migrations once before the API starts, and Rasa's trackers and locks in Redis — and the file is a valid
Compose Specification (the compose-spec validator; no docker CLI needed)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
SECRETS = ("SERVICE_TOKEN", "STAFF_SECRET", "RASA_TOKEN", "METERING_TOKEN")


def test_only_nginx_is_published_and_it_fronts_both_api_replicas():
    assert [name for name, service in SERVICES.items() if service.get("ports")] == ["nginx"]
    upstream = re.search(r"upstream zhidian_api \{(.*?)\}", (ROOT / "docker" / "nginx.conf").read_text(), re.S)
    assert re.findall(r"server (\w+):8000", upstream.group(1)) == ["api1", "api2"]
    assert {"api1", "api2"} <= set(SERVICES["nginx"]["depends_on"])


def test_each_api_replica_has_its_own_rasa_and_every_rasa_shares_redis():
    assert {SERVICES[api]["environment"]["RASA_URL"] for api in ("api1", "api2")} == {
        "http://rasa1:5005", "http://rasa2:5005"}
    for rasa in ("rasa1", "rasa2"):
        assert "--endpoints docker/endpoints.yml" in SERVICES[rasa]["command"]
    endpoints = yaml.safe_load((ROOT / "docker" / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == endpoints["lock_store"]["type"] == "redis"


def test_secrets_are_required_and_never_defaulted():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name in SECRETS:
        assert re.search(rf"{name}: \"\$\{{{name}:\?", text), name
        for api in ("api1", "api2", "worker"):
            assert SERVICES[api]["environment"][name].startswith(f"${{{name}:?"), (api, name)
    assert SERVICES["api1"]["environment"]["BACKGROUND_WORKERS"] == "false"  # the worker service runs them


def test_health_checks_and_migrations_before_the_api():
    for name in ("postgres", "redis", "api1", "api2", "actions", "rasa1", "rasa2"):
        assert SERVICES[name].get("healthcheck", {}).get("test"), name
    for api in ("api1", "api2", "worker"):
        assert SERVICES[api]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert SERVICES["migrate"]["command"].endswith("-m api migrate")
    assert "api migrate" not in SERVICES["api1"]["command"]  # once per release, not per replica


def spec_of(data: dict):
    """The file as the Compose Specification reads it (compose-spec: every key, type and enum checked); YAML
    merge keys (<<: *anchor) are resolved first, as docker compose does."""
    return PyCompose.from_json(json.dumps(data)).to_spec()


def test_the_file_is_a_valid_compose_specification():
    spec = spec_of(COMPOSE)
    assert set(spec.services) == set(SERVICES)
    for broken in ({"services": {"api": {"imagee": "zhidian"}}},  # a misspelt key
                   {"services": {"api": {"image": "zhidian", "restart": "sometimes"}}},  # not a restart policy
                   {"services": {"api": {"image": "zhidian", "depends_on": {"db": {"condition": "whenever"}}}}}):
        with pytest.raises(ValueError):  # the check can fail
            spec_of(broken)
