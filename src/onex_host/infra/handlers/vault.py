"""``VaultHandler``: KV version 2 secrets through hvac (Vault, or OpenBao which speaks the same API).

hvac is synchronous. Every call runs on a small, bounded thread pool
(``max_workers``) through ``loop.run_in_executor``, so a slow Vault delays
only the envelopes waiting for Vault; when all workers are busy further
Vault calls queue instead of starting threads. A call abandoned because the
envelope's TTL ran out keeps its worker until hvac's own ``timeout_seconds``.

The token authenticates the host, so it is a ``SecretStr`` read from the
environment by the contract (``token: ${VAULT_TOKEN}``) and scrubbed from
every message this handler produces. ``allowed_paths`` limits the secrets a
host can touch to path prefixes (whole segments: ``apps/onex`` allows
``apps/onex/db`` but not ``apps/onex-admin``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import hvac
import hvac.exceptions
import requests
from pydantic import Field, JsonValue, field_validator

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.core.secrets import SecretText
from onex_host.infra.handlers._paths import join_paths, normalize_path, within_prefixes
from onex_host.infra.handlers._urls import HttpUrlText
from onex_host.infra.handlers.base import BaseHandler, HandlerConfigModel, PayloadModel, action

T = TypeVar("T")


class VaultHandlerConfig(HandlerConfigModel):
    url: HttpUrlText = Field(description="Vault (or OpenBao) address, e.g. https://vault:8200")
    token: SecretText = Field(description="From the environment: token: ${VAULT_TOKEN}")
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace; empty means none.")
    mount_point: str = Field(default="secret", min_length=1)
    allowed_paths: list[str] | None = Field(
        default=None, description="Path prefixes (under the mount) this host may touch; unset allows all."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_workers: int = Field(default=4, ge=1, le=64, description="Threads running hvac calls.")
    verify_tls: bool = True

    @field_validator("namespace")
    @classmethod
    def _empty_is_none(cls, namespace: str | None) -> str | None:
        return namespace or None

    @field_validator("allowed_paths")
    @classmethod
    def _clean_prefixes(cls, prefixes: list[str] | None) -> list[str] | None:
        return None if prefixes is None else [normalize_path(p, "allowed_paths entry") for p in prefixes]


class GetSecretPayload(PayloadModel):
    path: str
    version: int | None = Field(default=None, ge=1)


class SetSecretPayload(PayloadModel):
    path: str
    data: dict[str, JsonValue] = Field(min_length=1)
    cas: int | None = Field(default=None, ge=0, description="Write only if the current version is this one.")


class DeleteSecretPayload(PayloadModel):
    path: str
    all_versions: bool = Field(
        default=False, description="Destroy every version and the metadata, not just the latest."
    )


class ListSecretsPayload(PayloadModel):
    path: str = ""


class VaultHandler(BaseHandler[VaultHandlerConfig]):
    handler_type = EnumHandlerType.VAULT
    config_model = VaultHandlerConfig
    contract_keys = frozenset({"path_prefix", "mount_point"})

    def __init__(self, config: VaultHandlerConfig | None = None) -> None:
        super().__init__(config)
        self._client: hvac.Client | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._session: requests.Session | None = None

    async def _open(self, config: VaultHandlerConfig) -> None:
        """Build the client; no request is made, so the host starts while Vault is down."""
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=config.max_workers)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.trust_env = False  # no proxy or netrc credentials from the environment
        self._client = hvac.Client(
            url=config.url,
            token=config.token.get_secret_value(),
            namespace=config.namespace,
            timeout=cast(int, config.timeout_seconds),  # handed to requests, which takes floats; the stub says int
            verify=config.verify_tls,
            session=self._session,
        )
        self._executor = ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="onex-vault")

    async def _close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._session is not None:
            self._session.close()
        self._client = self._executor = self._session = None

    async def _probe(self) -> dict[str, Any]:
        status = await self._call(
            self.config.timeout_seconds,
            self._vault.sys.read_health_status,
            method="GET",
            standby_ok=True,
            sealed_code=200,  # report sealed/uninitialized as data, not as an HTTP error
            uninit_code=200,
        )
        if not isinstance(status, dict):  # hvac hands back the raw response for an answer it cannot read
            code = getattr(status, "status_code", "?")
            raise RuntimeError(f"Vault's health endpoint gave an unexpected answer (HTTP {code})")
        details = {
            "initialized": bool(status.get("initialized")),
            "sealed": bool(status.get("sealed")),
            "standby": bool(status.get("standby")),
            "version": str(status.get("version", "")),
        }
        if details["sealed"] or not details["initialized"]:
            raise RuntimeError(
                f"Vault is not serving (initialized={details['initialized']}, sealed={details['sealed']}, "
                f"version={details['version']})"
            )
        return details

    def check_params(self, action: str, spec: ModelOperationSpec) -> str | None:
        for key in ("path_prefix", "path", "mount_point"):
            value = spec.params.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                return f"params.{key}: must be a string"
            try:
                normalize_path(value, f"params.{key}")
            except ValueError as exc:
                return str(exc)
        return None

    # -- actions --------------------------------------------------------------------

    @action("get_secret", payload=GetSecretPayload)
    async def _get_secret(self, request: GetSecretPayload, context: OperationContext) -> dict[str, Any]:
        path = self._secret_path(context, request.path)
        response = await self._call(
            context.timeout(self.config.timeout_seconds),
            self._vault.secrets.kv.v2.read_secret_version,
            path=path,
            version=request.version,
            mount_point=self._mount(context),
            raise_on_deleted_version=True,
        )
        metadata = response["data"]["metadata"]
        return {
            "path": path,
            "data": response["data"]["data"],
            "version": metadata.get("version"),
            "created_time": metadata.get("created_time"),
        }

    @action("set_secret", payload=SetSecretPayload)
    async def _set_secret(self, request: SetSecretPayload, context: OperationContext) -> dict[str, Any]:
        path = self._secret_path(context, request.path)
        response = await self._call(
            context.timeout(self.config.timeout_seconds),
            self._vault.secrets.kv.v2.create_or_update_secret,
            path=path,
            secret=request.data,
            cas=request.cas,
            mount_point=self._mount(context),
        )
        return {"path": path, "version": response["data"].get("version")}

    @action("delete_secret", payload=DeleteSecretPayload)
    async def _delete_secret(self, request: DeleteSecretPayload, context: OperationContext) -> dict[str, Any]:
        path = self._secret_path(context, request.path)
        kv = self._vault.secrets.kv.v2
        delete = kv.delete_metadata_and_all_versions if request.all_versions else kv.delete_latest_version_of_secret
        await self._call(
            context.timeout(self.config.timeout_seconds), delete, path=path, mount_point=self._mount(context)
        )
        return {"path": path, "deleted": True, "all_versions": request.all_versions}

    @action("list_secrets", payload=ListSecretsPayload)
    async def _list_secrets(self, request: ListSecretsPayload, context: OperationContext) -> dict[str, Any]:
        """Keys directly under ``path``; a sub-folder ends with ``/``. An empty folder lists nothing."""
        path = self._secret_path(context, request.path)
        try:
            response = await self._call(
                context.timeout(self.config.timeout_seconds),
                self._vault.secrets.kv.v2.list_secrets,
                path=path,
                mount_point=self._mount(context),
            )
        except hvac.exceptions.InvalidPath:
            return {"path": path, "keys": []}
        return {"path": path, "keys": list(response["data"].get("keys", []))}

    # -- internals ----------------------------------------------------------------------

    @property
    def _vault(self) -> hvac.Client:
        return self._require(self._client)

    async def _call(self, timeout: float, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run one hvac call on the worker pool, giving up after ``timeout``."""
        executor = self._require(self._executor)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            return await loop.run_in_executor(executor, functools.partial(fn, **kwargs))

    def _mount(self, context: OperationContext) -> str:
        mount: str = context.spec.params.get("mount_point") or self.config.mount_point
        return mount

    def _secret_path(self, context: OperationContext, requested: str) -> str:
        """The full path under the mount, refused unless it is within ``allowed_paths``."""
        try:
            path = join_paths(context.spec.params.get("path_prefix", ""), requested)
        except ValueError as exc:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"payload.{exc}") from None
        if not within_prefixes(path, self.config.allowed_paths):
            raise OperationError(
                EnumErrorCode.FORBIDDEN,
                f"payload.path: {path!r} is outside the vault handler's allowed_paths",
                {"path": path},
            )
        return path

    def translate_error(self, exc: Exception) -> OperationError | None:
        if isinstance(exc, hvac.exceptions.InvalidPath):
            return OperationError(EnumErrorCode.NOT_FOUND, f"no secret there: {exc}")
        if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
            return OperationError(EnumErrorCode.FORBIDDEN, f"Vault refused the request: {exc}")
        if isinstance(
            exc,
            hvac.exceptions.VaultDown
            | hvac.exceptions.InternalServerError
            | hvac.exceptions.BadGateway
            | hvac.exceptions.RateLimitExceeded,
        ):
            return OperationError(EnumErrorCode.UPSTREAM_UNAVAILABLE, f"Vault is not serving: {exc}")
        if isinstance(exc, hvac.exceptions.VaultError):
            return OperationError(EnumErrorCode.UPSTREAM_ERROR, f"Vault error: {exc}")
        if isinstance(exc, requests.Timeout):
            return OperationError(EnumErrorCode.TIMEOUT, "Vault did not answer in time")
        if isinstance(exc, requests.RequestException):
            return OperationError(
                EnumErrorCode.UPSTREAM_UNAVAILABLE, f"Vault is unreachable: {type(exc).__name__}: {exc}"
            )
        return None
