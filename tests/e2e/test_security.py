"""Security over HTTP: every operation of every API needs a bearer token (401 without one)
granting its scope (403 with another), the principal a token names is who the handler acts
as, and the specs document it all.

Fixtures for security tests (partner isolation builds on them):
- `secured_app` / `secured`: an app that checks tokens (HS256, SECRET), shared by the session;
  `secured` is its test client with every collection emptied first.
- `token(partner, scopes, **claims)`: a token the app accepts, for `partner` (None: an
  operator's token, the operator scope added) with `scopes`; `claims` override or drop (None)
  any claim. `bearer(...)` gives the Authorization header of one, `as_partner(partner)` the
  headers of a partner with every scope, `as_operator(partner)` those of an operator acting
  for `partner` (X-Partner) or across partners (None).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import jwt
import pytest
from connexion.exceptions import ProblemException
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters import acting, tokens
from adapters.partners import DEMO_PARTNER
from adapters.settings import load_settings
from app import APIS, _dev_secret, _how_to_call
from domain.security import OPERATOR, SCOPES, Principal, required_scope
from handlers.auth import DEV_PRINCIPAL, AuthMiddleware
from handlers.specs import base_path, load_spec
from tests.e2e.conftest import database_of, fresh_database_name, running_app

SECRET = "e2e-security-secret-of-at-least-32-bytes"
ISSUER = "https://idp.example.test/realms/mvno"
AUDIENCE = "mvno-bss-e2e"
PARTNER_SCOPES = tokens.partner_scopes()
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
REPO = Path(__file__).resolve().parents[2]
BARE_CHALLENGE = 'Bearer realm="mvno-bss"'


def token(partner: str | None = "acme", scopes: Any = PARTNER_SCOPES, **claims: Any) -> str:
    now = int(time.time())
    granted = set(scopes) | ({OPERATOR} if partner is None else set())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"user-of-{partner or 'operator'}",
        "client_id": f"client-of-{partner or 'operator'}",
        "scope": " ".join(sorted(granted)),
        "partner": partner,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    present = {name: value for name, value in values.items() if value is not None}
    return jwt.encode(present, SECRET, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def as_partner(partner: str, scopes: Any = PARTNER_SCOPES) -> dict[str, str]:
    return bearer(token(partner, scopes))


def as_operator(partner: str | None = None) -> dict[str, str]:
    headers = bearer(token(None))
    return {**headers, "X-Partner": partner} if partner else headers


def auth_settings(**overrides: Any) -> dict[str, Any]:
    return {"auth": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **overrides}


@pytest.fixture(scope="session")
def secured_app(mongo_uri: str) -> Iterator[Any]:
    settings = auth_settings(jwt_secret=SECRET)
    with running_app(mongo_uri, fresh_database_name(), **settings) as application:
        yield application


@pytest.fixture(scope="session")
def secured_client(secured_app: Any) -> Iterator[Any]:
    with secured_app.test_client() as test_client:
        yield test_client


@pytest.fixture
def secured(secured_app: Any, secured_client: Any) -> Any:
    """The client of the app that checks tokens, its database as good as new."""
    db = database_of(secured_app)
    for name in db.list_collection_names():
        db[name].delete_many({})
    return secured_client


def _operations() -> Iterator[Any]:
    """(api, method, path with made-up ids) of every operation of every API's spec."""
    for api in APIS:
        spec = load_spec(api.spec)
        for path, item in spec["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    concrete = base_path(spec) + re.sub(r"\{[^}]+\}", "no-such-id", path)
                    label = f"{method.upper()} {api.name}{path}"
                    yield pytest.param(api.name, method.upper(), concrete, id=label)


OPERATIONS = list(_operations())


def assert_tmf_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == str(status)
    assert body["code"] and body["reason"] and body["message"]
    return body


def challenge(response: Any) -> str:
    return response.headers["WWW-Authenticate"]


