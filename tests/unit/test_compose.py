"""docker-compose.yml, deploy/postgres/init.sql and the Dockerfile, checked without a Docker engine.

The compose file is read as Compose reads it: YAML with anchors and merge keys (and no duplicate keys),
then `${VAR:-default}` interpolation from the shell environment. Each app service's environment is then fed
to the service's own config.yml (shared.config) to check that the process would find the broker, the
database and its peers by their compose host names. The health checks are run for real against a stand-in
HTTP server, and the relay's against PostgreSQL with the relay's own lock held.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
DOCKERFILE = ROOT / "Dockerfile"

SERVICES = {"members": 8001, "meetings": 8002, "reporting": 8003,  # chibo services and their HTTP ports
            "web": 8000}  # the web app (services/web)
RELAYS = ("members", "meetings")
INFRA = ("rabbitmq", "postgres")
DEFINITIONS = "broker-definitions"  # one-shot: writes the broker's definitions for RabbitMQ to load
APP = ("declare", *SERVICES, *(f"relay-{s}" for s in RELAYS))
LONG_RUNNING = (*INFRA, *SERVICES, *(f"relay-{s}" for s in RELAYS))
# Which services/<name>/config.yml each long-running app container reads.
CONFIG_OF = {**{s: s for s in SERVICES}, **{f"relay-{s}": s for s in RELAYS}}
COMMANDS = {
    "declare": ["chibo", "declare"],
    **{s: ["chibo", "run", s] for s in SERVICES},
    **{f"relay-{s}": ["chibo", "relay", s] for s in RELAYS},
}
HTTP_VAR = {s: f"{s.upper()}_HTTP" for s in SERVICES}
OPS_PORTS = {s: p + 1000 for s, p in SERVICES.items()}  # health and metrics (the operator port)
OPS_VAR = {s: f"{s.upper()}_OPS" for s in SERVICES}
SHARED_STORES = ("auth", "keys")  # databases beside the services' own: credentials
APP_SECRET = {"CHIBO_JWT_SECRET": "a-test-secret-that-is-long-enough-0123456789",  # the operator must set them
              "CHIBO_PII_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
              "CHIBO_CIPHER_KEY": "HxwdHhscGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="}
SECRET = APP_SECRET | {"CHIBO_AMQP_PASSWORD_MEMBERS": "mq-members", "CHIBO_AMQP_PASSWORD_MEETINGS": "mq-meetings",
                       "CHIBO_AMQP_PASSWORD_REPORTING": "mq-reporting", "CHIBO_AMQP_ADMIN_PASSWORD": "mq-admin"}
# Which broker user each app container logs in as (shared/definitions.py), and the password variable of each.
OWN_STORES = tuple(s for s in SERVICES if s != "web")  # the web app keeps nothing but sessions in "auth"
AMQP_USER = {"declare": "admin", **{s: s for s in OWN_STORES}, **{f"relay-{s}": s for s in RELAYS}}
AMQP_PASSWORD_VAR = {"admin": "CHIBO_AMQP_ADMIN_PASSWORD",
                     **{s: f"CHIBO_AMQP_PASSWORD_{s.upper()}" for s in OWN_STORES}}
# Gap filling: which notification APIs each config names (CHIBO.sources), by env var.
SOURCE_VARS = {"members": "CHIBO_MEMBERS_URL", "meetings": "CHIBO_MEETINGS_URL"}
# The web app's APIs (CHIBO.apis in services/web/config.yml), by env var.
API_VARS = {**SOURCE_VARS, "reporting": "CHIBO_REPORTING_URL"}

# Shell environments Compose might interpolate with: none set, and every override set.
ENVS = {
    "defaults": {},
    "overridden": {"CHIBO_PG_PASSWORD": "pg-s3cret", "CHIBO_AMQP_PASSWORD_MEETINGS": "mq-s3cret"},
}

# Config placeholders, as services/*/config.yml write them (shared/config.py reads the same syntax).
PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<default>[^}]*))?\}")
# Compose interpolation: $$, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?err}, ${VAR?err}, ${VAR:+x}, ${VAR+x}, $VAR.
COMPOSE_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<invalid>))"
)

SERVICE_KEYS = {
    "build",
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "hostname",
    "container_name",
    "deploy",
    "networks",
    "labels",
    "working_dir",
    "user",
    "stop_grace_period",
    "stop_signal",
    "profiles",
    "init",
    "pull_policy",
    "ulimits",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# --- reading the files -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as Compose's YAML parser does (PyYAML keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation, on every string of the parsed file."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("invalid") is not None:
            raise ValueError(f"invalid interpolation in {value!r}: a lone '$' (write '$$')")
        name = m.group("braced") or m.group("bare")
        op, arg, val = m.group("op"), m.group("arg"), env.get(name)
        if op is None:
            if val is None:
                raise ValueError(f"{value!r} needs ${name} from the shell and gives no default")
            return val
        unset = val is None or (op.startswith(":") and val == "")
        if op.endswith("-"):
            return arg if unset else val
        if op.endswith("?"):
            if unset:
                raise ValueError(f"{value!r} requires ${name}: {arg}")
            return val
        return "" if unset else arg  # :+ / +

    return COMPOSE_VAR.sub(repl, value)


def raw_compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_StrictLoader)  # a SafeLoader subclass


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return _interpolate(raw_compose(), SECRET | (env or {}))


def service(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return compose(env)["services"][name]


def environment(name: str, env: dict[str, str] | None = None) -> dict[str, str]:
    value = service(name, env).get("environment") or {}
    if isinstance(value, list):  # ["KEY=value", ...]
        value = dict(item.split("=", 1) for item in value)
    return value


def command(name: str) -> list[str]:
    cmd = service(name).get("command")
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])


def health_test(name: str) -> list[str]:
    test = service(name)["healthcheck"]["test"]
    return ["CMD-SHELL", test] if isinstance(test, str) else list(test)


def python_code(name: str) -> str:
    """The code of a `["CMD", "python", "-c", CODE]` health check."""
    test = health_test(name)
    assert test[:3] == ["CMD", "python", "-c"] and len(test) == 4, f"{name}: health check is not python -c: {test}"
    compile(test[3], f"<{name} healthcheck>", "exec")
    return test[3]


def config_text(config: str) -> str:
    return (ROOT / "services" / config / "config.yml").read_text(encoding="utf-8")


def placeholders(config: str) -> dict[str, str | None]:
    """{name: default or None} of the `${VAR:default}` placeholders in services/<config>/config.yml."""
    found: dict[str, str | None] = {}
    for m in PLACEHOLDER.finditer(config_text(config)):
        found[m.group("name")] = m.group("default")
    return found


def resolved_config(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The config the container's process would load: its config.yml with only the compose environment."""
    from shared.config import load_config

    return load_config(ROOT / "services" / CONFIG_OF[name] / "config.yml", environment(name, env))


