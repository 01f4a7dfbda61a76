"""Bearer tokens: signature (HS256 secret, RS256 JWKS file or URL), expiry, issuer, audience,
and the principal their claims name; the settings that configure them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.partners import DEMO_PARTNER
from adapters.settings import InvalidSettings, load_settings
from adapters.tokens import (
    DEV_SECRET_FILE,
    InvalidToken,
    KeySet,
    KeysUnavailable,
    RemoteKeySet,
    SharedSecret,
    TokenVerifier,
    ensure_dev_secret,
    partner_scopes,
    sign_token,
    verifier,
)
from domain.security import OPERATOR, Principal

SECRET = "integration-test-secret-of-forty-bytes!!"
ISSUER = "https://idp.example.test/realms/mvno"
AUDIENCE = "mvno-bss"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "client_id": "crm",
        "scope": "customer:read customer:write",
        "partner": "acme",
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def hs256(secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm="HS256")


@pytest.fixture(scope="module")
def hs_verifier() -> TokenVerifier:
    return TokenVerifier(SharedSecret(SECRET.encode()), issuer=ISSUER, audience=AUDIENCE)


def rejection(check: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        check.principal(token)
    return str(refused.value)


class TestSharedSecret:
    def test_a_good_token_names_its_principal(self, hs_verifier):
        principal = hs_verifier.principal(hs256())

        assert principal == Principal(
            "crm", "alice", "acme", frozenset({"customer:read", "customer:write"})
        )

    def test_an_expired_token_is_refused(self, hs_verifier):
        expired = hs256(exp=int(time.time()) - 120)

        assert rejection(hs_verifier, expired) == "the token has expired"

    def test_a_token_just_expired_is_accepted_within_the_clock_leeway(self, hs_verifier):
        assert hs_verifier.principal(hs256(exp=int(time.time()) - 5)).subject == "alice"

    def test_a_token_not_valid_yet_is_refused(self, hs_verifier):
        early = hs256(nbf=int(time.time()) + 600)

        assert rejection(hs_verifier, early) == "the token is not valid yet"

    def test_a_token_signed_with_another_secret_is_refused(self, hs_verifier):
        forged = hs256(secret="another-secret-that-is-long-enough-too!!")

        assert rejection(hs_verifier, forged) == "the token's signature does not verify"

    def test_a_token_for_another_audience_is_refused(self, hs_verifier):
        other = hs256(aud="another-service")

        assert "audience" in rejection(hs_verifier, other)

    def test_a_token_of_another_issuer_is_refused(self, hs_verifier):
        other = hs256(iss="https://evil.example.test")

        assert rejection(hs_verifier, other) == "the token is not from the accepted issuer"

    @pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
    def test_a_token_without_a_required_claim_is_refused(self, hs_verifier, claim):
        token = hs256(**{claim: None})

        assert rejection(hs_verifier, token) == f"the token has no {claim} claim"

    def test_an_unsigned_token_is_refused(self, hs_verifier):
        unsigned = jwt.encode(claims(), None, algorithm="none")

        assert "algorithm" in rejection(hs_verifier, unsigned)

    @pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..."])
    def test_garbage_is_a_malformed_token(self, hs_verifier, token):
        assert rejection(hs_verifier, token) == "the token is malformed"

    def test_the_secret_never_shows_in_a_repr(self, hs_verifier):
        assert SECRET not in repr(hs_verifier)


class TestClaims:
    def test_a_token_naming_no_partner_is_refused(self, hs_verifier):
        anonymous = hs256(partner=None)

        assert rejection(hs_verifier, anonymous) == "the token names no partner (partner claim)"

    def test_an_operator_may_act_across_partners(self, hs_verifier):
        operator = hs_verifier.principal(hs256(partner=None, scope=f"{OPERATOR} customer:read"))

        assert operator.operator
        assert operator.partner is None

    @pytest.mark.parametrize("partner", ["platform", "", "a b", 42, ["acme"]])
    def test_a_partner_claim_that_is_no_partner_id_is_refused(self, hs_verifier, partner):
        token = hs256(partner=partner)

        assert rejection(hs_verifier, token) == "the token's partner claim is not a partner id"

    def test_the_partner_claim_can_have_another_name(self):
        check = TokenVerifier(
            SharedSecret(SECRET.encode()),
            issuer=ISSUER,
            audience=AUDIENCE,
            partner_claim="https://bss.example.test/partner",
        )
        token = hs256(partner=None, **{"https://bss.example.test/partner": "acme"})

        assert check.principal(token).partner == "acme"

    @pytest.mark.parametrize(
        ("granted", "scopes"),
        [
            ({"scope": "a:read  b:write"}, {"a:read", "b:write"}),
            ({"scope": None, "scp": ["a:read", "b:write", 3]}, {"a:read", "b:write"}),
            ({"scope": None, "scp": "a:read b:write"}, {"a:read", "b:write"}),
            ({"scope": "a:read", "scp": ["b:write"]}, {"a:read", "b:write"}),
            ({"scope": None}, set()),
            ({"scope": 7}, set()),
        ],
    )
    def test_scopes_come_from_scope_and_scp(self, hs_verifier, granted, scopes):
        assert hs_verifier.principal(hs256(**granted)).scopes == scopes

    @pytest.mark.parametrize(
        ("names", "client"),
        [
            ({"client_id": "crm", "azp": "portal"}, "crm"),
            ({"client_id": None, "azp": "portal"}, "portal"),
            ({"client_id": None}, "alice"),
        ],
    )
    def test_the_calling_system_is_client_id_else_azp_else_the_subject(
        self, hs_verifier, names, client
    ):
        assert hs_verifier.principal(hs256(**names)).client_id == client


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """A JWT signed by hand: PyJWT refuses to sign with a public key as HMAC secret."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict[str, Any]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "alg": "RS256", **extra}