class TestEveryOperationOfEveryApi:
    def test_the_operations_are_all_there(self):
        assert len(OPERATIONS) > 100
        assert {api.name for api in APIS} <= set(SCOPES)

    @pytest.mark.parametrize(("api", "method", "path"), OPERATIONS)
    def test_without_a_token_it_is_401(self, secured, api, method, path):
        response = secured.request(method, path, json={} if method in ("POST", "PATCH") else None)

        body = assert_tmf_error(response, 401)
        assert body["code"] == "ERR_UNAUTHORIZED"
        assert challenge(response) == BARE_CHALLENGE

    @pytest.mark.parametrize(("api", "method", "path"), OPERATIONS)
    def test_with_a_token_lacking_its_scope_it_is_403(self, secured, api, method, path):
        needed = required_scope(api, method)
        others = (PARTNER_SCOPES | {OPERATOR}) - {needed}

        response = secured.request(method, path, headers=bearer(token("acme", others)))

        body = assert_tmf_error(response, 403)
        assert body["code"] == "ERR_FORBIDDEN"
        assert needed in body["message"]
        assert challenge(response) == (
            f'{BARE_CHALLENGE}, error="insufficient_scope", scope="{needed}"'
        )

    @pytest.mark.parametrize(("api", "method", "path"), OPERATIONS)
    def test_with_just_its_scope_it_gets_past_authorization(self, secured, api, method, path):
        needed = required_scope(api, method)
        partner = None if needed == OPERATOR else "acme"

        response = secured.request(
            method,
            path,
            headers=bearer(token(partner, {needed})),
            json={} if method in ("POST", "PATCH") else None,
        )

        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text


# each bad token, and why the server says it refuses it
BAD_TOKENS = {
    "expired": (lambda: token(exp=int(time.time()) - 600), "the token has expired"),
    "not yet valid": (lambda: token(nbf=int(time.time()) + 600), "the token is not valid yet"),
    "forged": (
        lambda: jwt.encode(jwt.decode(token(), options={"verify_signature": False}), "f" * 40),
        "the token's signature does not verify",
    ),
    "wrong audience": (
        lambda: token(aud="another-service"),
        "the token is not meant for this server (audience)",
    ),
    "wrong issuer": (
        lambda: token(iss="https://evil.example.test"),
        "the token is not from the accepted issuer",
    ),
    # no partner claim, and no operator scope either (the scope claim replaced)
    "no partner": (
        lambda: token(partner=None, scope="customer:read"),
        "the token names no partner",
    ),
    "unsigned": (
        lambda: jwt.encode(jwt.decode(token(), options={"verify_signature": False}), None, "none"),
        "the token is not signed with an accepted algorithm",
    ),
    "garbage": (lambda: "not.a.token", "the token is malformed"),
}


class TestTokens:
    def test_a_good_token_is_let_through(self, secured):
        response = secured.get(CUSTOMERS, headers=as_partner("acme"))

        assert response.status_code == 200

    @pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
    def test_a_bad_token_is_401_saying_why(self, secured, kind):
        make, reason = BAD_TOKENS[kind]

        response = secured.get(CUSTOMERS, headers=bearer(make()))

        body = assert_tmf_error(response, 401)
        assert reason in body["message"]
        assert challenge(response).startswith(f'{BARE_CHALLENGE}, error="invalid_token"')
        assert reason in challenge(response)

    @pytest.mark.parametrize(
        "authorization", ["", "Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Token abc"]
    )
    def test_no_bearer_token_is_401_with_the_bare_challenge(self, secured, authorization):
        response = secured.get(CUSTOMERS, headers={"Authorization": authorization})

        assert_tmf_error(response, 401)
        assert challenge(response) == BARE_CHALLENGE

    def test_the_scheme_is_case_insensitive(self, secured):
        response = secured.get(CUSTOMERS, headers={"Authorization": f"bearer {token()}"})

        assert response.status_code == 200

    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/health",
            "/ready",
            "/tmf-api/customerManagement/v4/openapi.json",
            "/tmf-api/customerManagement/v4/ui/",
        ],
    )
    def test_the_service_and_its_documents_need_no_token(self, secured, path):
        assert secured.get(path).status_code == 200

    def test_a_path_of_no_api_is_closed(self, secured):
        response = secured.get("/tmf-api/somethingElse/v4/thing", headers=as_partner("acme"))

        assert_tmf_error(response, 404)
        assert secured.get("/tmf-api/somethingElse/v4/thing").status_code == 401


@pytest.fixture
def seen(secured_app: Any) -> Iterator[list[Principal]]:
    """The principals the customer list handler ran as."""
    service = secured_app.app.extensions["bss"].resources["customer"]
    principals: list[Principal] = []
    listing = service.list

    def spying(query: Any) -> Any:
        principals.append(acting.principal())
        return listing(query)

    service.list = spying
    yield principals
    del service.list