def published_ports(entry: Any) -> tuple[str | None, str]:
    """(host port or None, container port) of a `ports:` entry, short or long syntax."""
    if isinstance(entry, dict):
        published = entry.get("published")
        return (None if published in (None, "") else str(published)), str(entry["target"])
    parts = str(entry).split("/")[0].rsplit(":", 2)
    if len(parts) == 1:
        return None, parts[0]
    host = parts[-2]
    return (host or None), parts[-1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), " ".join(rest.split())))
    return out


def create_database_names(sql: str) -> list[str]:
    sql = re.sub(r"--[^\n]*", "", sql)
    sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.S)
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    names = []
    for statement in statements:
        m = re.fullmatch(r'CREATE\s+DATABASE\s+("?)([A-Za-z_][A-Za-z0-9_]*)\1', statement, flags=re.I)
        assert m, f"init.sql: unexpected statement {statement!r}"
        names.append(m.group(2))
    return names


# --- structure -------------------------------------------------------------------------------------------


def test_compose_file_parses_strictly_and_uses_only_known_keys() -> None:
    doc = compose()
    assert set(doc) <= {"name", "services", "volumes", "networks", "configs", "secrets"} | {
        k for k in doc if k.startswith("x-")
    }
    assert "version" not in doc  # obsolete in the Compose specification
    for name, svc in doc["services"].items():
        unknown = {k for k in svc if not k.startswith("x-")} - SERVICE_KEYS
        assert not unknown, f"{name}: unknown service keys {unknown}"
        assert ("image" in svc) or ("build" in svc), f"{name}: neither image nor build"
        if "healthcheck" in svc:
            hc = svc["healthcheck"]
            assert set(hc) <= HEALTHCHECK_KEYS, f"{name}: unknown healthcheck keys {set(hc) - HEALTHCHECK_KEYS}"
            for key in ("interval", "timeout", "start_period", "start_interval"):
                if key in hc:
                    assert DURATION.match(str(hc[key])), f"{name}: healthcheck {key}={hc[key]!r}"
            if "retries" in hc:
                assert isinstance(hc["retries"], int) and hc["retries"] > 0
        if "restart" in svc:
            assert svc["restart"] in ("no", "always", "on-failure", "unless-stopped"), f"{name}: restart"
        for key, value in (svc.get("environment") or {}).items():
            assert isinstance(value, str), f"{name}: environment {key} should be a quoted string, not {value!r}"