def rs256(key: rsa.RSAPrivateKey, kid: str | None = "k1", **overrides: Any) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers=headers)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture(scope="module")
def jwks(signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {"keys": [jwk(signing_key, "k1", use="sig"), jwk(rsa_key(), "k2")]}


@pytest.fixture(scope="module")
def rs_verifier(jwks: dict[str, Any]) -> TokenVerifier:
    return TokenVerifier(KeySet(jwks), issuer=ISSUER, audience=AUDIENCE)


class TestKeySet:
    def test_a_token_signed_with_a_key_of_the_set_names_its_principal(
        self, rs_verifier, signing_key
    ):
        assert rs_verifier.principal(rs256(signing_key)).partner == "acme"

    def test_a_token_signed_with_another_key_under_a_known_key_id_is_refused(self, rs_verifier):
        forged = rs256(rsa_key(), kid="k1")

        assert rejection(rs_verifier, forged) == "the token's signature does not verify"

    def test_a_token_of_an_unknown_key_id_is_refused(self, rs_verifier, signing_key):
        unknown = rs256(signing_key, kid="k9")

        assert "key the server does not know" in rejection(rs_verifier, unknown)

    def test_without_a_key_id_the_only_key_of_a_set_is_used(self, signing_key):
        check = TokenVerifier(
            KeySet({"keys": [jwk(signing_key, "k1")]}), issuer=ISSUER, audience=AUDIENCE
        )

        assert check.principal(rs256(signing_key, kid=None)).subject == "alice"

    def test_an_hs256_token_signed_with_the_public_key_is_refused(self, rs_verifier, signing_key):
        public_pem = signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        confused = hmac_signed({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims(), public_pem)

        assert "algorithm" in rejection(rs_verifier, confused)

    def test_an_expired_rs256_token_is_refused(self, rs_verifier, signing_key):
        expired = rs256(signing_key, exp=int(time.time()) - 120)

        assert rejection(rs_verifier, expired) == "the token has expired"

    def test_encryption_keys_are_not_signing_keys(self, signing_key):
        with pytest.raises(jwt.PyJWTError):
            KeySet({"keys": [jwk(signing_key, "k1", use="enc")]})


@pytest.fixture
def jwks_url(jwks: dict[str, Any]) -> Iterator[str]:
    """A local identity provider publishing the JWKS."""
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/realms/mvno/certs"
    server.shutdown()
    server.server_close()
    thread.join()


class TestRemoteKeySet:
    def test_keys_are_fetched_from_the_identity_provider(self, jwks_url, signing_key):
        check = TokenVerifier(RemoteKeySet(jwks_url), issuer=ISSUER, audience=AUDIENCE)

        assert check.principal(rs256(signing_key)).partner == "acme"
        assert rejection(check, rs256(rsa_key(), kid="k2")) == (
            "the token's signature does not verify"
        )

    def test_an_unreachable_identity_provider_is_not_the_callers_fault(self, signing_key):
        check = TokenVerifier(
            RemoteKeySet("http://127.0.0.1:9/certs"), issuer=ISSUER, audience=AUDIENCE
        )

        with pytest.raises(KeysUnavailable):
            check.principal(rs256(signing_key))

    def test_a_malformed_token_is_refused_before_any_fetch(self):
        check = TokenVerifier(
            RemoteKeySet("http://127.0.0.1:9/certs"), issuer=ISSUER, audience=AUDIENCE
        )

        assert rejection(check, "not-a-token") == "the token is malformed"


def settings(**values: Any) -> Any:
    return load_settings({"jwt_issuer": ISSUER, **values}, environ={})


class TestSettings:
    def test_tokens_are_checked_by_default(self):
        defaults = load_settings({}, environ={})

        assert defaults.auth == "jwt"
        assert (defaults.jwt_audience, defaults.jwt_partner_claim) == ("mvno-bss", "partner")

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
    def test_dev_mode_is_allowed_on_loopback(self, host):
        assert load_settings({"auth": "dev", "host": host}, environ={}).auth == "dev"

    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "bss.example.test"])
    def test_dev_mode_is_refused_elsewhere_in_one_line(self, host):
        with pytest.raises(InvalidSettings) as refused:
            load_settings({"auth": "dev", "host": host}, environ={})

        message = str(refused.value)
        assert "BSS_AUTH: dev mode (no tokens) is only allowed on a loopback BSS_HOST" in message
        assert "\n" not in message

    def test_one_token_key_only(self):
        with pytest.raises(InvalidSettings, match="set one token key, not BSS_JWT_JWKS_URL"):
            settings(jwt_jwks_url="https://idp.example.test/certs", jwt_secret=SECRET)

    def test_a_short_secret_is_refused_without_being_shown(self):
        with pytest.raises(InvalidSettings) as refused:
            settings(jwt_secret="short-secret")

        assert "BSS_JWT_SECRET" in str(refused.value)
        assert "short-secret" not in str(refused.value)

    def test_the_secret_never_shows_in_the_settings_repr(self):
        assert SECRET not in repr(settings(jwt_secret=SECRET))

    def test_each_token_setting_is_read_from_its_bss_variable(self):
        loaded = load_settings(
            environ={
                "BSS_AUTH": "jwt",
                "BSS_JWT_ISSUER": ISSUER,
                "BSS_JWT_AUDIENCE": "bss-api",
                "BSS_JWT_JWKS_URL": "https://idp.example.test/certs",
                "BSS_JWT_PARTNER_CLAIM": "brand",
                "BSS_JWT_LEEWAY_SECONDS": "10",
            }
        )

        assert (loaded.jwt_issuer, loaded.jwt_audience) == (ISSUER, "bss-api")
        assert loaded.jwt_jwks_url == "https://idp.example.test/certs"
        assert (loaded.jwt_partner_claim, loaded.jwt_leeway_seconds) == ("brand", 10)


