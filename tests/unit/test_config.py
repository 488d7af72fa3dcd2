import pytest

from shared.config import load_config, settings_from


def test_placeholders_take_env_then_default(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("A: ${X:1}\nB: ${Y:hello}\nC: 'x-${Y:z}-y'\nD: ${Z}\nE: ${W:true}\n")
    config = load_config(path, env={"Y": "env", "Z": "zed"})
    assert config == {"A": 1, "B": "env", "C": "x-env-y", "D": "zed", "E": True}


def test_missing_variable_without_default_is_an_error(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("D: ${NOPE}\n")
    with pytest.raises(KeyError, match="NOPE"):
        load_config(path, env={})


def test_service_configs_default_to_postgres_and_an_external_relay():
    from services.runner import service_config

    for name in ("members", "meetings"):
        settings = settings_from(service_config(name, env={}))
        assert settings.store.kind == "postgres"
        assert settings.relay == "external"
    assert settings_from(service_config("reporting", env={})).sources.keys() == {"members", "meetings"}


def test_unknown_store_kind_is_refused():
    with pytest.raises(ValueError, match="store"):
        settings_from({"CHIBO": {"store": "mysql"}})