def test_duplicate_keys_are_refused_by_the_loader() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=_StrictLoader)
    # ...while keys overriding a merge are fine.
    assert yaml.load("x: &x {a: 1}\ny: {<<: *x, a: 2}\n", Loader=_StrictLoader)["y"] == {"a": 2}


def test_interpolation_is_valid_everywhere() -> None:
    for env in ENVS.values():
        compose(env)  # raises on a lone '$', a ${VAR} without default, or a ${VAR:?} left unset
    with pytest.raises(ValueError):
        _interpolate("${CHIBO_X}", {})
    with pytest.raises(ValueError):
        _interpolate("price: 5$", {})
    assert _interpolate("${A:-d}/${B-e}/$$x/${C:+y}", {"B": "", "C": "c"}) == "d//$x/y"


def test_the_shared_environment_is_one_anchor() -> None:
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^x-chibo-env:\s*&chibo-env\s*$", raw, flags=re.M)
    anchor = compose()["x-chibo-env"]
    for name in APP:
        env = environment(name)
        for key, value in anchor.items():
            assert env.get(key) == value, f"{name}: {key} differs from x-chibo-env"


def test_every_expected_service_exists() -> None:
    services = compose()["services"]
    missing = {*INFRA, *APP, DEFINITIONS} - set(services)
    assert not missing, f"missing services: {missing}"


@pytest.mark.parametrize("name", APP)
def test_app_command_is_the_right_chibo_command(name: str) -> None:
    assert command(name) == COMMANDS[name]