class TestVerifierOfSettings:
    def test_dev_mode_checks_no_token(self):
        assert verifier(load_settings({"auth": "dev"}, environ={})) is None

    def test_without_a_key_tokens_cannot_be_checked(self):
        with pytest.raises(InvalidSettings, match="tokens cannot be checked without a key"):
            verifier(settings())

    def test_a_secret_file_gives_the_secret(self, tmp_path):
        path = tmp_path / "secret"
        path.write_text(SECRET + "\n")

        check = verifier(settings(jwt_secret_file=str(path)))

        assert check is not None
        assert check.principal(hs256()).subject == "alice"

    def test_a_short_or_missing_secret_file_is_refused(self, tmp_path):
        path = tmp_path / "secret"
        path.write_text("short")

        with pytest.raises(InvalidSettings, match="shorter than 32 bytes"):
            verifier(settings(jwt_secret_file=str(path)))
        with pytest.raises(InvalidSettings, match="cannot read"):
            verifier(settings(jwt_secret_file=str(tmp_path / "missing")))

    def test_a_jwks_file_gives_its_keys(self, tmp_path, jwks, signing_key):
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps(jwks))

        check = verifier(settings(jwt_jwks_file=str(path)))

        assert check is not None
        assert check.principal(rs256(signing_key)).partner == "acme"

    @pytest.mark.parametrize("content", ["not json", "{}", '{"keys": []}'])
    def test_an_unusable_jwks_file_is_refused_in_one_line(self, tmp_path, content):
        path = tmp_path / "jwks.json"
        path.write_text(content)

        with pytest.raises(InvalidSettings, match="BSS_JWT_JWKS_FILE: not a usable JWKS"):
            verifier(settings(jwt_jwks_file=str(path)))


class TestDevelopmentTokens:
    def test_the_dev_secret_is_made_once_and_readable_by_us_only(self, tmp_path):
        path = ensure_dev_secret(tmp_path / "var")
        first = path.read_text()

        assert path.name == DEV_SECRET_FILE
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert len(first) >= 32
        assert ensure_dev_secret(tmp_path / "var").read_text() == first

    def test_a_signed_token_is_one_the_server_accepts(self, tmp_path):
        secret_file = ensure_dev_secret(Path(tmp_path))
        configured = settings(jwt_secret_file=str(secret_file))
        check = verifier(configured)

        principal = check.principal(sign_token(configured, DEMO_PARTNER, partner_scopes()))

        assert principal.partner == DEMO_PARTNER
        assert principal.scopes == partner_scopes()
        assert not principal.operator

    def test_only_a_shared_secret_signs_tokens(self):
        with pytest.raises(InvalidSettings, match="only a shared secret"):
            sign_token(settings(jwt_jwks_url="https://idp.example.test/certs"), "acme", [])
