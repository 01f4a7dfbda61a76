"""Settings: defaults, overridden by the environment, overridden by the caller."""

from __future__ import annotations

import pytest

from adapters.settings import InvalidSettings, load_settings


class TestDefaults:
    def test_with_nothing_set_the_server_runs_locally_with_its_own_database(self):
        settings = load_settings({}, environ={})

        assert (settings.host, settings.port) == ("127.0.0.1", 8080)
        assert settings.mongodb_uri is None
        assert settings.mongodb_database == "bss"
        assert settings.public_base_url is None
        assert (settings.page_default_limit, settings.page_max_limit) == (100, 1000)
        assert settings.log_level == "INFO"
        assert settings.dispatcher is True
        assert settings.demo_data is True
        assert settings.validate_responses is False
        assert settings.max_body_bytes == 1_048_576
        assert (settings.event_max_attempts, settings.event_max_backoff_seconds) == (12, 30)
        assert settings.number_quarantine_days == 30
        assert (settings.network_latency_ms, settings.network_failure_percent) == (300, 0)
        assert (settings.demo_numbers, settings.demo_sims) == (2000, 2000)


class TestEnvironment:
    def test_each_setting_is_read_from_its_bss_variable(self):
        settings = load_settings(
            environ={
                "BSS_HOST": "0.0.0.0",
                "BSS_PORT": "9090",
                "BSS_MONGODB_DATABASE": "bss-staging",
                "BSS_LOG_LEVEL": "DEBUG",
                "BSS_WORKERS": "4",
                "BSS_DISPATCHER": "false",
                "BSS_EVENT_MAX_ATTEMPTS": "5",
                "BSS_NUMBER_QUARANTINE_DAYS": "0",
                "BSS_NETWORK_LATENCY_MS": "0",
                "BSS_NETWORK_FAILURE_PERCENT": "100",
                "BSS_DEMO_NUMBERS": "10",
                "BSS_DEMO_SIMS": "0",
            }
        )

        assert (settings.host, settings.port) == ("0.0.0.0", 9090)
        assert settings.mongodb_database == "bss-staging"
        assert settings.log_level == "DEBUG"
        assert settings.workers == 4
        assert settings.dispatcher is False
        assert settings.event_max_attempts == 5
        assert settings.number_quarantine_days == 0
        assert (settings.network_latency_ms, settings.network_failure_percent) == (0, 100)
        assert (settings.demo_numbers, settings.demo_sims) == (10, 0)

    def test_the_database_uri_keeps_its_usual_name(self):
        uri = "mongodb://db.internal:27017/?replicaSet=rs0"

        settings = load_settings(environ={"MONGODB_URI": uri, "BSS_MONGODB_URI": "ignored"})

        assert settings.mongodb_uri == uri

    def test_an_empty_variable_counts_as_unset(self):
        settings = load_settings(environ={"BSS_PORT": "", "MONGODB_URI": ""})

        assert settings.port == 8080
        assert settings.mongodb_uri is None

    def test_the_public_base_url_loses_its_trailing_slash(self):
        settings = load_settings(environ={"BSS_PUBLIC_BASE_URL": "https://api.mvno.example/"})

        assert settings.public_base_url == "https://api.mvno.example"

    def test_the_default_page_size_never_exceeds_the_maximum(self):
        settings = load_settings(
            environ={"BSS_PAGE_DEFAULT_LIMIT": "500", "BSS_PAGE_MAX_LIMIT": "50"}
        )

        assert (settings.page_default_limit, settings.page_max_limit) == (50, 50)

    def test_the_process_environment_is_read_when_none_is_given(self, monkeypatch):
        monkeypatch.setenv("BSS_PORT", "8181")

        assert load_settings().port == 8181


class TestOverrides:
    def test_an_override_beats_the_environment(self):
        settings = load_settings(
            {"port": 7000, "mongodb_uri": "mongodb://test:1", "dispatcher": True},
            environ={"BSS_PORT": "9090", "MONGODB_URI": "mongodb://prod:1", "BSS_DISPATCHER": "0"},
        )

        assert settings.port == 7000
        assert settings.mongodb_uri == "mongodb://test:1"
        assert settings.dispatcher is True

    def test_settings_not_overridden_still_come_from_the_environment(self):
        settings = load_settings({"port": 7000}, environ={"BSS_WORKERS": "3"})

        assert (settings.port, settings.workers) == (7000, 3)


class TestInvalidSettings:
    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("BSS_PORT", "http"),
            ("BSS_PORT", "70000"),
            ("BSS_LOG_LEVEL", "LOUD"),
            ("BSS_PUBLIC_BASE_URL", "not a url"),
            ("BSS_DISPATCHER", "maybe"),
            ("BSS_MONGODB_DATABASE", "bss prod"),
            ("BSS_MAX_BODY_BYTES", "10"),
            ("BSS_WORKERS", "0"),
            ("BSS_NUMBER_QUARANTINE_DAYS", "-1"),
            ("BSS_NETWORK_LATENCY_MS", "-1"),
            ("BSS_NETWORK_FAILURE_PERCENT", "101"),
            ("BSS_DEMO_NUMBERS", "-1"),
            ("BSS_DEMO_SIMS", "many"),
        ],
    )
    def test_a_bad_value_is_reported_in_one_line_naming_its_variable(self, variable, value):
        with pytest.raises(InvalidSettings) as refused:
            load_settings(environ={variable: value})

        message = str(refused.value)
        assert f"{variable}:" in message
        assert "\n" not in message

    def test_every_bad_value_is_reported_at_once(self):
        with pytest.raises(InvalidSettings) as refused:
            load_settings(environ={"BSS_PORT": "x", "BSS_WORKERS": "0"})

        assert "BSS_PORT" in str(refused.value)
        assert "BSS_WORKERS" in str(refused.value)

    def test_a_bad_override_is_reported_under_its_variable_name(self):
        with pytest.raises(InvalidSettings, match="MONGODB_URI"):
            load_settings({"mongodb_uri": 27017}, environ={})

    def test_the_database_uri_is_not_echoed_in_the_message(self):
        with pytest.raises(InvalidSettings) as refused:
            load_settings(
                environ={"BSS_PORT": "x", "MONGODB_URI": "mongodb://admin:s3cret@db:27017"}
            )

        assert "s3cret" not in str(refused.value)