@pytest.mark.parametrize("name", APP)
def test_app_builds_from_the_one_dockerfile(name: str) -> None:
    svc = service(name)
    build = svc["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE
    assert svc.get("image") == service("declare").get("image"), "every app container runs the same image"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(name: str) -> None:
    hc = service(name).get("healthcheck")
    assert hc, f"{name} has no healthcheck"
    assert not hc.get("disable", False)
    test = health_test(name)
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2, f"{name}: healthcheck test {test}"
    assert service(name).get("restart") in ("always", "unless-stopped", "on-failure")


def test_declare_is_a_one_shot_step() -> None:
    svc = service("declare")
    assert svc.get("restart", "no") in ("no", "on-failure"), "a completed declare must not be restarted"
    assert "healthcheck" not in svc
    assert svc["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert urlsplit(environment("declare")["AMQP_URI"]).hostname == "rabbitmq"


@pytest.mark.parametrize("name", [*SERVICES, *(f"relay-{s}" for s in RELAYS)])
def test_services_and_relays_start_after_declare_and_healthy_infra(name: str) -> None:
    depends = service(name)["depends_on"]
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions (long syntax)"
    assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["declare"]["condition"] == "service_completed_successfully"


def test_depends_on_names_real_services_with_valid_conditions() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        for dep in depends:
            assert dep in services, f"{name} depends on unknown service {dep}"
            if isinstance(depends, dict):
                condition = depends[dep].get("condition", "service_started")
                assert condition in CONDITIONS, f"{name} -> {dep}: {condition}"
                if condition == "service_healthy":
                    assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no check"


def test_named_volumes_are_declared() -> None:
    doc = compose()
    declared = set(doc.get("volumes") or {})
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


# --- infrastructure --------------------------------------------------------------------------------------


def test_rabbitmq() -> None:
    svc = service("rabbitmq")
    assert svc["image"] == "rabbitmq:3.13-management"
    test = " ".join(health_test("rabbitmq"))
    assert re.search(r"rabbitmq-diagnostics .*\b(ping|check_port_connectivity|check_running)\b", test)
    ports = {published_ports(p) for p in svc["ports"]}
    assert ("5672", "5672") in ports
    assert ("15672", "15672") in ports
    assert any(str(v).split(":")[-1] == "/var/lib/rabbitmq" for v in svc.get("volumes", [])), "broker data volume"
    assert svc.get("hostname"), "a fixed hostname keeps the node name, hence the data directory, stable"


def test_postgres() -> None:
    svc = service("postgres")
    assert svc["image"] == "postgres:15"
    env = environment("postgres")
    assert env["POSTGRES_PASSWORD"], "the postgres image refuses to start without a password"
    test = health_test("postgres")
    assert "pg_isready" in " ".join(test)
    # Over TCP: a socket check passes while the entrypoint's temporary (socket-only) server runs init.sql.
    assert "-h" in test or "--host" in " ".join(test)
    volumes = [str(v) for v in svc["volumes"]]
    data = [v for v in volumes if v.split(":")[1] == "/var/lib/postgresql/data"]
    assert data and data[0].split(":")[0] in compose()["volumes"], "data on a named volume"
    init = [v.split(":") for v in volumes if v.split(":")[1].startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1, "init.sql mounted into /docker-entrypoint-initdb.d"
    source, target = init[0][0], init[0][1]
    assert (ROOT / source).resolve() == INIT_SQL
    assert target.endswith(".sql")


def _definitions(env: dict[str, str]) -> dict[str, Any]:
    """What `chibo declare --definitions` writes, run as the broker-definitions container runs it."""
    definitions = service(DEFINITIONS, env)
    cmd = command(DEFINITIONS)
    assert cmd[:3] == ["chibo", "declare", "--definitions"]
    run = [sys.executable, "-m", "services.cli", *cmd[1:3], "-", *cmd[4:]]  # to stdout instead of the volume
    out = subprocess.run(run, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **environment(DEFINITIONS, env)},
                         capture_output=True, text=True, timeout=60, check=True)
    assert definitions.get("restart", "no") == "no"
    return json.loads(out.stdout)


@pytest.mark.parametrize("env", ENVS.values(), ids=ENVS.keys())
def test_each_process_logs_in_to_the_broker_as_its_own_user_that_the_definitions_create(env: dict[str, str]) -> None:
    import base64
    import hashlib

    from shared.definitions import permissions, user_name

    document = _definitions(env)
    users = {u["name"]: u for u in document["users"]}
    vhosts = {v["name"] for v in document["vhosts"]}
    for name, role in AMQP_USER.items():
        uri = urlsplit(environment(name, env)["AMQP_URI"])
        assert uri.scheme in ("pyamqp", "amqp") and uri.hostname == "rabbitmq" and uri.port == 5672
        assert uri.username == user_name(role) and uri.username in users, f"{name} logs in as {uri.username}"
        assert uri.password == (SECRET | env)[AMQP_PASSWORD_VAR[role]]
        # the definitions' hash (RabbitMQ's salted SHA-256) is of exactly that password
        raw = base64.b64decode(users[uri.username]["password_hash"])
        assert hashlib.sha256(raw[:4] + uri.password.encode()).digest() == raw[4:], f"{name}: wrong password"
        assert uri.path.lstrip("/") in vhosts
        grants = next(p for p in document["permissions"] if p["user"] == uri.username)
        if role == "admin":
            assert grants["configure"] == ".*" and "administrator" in users[uri.username]["tags"]
        else:
            assert {k: grants[k] for k in ("configure", "write", "read")} == permissions(role)
            assert users[uri.username]["tags"] == []
    assert "guest" not in users


def test_rabbitmq_loads_the_definitions_written_before_it_starts() -> None:
    broker = service("rabbitmq")
    assert broker["depends_on"][DEFINITIONS]["condition"] == "service_completed_successfully"
    assert "RABBITMQ_DEFAULT_USER" not in (broker.get("environment") or {}), "definitions define every user"
    conf = [str(v).split(":") for v in broker["volumes"] if str(v).split(":")[1].startswith("/etc/rabbitmq/conf.d/")]
    assert len(conf) == 1
    text = (ROOT / conf[0][0]).read_text(encoding="utf-8")
    loaded = re.search(r"^load_definitions\s*=\s*(\S+)$", text, flags=re.M).group(1)
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in broker["volumes"]}
    written = {str(v).split(":")[1]: str(v).split(":")[0] for v in service(DEFINITIONS)["volumes"]}
    written_path = command(DEFINITIONS)[3]
    volume = written[str(Path(written_path).parent)]
    assert mounts[str(Path(loaded).parent)] == volume and Path(loaded).name == Path(written_path).name
    assert volume in compose()["volumes"]
    # the definitions declare what the services declare, so neither side's declaration is refused
    document = _definitions({})
    from shared import topology

    queues = {q["name"]: q["arguments"] for q in document["queues"]}
    for consumer, sources in topology.SUBSCRIPTIONS.items():
        for source in sources:
            assert queues[topology.queue_name(consumer, source)] == \
                topology.consumer_queue(consumer, source).queue_arguments


@pytest.mark.parametrize("password", sorted(AMQP_PASSWORD_VAR.values()))
def test_broker_passwords_must_be_given(password: str) -> None:
    with pytest.raises(ValueError, match=f"requires \\${password}"):
        _interpolate(raw_compose(), {k: v for k, v in SECRET.items() if k != password})


@pytest.mark.parametrize("env", ENVS.values(), ids=ENVS.keys())
@pytest.mark.parametrize("name", CONFIG_OF)
def test_database_settings_match_the_postgres_container(name: str, env: dict[str, str]) -> None:
    app, db = environment(name, env), environment("postgres", env)
    assert app["PGHOST"] == "postgres"
    assert app["PGPORT"] == "5432"
    assert app["PGUSER"] == db.get("POSTGRES_USER", "postgres")
    assert app["PGPASSWORD"] == db["POSTGRES_PASSWORD"]
    assert app["CHIBO_STORE"] == "postgres"


def test_overrides_reach_both_sides() -> None:
    env = ENVS["overridden"]
    assert environment("members", env)["PGPASSWORD"] == "pg-s3cret"
    assert environment("postgres", env)["POSTGRES_PASSWORD"] == "pg-s3cret"
    assert urlsplit(environment("relay-meetings", env)["AMQP_URI"]).password == "mq-s3cret"
    assert environment(DEFINITIONS, env)["CHIBO_AMQP_PASSWORD_MEETINGS"] == "mq-s3cret"


# --- the app environment against services/*/config.yml ---------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_http_bind_address_is_all_interfaces_on_the_service_port(name: str) -> None:
    env = environment(name)
    assert env[HTTP_VAR[name]] == f"0.0.0.0:{SERVICES[name]}"
    assert HTTP_VAR[name] in placeholders(name), f"{name}/config.yml no longer reads {HTTP_VAR[name]}"
    assert resolved_config(name)["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{SERVICES[name]}"


@pytest.mark.parametrize("name", RELAYS)
def test_writers_leave_the_relay_to_its_own_container(name: str) -> None:
    assert environment(name)["CHIBO_RELAY"] == "external"
    assert "CHIBO_RELAY" in placeholders(name)
    from shared.config import settings_from

    assert settings_from(resolved_config(name)).relay == "external"


@pytest.mark.parametrize("name", CONFIG_OF)
def test_every_placeholder_is_set_or_has_a_default(name: str) -> None:
    env = environment(name)
    found = placeholders(CONFIG_OF[name])
    assert found, f"no placeholders read from services/{CONFIG_OF[name]}/config.yml"
    for var, default in found.items():
        assert var in env or default is not None, f"{name}: {var} is neither set nor defaulted"
        # A default meant for a local run (127.0.0.1, localhost) must be replaced by a compose host name.
        if default is not None and re.search(r"127\.0\.0\.1|localhost", default):
            assert var in env, f"{name}: {var} would default to {default!r} inside the container"


@pytest.mark.parametrize("name", CONFIG_OF)
def test_required_settings_are_set_explicitly(name: str) -> None:
    config = CONFIG_OF[name]
    required = {"CHIBO_STORE", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "CHIBO_PG_DB_PREFIX"}
    if name != "web":
        required.add("AMQP_URI")  # the web app uses no broker
    if name in SERVICES:
        required.add(HTTP_VAR[name])
    if name in RELAYS:
        required.add("CHIBO_RELAY")
    required |= {var for var in API_VARS.values() if var in placeholders(config)}
    assert required <= set(placeholders(config)), f"config.yml of {config} no longer reads {required}"
    missing = required - set(environment(name))
    assert not missing, f"{name}: not set {missing}"


@pytest.mark.parametrize("name", APP)
def test_environment_names_are_ones_the_configs_read(name: str) -> None:
    known = {"LOG_LEVEL"}  # read by `chibo relay` from the environment as well
    for config in SERVICES:
        known |= set(placeholders(config))
    unknown = set(environment(name)) - known
    assert not unknown, f"{name}: {unknown} are read by nothing (typo?)"


@pytest.mark.parametrize("env", ENVS.values(), ids=ENVS.keys())
@pytest.mark.parametrize("name", CONFIG_OF)
def test_the_loaded_config_points_at_compose_hosts(name: str, env: dict[str, str]) -> None:
    from shared.config import settings_from

    config = resolved_config(name, env)
    settings = settings_from(config)
    assert settings.store.kind == "postgres"
    assert settings.store.pg_host == "postgres"
    assert settings.store.pg_port == 5432
    assert settings.store.pg_password == environment("postgres", env)["POSTGRES_PASSWORD"]
    if name == "web":
        assert "AMQP_URI" not in config  # no broker: nothing to log in to
    else:
        assert urlsplit(settings.amqp_uri).hostname == "rabbitmq"
    for source, url in [*settings.sources.items(), *(config["CHIBO"].get("apis") or {}).items()]:
        parts = urlsplit(url)
        assert parts.hostname == source, f"{name}: source {source} at {url}"
        assert parts.port == SERVICES[source]
        assert parts.path == f"/{source}"

    def strings(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    local = [s for s in strings(config) if re.search(r"127\.0\.0\.1|localhost", s)]
    assert not local, f"{name}: resolved config still points at this host: {local}"


def test_gap_filling_sources_are_configured_where_read() -> None:
    # meetings fills gaps from members, reporting from both (CHIBO.sources in their config.yml).
    from shared.config import settings_from

    assert set(settings_from(resolved_config("meetings")).sources) == {"members"}
    assert set(settings_from(resolved_config("reporting")).sources) == {"members", "meetings"}
    assert environment("meetings")["CHIBO_MEMBERS_URL"] == "http://members:8001/members"
    assert environment("reporting")["CHIBO_MEMBERS_URL"] == "http://members:8001/members"
    assert environment("reporting")["CHIBO_MEETINGS_URL"] == "http://meetings:8002/meetings"


# --- health checks ---------------------------------------------------------------------------------------


HEALTH_URL = re.compile(r"""['"](http://[^'"]+)['"]""")


def health_url(name: str) -> str:
    urls = HEALTH_URL.findall(python_code(name))
    assert len(urls) == 1, f"{name}: expected one URL in the health check, found {urls}"
    return urls[0]


@pytest.mark.parametrize("name", SERVICES)
def test_health_url_matches_the_service(name: str) -> None:
    url = urlsplit(health_url(name))
    assert url.hostname in ("127.0.0.1", "localhost")
    assert url.port == OPS_PORTS[name] == int(environment(name)[OPS_VAR[name]].rsplit(":", 1)[1])
    assert url.path == f"/{name}/ready"  # readiness: 503 while the broker, the database or the lag is not right
    source = (ROOT / "services" / name / "service.py").read_text(encoding="utf-8")
    assert f'@ops_http("GET", "/{name}/ready")' in source, f"{name} serves no {url.path} on its operator port"
    assert OPS_VAR[name] in placeholders(name), f"{name}/config.yml no longer reads {OPS_VAR[name]}"
    assert str(OPS_PORTS[name]) in [str(p) for p in service(name).get("expose", [])]
    published = [published_ports(p) for p in service(name).get("ports", [])]
    assert all(container != str(OPS_PORTS[name]) for _, container in published), "the operator port is public"
    assert "urlopen" in python_code(name), "only urlopen raises on an HTTP error status"


@pytest.mark.parametrize("secret", sorted(APP_SECRET))
def test_the_secrets_must_be_given(secret: str) -> None:
    with pytest.raises(ValueError, match=f"requires \\${secret}"):
        _interpolate(raw_compose(), {k: v for k, v in SECRET.items() if k != secret})
    assert {environment(name)[secret] for name in CONFIG_OF} == {SECRET[secret]}


_STAND_IN = r"""
import http.server, sys
path, status = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "ok"}'
        self.send_response(status if self.path == path else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _run_health(name: str, served_path: str, status: int | None) -> int:
    """Exit status of `name`'s health check against a stand-in server (None: nothing listening)."""
    code = python_code(name)
    server = subprocess.Popen(
        [sys.executable, "-c", _STAND_IN, served_path, str(status or 200)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        if status is None:
            server.kill()
            server.wait()
        code = re.sub(r"http://(127\.0\.0\.1|localhost):\d+", f"http://127.0.0.1:{port}", code)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


@pytest.mark.parametrize("name", SERVICES)
def test_http_health_check_passes_only_on_success(name: str) -> None:
    path = f"/{name}/ready"
    assert _run_health(name, path, 200) == 0
    assert _run_health(name, path, 503) != 0, "a 503 must make the check fail"
    assert _run_health(name, "/elsewhere/ready", 200) != 0, "a 404 must make the check fail"
    assert _run_health(name, path, None) != 0, "nothing listening must make the check fail"


@pytest.mark.parametrize("source", RELAYS)
def test_relay_health_check_looks_for_the_relays_own_lock(source: str) -> None:
    code = python_code(f"relay-{source}")
    assert f'b"chibo-relay:{source}"' in code or f"b'chibo-relay:{source}'" in code
    assert f'"_{source}"' in code or f"'_{source}'" in code
    assert "CHIBO_PG_DB_PREFIX" in code
    # relay_lock derives its advisory lock key from the same string.
    import inspect

    from shared.relay import relay_lock

    assert 'zlib.crc32(f"chibo-relay:{source}".encode())' in inspect.getsource(relay_lock)


@pytest.mark.infra
@pytest.mark.parametrize("source", RELAYS)
def test_relay_health_check_on_postgres(source: str) -> None:
    """The relay container's check, run against PostgreSQL: unhealthy until the relay holds its lock."""
    import os
    import socket
    import threading

    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 5432)) != 0:
            pytest.fail("PostgreSQL not reachable on 127.0.0.1:5432; run `bash deploy/ensure-infra.sh`")
    import psycopg

    from shared.config import StoreSettings
    from shared.relay import relay_lock
    from shared.stores import ensure_database

    prefix = f"chibo_t{uuid.uuid4().hex[:8]}"
    settings = StoreSettings(kind="postgres", pg_db_prefix=prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env |= {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres", "CHIBO_PG_DB_PREFIX": prefix}
    code = python_code(f"relay-{source}")

    def check() -> int:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=30).returncode

    try:
        ensure_database(settings, source)
        assert check() == 1, "no relay running: unhealthy"
        other = "meetings" if source == "members" else "members"
        ensure_database(settings, other)
        with relay_lock(settings, other, threading.Event()) as held:
            assert held
            assert check() == 1, "another source's relay does not make this one healthy"
        with relay_lock(settings, source, threading.Event()) as held:
            assert held
            assert check() == 0, "the relay holds its lock: healthy"
        assert check() == 1, "lock released: unhealthy again"
    finally:
        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as c:
            rows = c.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
            for (db,) in rows:
                c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# --- scaling ---------------------------------------------------------------------------------------------


def test_reporting_can_be_scaled() -> None:
    svc = service("reporting")
    assert "container_name" not in svc, "a fixed container name allows one replica only"
    for entry in svc.get("ports") or []:
        host, container = published_ports(entry)
        assert container == "8003"
        assert host is None or "-" in host, f"fixed host port {host} clashes at --scale reporting=2"
    assert "8003" in [str(p) for p in svc.get("expose") or []] or svc.get("ports"), "port 8003 reachable"
    # Safe because each of its queues lets one consumer at a time apply events, in order.
    from shared.topology import SUBSCRIPTIONS, consumer_queue

    for source in SUBSCRIPTIONS["reporting"]:
        assert consumer_queue("reporting", source).queue_arguments["x-single-active-consumer"] is True


def test_published_host_ports_do_not_clash() -> None:
    seen: dict[str, str] = {}
    for name, svc in compose()["services"].items():
        for entry in svc.get("ports") or []:
            host, _ = published_ports(entry)
            if host is not None:
                assert host not in seen, f"host port {host} published by {seen.get(host)} and {name}"
                seen[host] = name


# --- init.sql --------------------------------------------------------------------------------------------


def test_init_sql_creates_exactly_the_service_databases() -> None:
    from shared.config import StoreSettings

    prefixes = {environment(name)["CHIBO_PG_DB_PREFIX"] for name in CONFIG_OF}
    assert len(prefixes) == 1, f"one prefix for every container, not {prefixes}"
    (prefix,) = prefixes
    names = create_database_names(INIT_SQL.read_text(encoding="utf-8"))
    assert len(names) == len(set(names))
    assert set(names) == {f"{prefix}_{s}" for s in (*OWN_STORES, *SHARED_STORES)}
    assert set(names) == {StoreSettings(kind="postgres", pg_db_prefix=prefix).dbname(s)
                          for s in (*OWN_STORES, *SHARED_STORES)}


def test_init_sql_parser_rejects_other_statements() -> None:
    assert create_database_names('-- c\nCREATE DATABASE a;\n/* x */ create database "b";') == ["a", "b"]
    with pytest.raises(AssertionError):
        create_database_names("DROP DATABASE chibo_members;")


# --- Dockerfile ------------------------------------------------------------------------------------------


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    froms = [arg for kw, arg in instructions if kw == "FROM"]
    assert froms == ["python:3.11-slim"]
    runs = [arg for kw, arg in instructions if kw == "RUN"]
    installs = [r for r in runs if re.search(r"\bpip install\b", r)]
    assert installs, "no pip install"
    for run in installs:
        args = shlex.split(run.split("&&")[0])
        assert "--no-cache-dir" in args
        assert args[args.index("-c") + 1] == "requirements.lock", "install with -c requirements.lock"
        assert "." in args, "install the project itself"
    assert any(re.search(r"apt-get install .*\blibpq5\b", r) for r in runs), "psycopg 3 needs libpq"
    users = [arg for kw, arg in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), "run as a non-root user"
    cmds = [arg for kw, arg in instructions if kw == "CMD"]
    assert cmds and json.loads(cmds[-1]) == ["chibo", "--help"]


def test_dockerfile_copies_what_the_install_needs() -> None:
    copied: set[str] = set()
    for kw, arg in dockerfile_instructions():
        if kw == "COPY":
            copied |= {Path(s).parts[0] for s in shlex.split(arg)[:-1] if not s.startswith("--")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {"pyproject.toml", "requirements.lock", *packages} <= copied, f"COPY has {copied}"
    for source in copied - {"."}:
        if not any(ch in source for ch in "*?["):
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
    assert "." not in copied, "copy the package, not the work tree (.venv, var/)"
    # `chibo run` reads services/<name>/config.yml from the installed package.
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "*.yml" in package_data.get("*", []) or all(
        "*.yml" in package_data.get(f"services.{s}", []) for s in SERVICES
    )
