"""Configuration: defaults, overridden by environment variables, overridden by the caller.

Every setting `name` is read from `BSS_NAME` (MONGODB_URI keeps its usual name).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

AUTH_MODES = ("jwt", "dev")  # bearer tokens checked / none (development on loopback only)
TOKEN_KEYS = ("jwt_jwks_url", "jwt_jwks_file", "jwt_secret", "jwt_secret_file")
MIN_SECRET_LENGTH = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    mongodb_uri: str | None = field(repr=False)  # may hold a password: never in a log line
    mongodb_database: str
    public_base_url: str | None
    page_default_limit: int
    page_max_limit: int
    log_level: str
    workers: int
    data_dir: str
    dispatcher: bool
    jobs: bool
    max_body_bytes: int
    event_max_attempts: int
    event_max_backoff_seconds: int
    number_quarantine_days: int
    network_latency_ms: int
    network_failure_percent: int
    payment_failure_percent: int
    demo_data: bool
    demo_numbers: int
    demo_sims: int
    validate_responses: bool
    rating_chunk: int
    bill_run_interval_seconds: int
    dunning_reminder_days: int
    dunning_suspend_days: int
    brand_name: str
    auth: str
    jwt_issuer: str
    jwt_audience: str
    jwt_jwks_url: str | None
    jwt_jwks_file: str | None
    jwt_secret: str | None = field(repr=False)  # never in a log line
    jwt_secret_file: str | None
    jwt_partner_claim: str
    jwt_leeway_seconds: int
    rate_limit_per_minute: int
    hsts: bool


class SettingsSchema(Schema):
    host = fields.String(load_default="127.0.0.1")
    port = fields.Integer(load_default=8080, validate=validate.Range(1, 65535))
    mongodb_uri = fields.String(load_default=None, allow_none=True)
    mongodb_database = fields.String(load_default="bss", validate=validate.Regexp(r"^[\w-]+$"))
    public_base_url = fields.Url(load_default=None, allow_none=True, require_tld=False)
    page_default_limit = fields.Integer(load_default=100, validate=validate.Range(min=1))
    page_max_limit = fields.Integer(load_default=1000, validate=validate.Range(min=1))
    log_level = fields.String(
        load_default="INFO", validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"])
    )
    workers = fields.Integer(load_default=2, validate=validate.Range(1, 64))
    data_dir = fields.String(load_default="var")
    dispatcher = fields.Boolean(load_default=True)
    jobs = fields.Boolean(load_default=True)
    max_body_bytes = fields.Integer(load_default=1_048_576, validate=validate.Range(min=1024))
    event_max_attempts = fields.Integer(load_default=12, validate=validate.Range(min=1))
    event_max_backoff_seconds = fields.Integer(load_default=30, validate=validate.Range(min=1))
    number_quarantine_days = fields.Integer(load_default=30, validate=validate.Range(min=0))
    network_latency_ms = fields.Integer(load_default=300, validate=validate.Range(min=0))
    network_failure_percent = fields.Integer(load_default=0, validate=validate.Range(0, 100))
    # card charges the simulated payment gateway declines (besides its test cards)
    payment_failure_percent = fields.Integer(load_default=0, validate=validate.Range(0, 100))
    demo_data = fields.Boolean(load_default=True)
    demo_numbers = fields.Integer(load_default=2000, validate=validate.Range(min=0))
    demo_sims = fields.Integer(load_default=2000, validate=validate.Range(min=0))
    validate_responses = fields.Boolean(load_default=False)
    rating_chunk = fields.Integer(load_default=1000, validate=validate.Range(1, 50_000))
    bill_run_interval_seconds = fields.Integer(load_default=3600, validate=validate.Range(min=1))
    # days past a bill's payment due date after which it gets a reminder / the account's
    # lines are suspended by an order (0: never)
    dunning_reminder_days = fields.Integer(load_default=7, validate=validate.Range(min=1))
    dunning_suspend_days = fields.Integer(load_default=0, validate=validate.Range(min=0))
    # the MVNO's name on customer documents (bills)
    brand_name = fields.String(load_default="Demo Mobile", validate=validate.Length(1, 80))
    # bearer tokens (adapters/tokens.py): "dev" turns them off, on a loopback host only
    auth = fields.String(load_default="jwt", validate=validate.OneOf(AUTH_MODES))
    jwt_issuer = fields.String(load_default="mvno-bss-dev", validate=validate.Length(min=1))
    jwt_audience = fields.String(load_default="mvno-bss", validate=validate.Length(min=1))
    # the key that signs tokens: one of an identity provider's JWKS (RS256), at a URL or in a
    # file, or a shared secret (HS256), given or in a file
    jwt_jwks_url = fields.Url(
        load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"}
    )
    jwt_jwks_file = fields.String(load_default=None, allow_none=True)
    jwt_secret = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=MIN_SECRET_LENGTH)
    )
    jwt_secret_file = fields.String(load_default=None, allow_none=True)
    jwt_partner_claim = fields.String(load_default="partner", validate=validate.Length(min=1))
    # clock difference tolerated between the identity provider and us (exp, nbf)
    jwt_leeway_seconds = fields.Integer(load_default=30, validate=validate.Range(0, 300))
    # API requests a client may make per minute, per server process, at most that many at
    # once (handlers/rate_limit.py); 0: unlimited
    rate_limit_per_minute = fields.Integer(load_default=1200, validate=validate.Range(min=0))
    # Strict-Transport-Security on every response: set it when clients reach the server
    # over HTTPS only (a TLS-terminating proxy in front)
    hsts = fields.Boolean(load_default=False)

    @pre_load
    def level_in_capitals(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if isinstance(data.get("log_level"), str):
            data = {**data, "log_level": data["log_level"].upper()}
        return data

    @validates_schema
    def tokens_checked_off_loopback(self, data: dict[str, Any], **_: Any) -> None:
        if data["auth"] == "dev" and not is_loopback(data["host"]):
            raise ValidationError(
                f"dev mode (no tokens) is only allowed on a loopback {env_name('host')}, "
                f"not {data['host']}",
                field_name="auth",
            )
        keys = [name for name in TOKEN_KEYS if data.get(name)]
        if len(keys) > 1:
            names = ", ".join(env_name(name) for name in keys)
            raise ValidationError(f"set one token key, not {names}", field_name=keys[0])

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> Settings:
        if data["public_base_url"]:
            data["public_base_url"] = data["public_base_url"].rstrip("/")
        data["page_default_limit"] = min(data["page_default_limit"], data["page_max_limit"])
        return Settings(**data)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach a server listening on `host`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(setting: str) -> str:
    return "MONGODB_URI" if setting == "mongodb_uri" else f"BSS_{setting.upper()}"


class InvalidSettings(ValueError):
    pass


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    schema = SettingsSchema()
    raw: dict[str, Any] = {}
    for name in schema.fields:
        value = environ.get(env_name(name))
        if value not in (None, ""):
            raw[name] = value
    raw.update(overrides or {})
    try:
        return schema.load(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{env_name(name)}: {' '.join(messages)}" for name, messages in error.messages.items()
        )
        raise InvalidSettings(f"invalid configuration: {problems}") from None
