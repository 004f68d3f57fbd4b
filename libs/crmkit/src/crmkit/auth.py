"""JWT verification and the principal. The gateway verifies the bearer token and forwards it
in gRPC metadata; every service verifies it again (never trust the network).

HS256 with a shared secret for local use; RS256 with a JWKS URL for an OIDC provider."""
from __future__ import annotations

import contextvars
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import jwt

from crmkit.config import AuthSettings
from crmkit.errors import Unauthenticated

ROLES = ("rep", "manager", "admin", "finance", "legal", "support", "marketing", "analyst", "service", "auditor",
         "integration")  # integration: an external system (ERP, shop) managing its own webhooks


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: tuple[str, ...] = ()
    team: str = ""
    region: str = ""
    name: str = ""
    # Whose records an active delegation lends this user (never from the token: the service
    # that keeps delegations fills it for the call, see `lent`).
    delegators: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles or "service" in self.roles

    @property
    def is_manager(self) -> bool:
        return "manager" in self.roles

    def has_role(self, *roles: str) -> bool:
        return self.is_admin or any(role in self.roles for role in roles)

    def lent(self, delegators: Sequence[str]) -> Principal:
        """This principal, also covering for `delegators` (their active delegations to it)."""
        return replace(self, delegators=tuple(sorted(set(delegators)))) if delegators else self


# The principal of work a service does on its own behalf (scheduled jobs, event handlers, calls
# to another service that no user asked for). Not a user: no one signs in as it.
SYSTEM = Principal("system", ("service",), "platform", "", "internal service account")


@dataclass
class TokenVerifier:
    settings: AuthSettings
    leeway_seconds: int = 30
    _jwks: jwt.PyJWKClient | None = field(default=None, init=False)

    def verify(self, token: str) -> Principal:
        try:
            if self.settings.jwks_url:
                if self._jwks is None:
                    self._jwks = jwt.PyJWKClient(self.settings.jwks_url, cache_keys=True)
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self.settings.jwt_secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["sub", "exp"], "verify_aud": bool(self.settings.audience)},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from None
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        return Principal(
            user_id=str(claims["sub"]),
            roles=tuple(r for r in roles if isinstance(r, str)),
            team=str(claims.get("team", "")),
            region=str(claims.get("region", "")),
            name=str(claims.get("name", "")),
        )


def mint_token(principal: Principal, secret: str, ttl_seconds: int = 12 * 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": principal.user_id,
        "roles": list(principal.roles),
        "team": principal.team,
        "region": principal.region,
        "name": principal.name,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")




# The verified caller of the current gRPC call, set by the server interceptor.
_principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "principal", default=None
)
# The caller's own `authorization` metadata, forwarded when a use case asks another service on
# the caller's behalf (that service applies its own permissions to the same user).
_authorization_var: contextvars.ContextVar[str] = contextvars.ContextVar("authorization", default="")


def current_authorization() -> str:
    return _authorization_var.get()


def set_authorization(value: str) -> contextvars.Token[str]:
    return _authorization_var.set(value)


def current_principal() -> Principal:
    principal = _principal_var.get()
    if principal is None:
        raise Unauthenticated("no authenticated principal for this call")
    return principal


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _principal_var.set(principal)
