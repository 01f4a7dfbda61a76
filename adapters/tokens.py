"""Bearer tokens: who a JWT says the caller is, once its signature, expiry, issuer and audience
have been checked.

Keys (one, from the settings): the RS256 public keys of an identity provider's JWKS, from a
URL (fetched when first needed, cached five minutes, fetched again for a key id it does not
know) or a file; or an HS256 shared secret (development, and the demo token `serve` prints).

Claims read: `sub`; the calling system from `client_id`, else `azp`, else `sub`; scopes from
`scope` (space-separated) and `scp` (a list, or space-separated); the partner from the
configured claim (`partner`), which only a token with the operator scope may leave out.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import jwt

from adapters.settings import (
    MIN_SECRET_LENGTH,
    TOKEN_KEYS,
    InvalidSettings,
    Settings,
    env_name,
)
from domain.security import OPERATOR, SCOPES, Principal, is_partner_id

DEV_SECRET_FILE = "jwt-dev-secret"  # in the data directory: the secret of `make run`
DEMO_CLIENT = "bss-demo"
JWKS_TIMEOUT_SECONDS = 5
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]


class InvalidToken(Exception):
    """A token that proves nothing (401); the message says why, never what the token holds."""


class KeysUnavailable(Exception):
    """The identity provider's keys could not be fetched: our failure, not the caller's."""


class Keys(Protocol):
    algorithms: tuple[str, ...]

    def key_for(self, token: str) -> Any:
        """The key to check `token`'s signature with."""


class SharedSecret:
    algorithms = ("HS256",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def key_for(self, token: str) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return "SharedSecret(***)"


class KeySet:
    """The signing keys of a JWKS document, by key id."""

    algorithms = ("RS256",)

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        keys = jwt.PyJWKSet.from_dict(dict(jwks)).keys
        self._keys = {key.key_id: key for key in keys if key.public_key_use in (None, "sig")}
        if not self._keys:
            raise jwt.PyJWKSetError("no signing key")

    def key_for(self, token: str) -> Any:
        kid = _header(token).get("kid")
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values())).key
        if kid not in self._keys:
            raise InvalidToken("the token is signed with a key the server does not know")
        return self._keys[kid].key


class RemoteKeySet:
    """The signing keys an identity provider publishes at a JWKS URL."""

    algorithms = ("RS256",)

    def __init__(self, url: str) -> None:
        self._client = jwt.PyJWKClient(url, timeout=JWKS_TIMEOUT_SECONDS)

    def key_for(self, token: str) -> Any:
        _header(token)  # a malformed token is the caller's mistake, not a missing key
        try:
            return self._client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(
                f"the identity provider's keys are unavailable: {error}"
            ) from None
        except jwt.PyJWKClientError:
            raise InvalidToken("the token is signed with a key the server does not know") from None


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the token is malformed") from None


# why a token is refused, most specific first
REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this server (audience)"),
    (jwt.InvalidIssuerError, "the token is not from the accepted issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, "the token is not signed with an accepted algorithm"),
)


@dataclass(frozen=True)
class TokenVerifier:
    keys: Keys
    issuer: str
    audience: str
    partner_claim: str = "partner"
    leeway_seconds: int = 30

    def principal(self, token: str) -> Principal:
        """The principal `token` names; InvalidToken if it proves nothing."""
        return principal_of(self._claims(token), self.partner_claim)

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self.keys.key_for(token),
                algorithms=list(self.keys.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token has no {error.claim} claim") from None
        except jwt.PyJWTError as error:
            reason = next((why for kind, why in REASONS if isinstance(error, kind)), None)
            raise InvalidToken(reason or "the token is malformed") from None


def principal_of(claims: Mapping[str, Any], partner_claim: str = "partner") -> Principal:
    subject = str(claims["sub"])
    client = claims.get("client_id") or claims.get("azp") or subject
    scopes = frozenset(_scopes(claims))
    partner = claims.get(partner_claim)
    if partner is None and OPERATOR not in scopes:
        raise InvalidToken(f"the token names no partner ({partner_claim} claim)")
    if partner is not None and not is_partner_id(partner):
        raise InvalidToken(f"the token's {partner_claim} claim is not a partner id")
    return Principal(str(client), subject, partner, scopes)


def _scopes(claims: Mapping[str, Any]) -> Iterable[str]:
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            yield from value.split()
        elif isinstance(value, list):
            yield from (scope for scope in value if isinstance(scope, str))


def verifier(settings: Settings) -> TokenVerifier | None:
    """What checks the tokens of an app with these settings; None in dev mode (no tokens)."""
    if settings.auth == "dev":
        return None
    return TokenVerifier(
        _keys(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        partner_claim=settings.jwt_partner_claim,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def _keys(settings: Settings) -> Keys:
    if settings.jwt_jwks_url:
        return RemoteKeySet(settings.jwt_jwks_url)
    if settings.jwt_jwks_file:
        try:
            return KeySet(json.loads(Path(settings.jwt_jwks_file).read_text(encoding="utf-8")))
        except (OSError, ValueError, jwt.PyJWTError) as error:
            raise InvalidSettings(
                f"{env_name('jwt_jwks_file')}: not a usable JWKS: {error}"
            ) from None
    secret = shared_secret(settings)
    if secret is None:
        raise InvalidSettings(
            "tokens cannot be checked without a key: set BSS_JWT_JWKS_URL or BSS_JWT_JWKS_FILE "
            "(RS256, your identity provider), or BSS_JWT_SECRET or BSS_JWT_SECRET_FILE (HS256)"
        )
    return SharedSecret(secret)


def shared_secret(settings: Settings) -> bytes | None:
    """The HS256 secret the settings give, or None."""
    if settings.jwt_secret:
        return settings.jwt_secret.encode()
    if not settings.jwt_secret_file:
        return None
    where = env_name("jwt_secret_file")
    try:
        secret = Path(settings.jwt_secret_file).read_bytes().strip()
    except OSError as error:
        message = f"{where}: cannot read {settings.jwt_secret_file}: {error.strerror}"
        raise InvalidSettings(message) from None
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidSettings(f"{where}: the secret is shorter than {MIN_SECRET_LENGTH} bytes")
    return secret


def key_configured(settings: Settings) -> bool:
    return any(getattr(settings, name) for name in TOKEN_KEYS)


def ensure_dev_secret(data_dir: Path) -> Path:
    """The development secret's file in `data_dir`, made (readable by us only) if missing."""
    path = data_dir / DEV_SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_urlsafe(48))
    return path


def partner_scopes() -> frozenset[str]:
    """Every scope of the APIs' table but OPERATOR: all a partner's token can grant."""
    return frozenset(scope for pair in SCOPES.values() for scope in pair) - {OPERATOR}


def sign_token(
    settings: Settings,
    partner: str | None,
    scopes: Iterable[str],
    lifetime: timedelta = timedelta(hours=24),
    subject: str = "demo-user",
) -> str:
    """A token the settings' shared secret signs: for development and tests. With a JWKS,
    tokens come from the identity provider."""
    secret = shared_secret(settings)
    if secret is None:
        raise InvalidSettings(
            "only a shared secret (BSS_JWT_SECRET or BSS_JWT_SECRET_FILE) signs tokens here; "
            "with a JWKS, get them from your identity provider"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "client_id": DEMO_CLIENT,
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "exp": now + int(lifetime.total_seconds()),
    }
    if partner is not None:
        claims[settings.jwt_partner_claim] = partner
    return jwt.encode(claims, secret, algorithm="HS256")