class TestWhoTheHandlerActsAs:
    def test_the_principal_the_token_names(self, secured, seen):
        secured.get(CUSTOMERS, headers=bearer(token("acme", {"customer:read"}, azp="portal")))

        assert seen == [
            Principal("client-of-acme", "user-of-acme", "acme", frozenset({"customer:read"}))
        ]

    def test_an_operator_acts_across_partners(self, secured, seen):
        secured.get(CUSTOMERS, headers=as_operator())

        assert seen[0].operator
        assert seen[0].partner is None

    def test_an_operator_acts_for_the_partner_it_names(self, secured, seen):
        secured.get(CUSTOMERS, headers=as_operator("acme"))

        assert seen[0].operator
        assert seen[0].partner == "acme"

    def test_a_partner_may_name_itself(self, secured, seen):
        response = secured.get(CUSTOMERS, headers={**as_partner("acme"), "X-Partner": "acme"})

        assert response.status_code == 200
        assert seen[0].partner == "acme"

    def test_a_partner_may_not_name_another(self, secured, seen):
        response = secured.get(CUSTOMERS, headers={**as_partner("acme"), "X-Partner": "globex"})

        body = assert_tmf_error(response, 403)
        assert "only an operator may act for another partner" in body["message"]
        assert seen == []

    @pytest.mark.parametrize("partner", ["", "a b", "platform", "x" * 65])
    def test_an_x_partner_that_is_no_partner_id_is_400(self, secured, seen, partner):
        response = secured.get(CUSTOMERS, headers={**as_operator(), "X-Partner": partner})

        assert_tmf_error(response, 400)
        assert seen == []

    def test_after_the_request_the_principal_is_gone(self, secured, seen):
        secured.get(CUSTOMERS, headers=as_partner("acme"))

        assert acting.principal() is acting.SYSTEM

    def test_in_dev_mode_every_request_is_an_operator_with_every_scope(self, app, client):
        service = app.app.extensions["bss"].resources["customer"]
        principals: list[Principal] = []
        listing = service.list
        service.list = lambda query: principals.append(acting.principal()) or listing(query)
        try:
            client.get(CUSTOMERS)
            client.get(CUSTOMERS, headers={"X-Partner": "acme"})
        finally:
            del service.list

        assert principals == [DEV_PRINCIPAL, Principal("dev", "dev", "acme", DEV_PRINCIPAL.scopes)]
        assert DEV_PRINCIPAL.scopes == PARTNER_SCOPES | {OPERATOR}


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def idp(mongo_uri: str, tmp_path_factory: Any) -> Iterator[tuple[Any, Any]]:
    """The client of an app checking RS256 tokens against a JWKS file, and the identity
    provider's signing key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = tmp_path_factory.mktemp("idp") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [rsa_jwk(key, "idp-1")]}))
    settings = auth_settings(jwt_jwks_file=str(jwks))
    with (
        running_app(mongo_uri, fresh_database_name(), **settings) as application,
        application.test_client() as test_client,
    ):
        yield test_client, key


def rs256(key: Any, kid: str = "idp-1", **claims: Any) -> str:
    payload = jwt.decode(token(**claims), options={"verify_signature": False})
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


class TestIdentityProviderKeys:
    def test_a_token_of_the_identity_provider_is_let_through(self, idp):
        client, key = idp

        assert client.get(CUSTOMERS, headers=bearer(rs256(key))).status_code == 200

    def test_a_token_signed_by_another_key_is_401(self, idp):
        client, _ = idp
        impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        response = client.get(CUSTOMERS, headers=bearer(rs256(impostor)))

        assert "the token's signature does not verify" in assert_tmf_error(response, 401)["message"]

    def test_a_token_of_an_unknown_key_is_401(self, idp):
        client, key = idp

        response = client.get(CUSTOMERS, headers=bearer(rs256(key, kid="idp-2")))

        assert "key the server does not know" in assert_tmf_error(response, 401)["message"]

    def test_the_shared_secret_is_no_key_here(self, idp):
        client, _ = idp

        response = client.get(CUSTOMERS, headers=bearer(token()))

        assert "accepted algorithm" in assert_tmf_error(response, 401)["message"]

    def test_an_expired_token_is_401(self, idp):
        client, key = idp
        expired = rs256(key, exp=int(time.time()) - 600)

        assert (
            "expired"
            in assert_tmf_error(client.get(CUSTOMERS, headers=bearer(expired)), 401)["message"]
        )


class TestUnavailableKeys:
    def test_an_identity_provider_that_cannot_be_reached_is_503_not_401(self):
        class Unreachable:
            def principal(self, _: str) -> Principal:
                raise tokens.KeysUnavailable("the identity provider's keys are unavailable")

        async def never_called(*_: Any) -> None:
            raise AssertionError("the request went on")

        middleware = AuthMiddleware(never_called, Unreachable())
        scope = {
            "type": "http",
            "path": CUSTOMERS,
            "method": "GET",
            "headers": [(b"authorization", f"Bearer {token()}".encode())],
        }

        with pytest.raises(ProblemException) as refused:
            anyio.run(middleware, scope, None, None)

        assert refused.value.status == 503


class TestSpecs:
    @pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
    def test_every_spec_documents_the_bearer_scheme_and_its_scopes(self, api):
        spec = load_spec(api.spec)
        scheme = spec["components"]["securitySchemes"]["bearerAuth"]
        read, write = SCOPES[api.name]

        assert spec["security"] == [{"bearerAuth": []}]
        assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
            "http",
            "bearer",
            "JWT",
        )
        assert f"| `{read}` |" in scheme["description"]
        assert f"| `{write}` |" in scheme["description"]


class TestNewcomer:
    """`make run` out of the box: on loopback, with no key configured, a development secret
    in the data directory signs the demo token `serve` prints."""

    @pytest.fixture
    def environment(self, monkeypatch: Any, tmp_path: Path) -> Path:
        for name in list(os.environ):
            if name.startswith("BSS_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("BSS_DATA_DIR", str(tmp_path))
        return tmp_path

    def test_a_dev_secret_signs_the_demo_token_that_serve_prints(self, environment):
        settings = _dev_secret(load_settings())

        assert settings.jwt_secret_file == str(environment / tokens.DEV_SECRET_FILE)
        assert os.environ["BSS_JWT_SECRET_FILE"] == settings.jwt_secret_file  # for the workers
        printed = _how_to_call(settings)
        demo = re.search(r"export TOKEN=(\S+)", printed)
        assert demo, printed
        principal = tokens.verifier(settings).principal(demo.group(1))
        assert (principal.partner, principal.scopes) == (DEMO_PARTNER, PARTNER_SCOPES)
        assert 'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/' in printed

    def test_a_configured_key_is_kept(self, environment, monkeypatch):
        monkeypatch.setenv("BSS_JWT_JWKS_URL", "https://idp.example.test/certs")

        settings = _dev_secret(load_settings())

        assert settings.jwt_secret_file is None
        assert "bearer tokens of mvno-bss-dev" in _how_to_call(settings)

    def test_off_loopback_no_secret_is_made(self, environment, monkeypatch):
        monkeypatch.setenv("BSS_HOST", "0.0.0.0")

        settings = _dev_secret(load_settings())

        assert settings.jwt_secret_file is None
        assert not (environment / tokens.DEV_SECRET_FILE).exists()


def _run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "app.py", *args],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BSS_") and k != "MONGODB_URI"}
    return {**env, "BSS_DATA_DIR": str(tmp_path), **values}


class TestCommandLine:
    def test_dev_mode_off_loopback_is_refused_in_one_line(self, tmp_path):
        ran = _run("serve", env=_clean_env(tmp_path, BSS_AUTH="dev", BSS_HOST="0.0.0.0"))

        assert ran.returncode == 1
        assert ran.stderr.strip().count("\n") == 0
        assert "dev mode (no tokens) is only allowed on a loopback BSS_HOST" in ran.stderr

    def test_off_loopback_a_key_is_required_in_one_line(self, tmp_path):
        ran = _run("serve", env=_clean_env(tmp_path, BSS_HOST="0.0.0.0", BSS_PORT=str(_port())))

        assert ran.returncode == 1
        assert ran.stderr.strip().count("\n") == 0
        assert "tokens cannot be checked without a key" in ran.stderr

    def test_the_token_command_prints_a_token_of_the_dev_secret(self, tmp_path):
        ran = _run(
            "token", "--partner", "acme", "--scope", "customer:read", env=_clean_env(tmp_path)
        )

        assert ran.returncode == 0, ran.stderr
        settings = load_settings(
            {"data_dir": str(tmp_path), "jwt_secret_file": str(tmp_path / "jwt-dev-secret")},
            environ={},
        )
        principal = tokens.verifier(settings).principal(ran.stdout.strip())
        assert (principal.partner, principal.scopes) == ("acme", {"customer:read"})

    @pytest.mark.slow
    def test_make_run_serves_a_newcomer_who_uses_the_printed_token(self, tmp_path):
        import requests

        port = _port()
        env = _clean_env(tmp_path, BSS_PORT=str(port), BSS_WORKERS="1", BSS_DEMO_DATA="false")
        server = subprocess.Popen(
            [sys.executable, "app.py", "serve"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            lines = []
            while not any("export TOKEN=" in line for line in lines):
                line = server.stdout.readline()
                assert line, f"serve ended: {lines}"
                lines.append(line)
            demo = re.search(r"export TOKEN=(\S+)", "".join(lines)).group(1)
            url = f"http://127.0.0.1:{port}{CUSTOMERS}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    anonymous = requests.get(url, timeout=5)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "serve never answered"
                    time.sleep(0.2)
            authorized = requests.get(url, headers=bearer(demo), timeout=5)
        finally:
            server.terminate()
            server.wait(30)
            server.stdout.close()

        assert anonymous.status_code == 401
        assert authorized.status_code == 200


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
