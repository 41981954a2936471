"""Verification of the EHR's bearer token (CDS Hooks 2.0 "Trusting CDS Clients"), with PyJWT.

The EHR signs a JWT per call (``Authorization: Bearer <jwt>``): ``iss`` must be an allowed issuer, ``aud`` this
service's URL, ``exp`` in the future (``iat``/``nbf`` honoured), ``jti`` present; the signature is checked with
the issuer's key (RS384/ES384 and the other asymmetric algorithms; never ``none`` or a shared secret) found by
``kid`` in a JWKS file, a JWKS URL, or the token's ``jku`` header when that URL is allow-listed for its issuer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ALGORITHMS", "AuthConfig", "AuthError", "verify"]

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]


class AuthError(Exception):
    """A missing or unacceptable bearer token (answered with 401)."""


@dataclass(frozen=True)
class AuthConfig:
    """``mode``: "off" (no check), "verify" (a token, when sent, must be valid) or "require" (every call needs one).

    ``issuers``: issuer -> the ``jku`` URLs allowed for its keys; ``audience``: this service's URL as the EHR
    writes it in ``aud``; ``jwks``: a JWKS file path or https URL with the issuers' public keys."""

    mode: str = "off"
    issuers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    audience: str | None = None
    jwks: str | None = None
    leeway: float = 30.0

    def __post_init__(self) -> None:
        if self.mode not in ("off", "verify", "require"):
            raise ValueError(f"auth mode must be off, verify or require, not {self.mode!r}")
        if self.mode != "off" and not self.issuers:
            raise ValueError("token verification needs at least one allowed issuer")


_CLIENTS: dict[str, Any] = {}


def _key_for(config: AuthConfig, token: str, issuer: str, header: Mapping[str, Any]) -> Any:
    import jwt

    kid = header.get("kid")
    jku = header.get("jku")
    if jku is not None:
        if jku not in config.issuers.get(issuer, ()):
            raise AuthError("the token's jku is not allowed for its issuer")
        source = str(jku)
    elif config.jwks:
        source = config.jwks
    else:
        raise AuthError("no key source for the token (no JWKS configured and no allowed jku)")
    if "://" in source:
        client = _CLIENTS.setdefault(source, jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=5))
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"the signing key could not be found ({exc})") from None
    keys = jwt.PyJWKSet.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))
    for key in keys.keys:
        if kid is None or key.key_id == kid:
            return key.key
    raise AuthError("no key with the token's kid in the configured JWKS")


def verify(config: AuthConfig, authorization: str | None) -> dict[str, Any] | None:
    """The verified claims of the request's bearer token, None when none is needed; AuthError otherwise."""
    if config.mode == "off":
        return None
    if not authorization:
        if config.mode == "require":
            raise AuthError("this service requires a bearer token from the EHR")
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <JWT>'")
    import jwt

    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError("the bearer token is not a JWT") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in config.issuers:
        raise AuthError("the token's issuer is not allowed")
    if header.get("alg") not in ALGORITHMS:
        raise AuthError("the token's algorithm is not accepted")
    key = _key_for(config, token, issuer, header)
    try:
        return dict(jwt.decode(token, key, algorithms=ALGORITHMS, audience=config.audience, issuer=issuer,
                               leeway=config.leeway,
                               options={"require": ["exp", "iss", "aud", "jti"] if config.audience else
                                        ["exp", "iss", "jti"], "verify_aud": config.audience is not None}))
    except jwt.PyJWTError as exc:
        raise AuthError(f"the bearer token was refused ({type(exc).__name__})") from None
