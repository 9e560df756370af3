"""``ConsulHandler``: service registration, discovery and KV through Consul's HTTP API (httpx).

Services are registered with the local agent (``/v1/agent/service/...``),
so they live as long as that agent does; discovery reads the catalog's
health view and returns only instances whose checks pass. KV values travel
as text when they are UTF-8 and as base64 otherwise (``value_encoding``
says which); Consul's own base64 wire encoding never reaches the caller.
A failed check-and-set is an error reply, not a silent ``false``.

Two things a command could otherwise make the agent do are bounded here:

* ``recurse`` reads or deletes the keys *below* ``key/``, whole segments:
  Consul matches a recursive prefix as a string, so ``onex/infra`` would also
  take ``onex/infra-admin/...``. Entries outside the allowed prefixes are
  dropped from a read as well, in case the agent ever answers more.
* an HTTP or TCP health check makes the agent connect wherever the check
  says (a blind SSRF from the agent's network position), so check targets
  must be in ``allowed_check_hosts`` (empty by default: TTL checks only).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.core.secrets import SecretText
from onex_host.infra.handlers._host_allowlist import HostAllowlist, HostRules
from onex_host.infra.handlers._httpx import HttpxHandler, status_failure
from onex_host.infra.handlers._paths import join_paths, normalize_path, within_prefixes
from onex_host.infra.handlers._urls import HttpUrlText
from onex_host.infra.handlers.base import HandlerConfigModel, PayloadModel, action


class ConsulHandlerConfig(HandlerConfigModel):
    url: HttpUrlText = Field(default="http://127.0.0.1:8500", description="The Consul agent's HTTP address.")
    token: SecretText | None = Field(default=None, description="ACL token, from the environment.")
    datacenter: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    allowed_key_prefixes: list[str] | None = Field(
        default=None, description="KV key prefixes this host may touch; unset allows all."
    )
    allowed_check_hosts: HostRules = Field(
        default_factory=list,
        description="Hosts an HTTP or TCP health check may target (as in the http handler's allowed_hosts); "
        'empty allows TTL checks only, "*" every host.',
    )

    @field_validator("allowed_key_prefixes")
    @classmethod
    def _clean_prefixes(cls, prefixes: list[str] | None) -> list[str] | None:
        return None if prefixes is None else [normalize_path(p, "allowed_key_prefixes entry") for p in prefixes]

    @field_validator("datacenter")
    @classmethod
    def _empty_is_none(cls, datacenter: str | None) -> str | None:
        return datacenter or None


class _ConsulJson(BaseModel):
    """Consul's API spells fields in PascalCase; these models keep the payload snake_case."""

    model_config = ConfigDict(extra="forbid")


class HealthCheckSpec(_ConsulJson):
    http: str | None = Field(default=None, description="URL Consul polls; 2xx is passing.")
    tcp: str | None = Field(default=None, description="host:port Consul connects to.")
    ttl: str | None = Field(default=None, description="The service reports itself within this interval.")
    interval: str = "10s"
    timeout: str | None = None
    deregister_critical_service_after: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheckSpec:
        kinds = [kind for kind in ("http", "tcp", "ttl") if getattr(self, kind) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of http, tcp, ttl")
        return self

    def to_consul(self) -> dict[str, Any]:
        check: dict[str, Any] = {}
        if self.ttl is not None:
            check["TTL"] = self.ttl
        else:
            check["HTTP" if self.http is not None else "TCP"] = self.http or self.tcp
            check["Interval"] = self.interval
        if self.timeout is not None:
            check["Timeout"] = self.timeout
        if self.deregister_critical_service_after is not None:
            check["DeregisterCriticalServiceAfter"] = self.deregister_critical_service_after
        return check


class RegisterServicePayload(PayloadModel):
    name: str = Field(min_length=1)
    id: str | None = Field(default=None, min_length=1, description="Defaults to the name.")
    address: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)
    check: HealthCheckSpec | None = None


class DeregisterServicePayload(PayloadModel):
    service_id: str = Field(min_length=1)


class HealthyInstancesPayload(PayloadModel):
    service: str = Field(min_length=1)
    tag: str | None = None


class KvGetPayload(PayloadModel):
    key: str
    recurse: bool = False


class KvPutPayload(PayloadModel):
    key: str
    value: str | None = None
    value_base64: str | None = None
    cas: int | None = Field(default=None, ge=0, description="Write only if ModifyIndex is this (0: only if absent).")
    flags: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_value(self) -> KvPutPayload:
        if (self.value is None) == (self.value_base64 is None):
            raise ValueError("give exactly one of value, value_base64")
        return self


class KvDeletePayload(PayloadModel):
    key: str
    recurse: bool = False
    cas: int | None = Field(default=None, ge=0)


class ConsulHandler(HttpxHandler[ConsulHandlerConfig]):
    handler_type = EnumHandlerType.CONSUL
    config_model = ConsulHandlerConfig
    contract_keys = frozenset({"key_prefix"})
    upstream_name = "Consul"

    def client_options(self, config: ConsulHandlerConfig) -> dict[str, Any]:
        headers = {"X-Consul-Token": config.token.get_secret_value()} if config.token else {}
        return {"base_url": config.url, "headers": headers, "timeout": config.timeout_seconds}

    async def _probe(self) -> dict[str, Any]:
        response = await self._send("GET", "/v1/status/leader", self.config.timeout_seconds)
        leader = response.json()
        if not leader:
            raise RuntimeError("the Consul cluster has no leader")
        return {"leader": leader, "datacenter": self.config.datacenter or "(agent default)"}

    def check_params(self, action: str, spec: ModelOperationSpec) -> str | None:
        prefix = spec.params.get("key_prefix")
        if prefix is not None:
            try:
                normalize_path(str(prefix), "params.key_prefix")
            except ValueError as exc:
                return str(exc)
        return None

    # -- services -------------------------------------------------------------------

    @action("register_service", payload=RegisterServicePayload)
    async def _register_service(self, request: RegisterServicePayload, context: OperationContext) -> dict[str, Any]:
        """Register (or update) a service instance with the agent, with its health check."""
        service_id = request.id or request.name
        body: dict[str, Any] = {"ID": service_id, "Name": request.name, "Tags": request.tags, "Meta": request.meta}
        if request.address is not None:
            body["Address"] = request.address
        if request.port is not None:
            body["Port"] = request.port
        if request.check is not None:
            self._check_target_allowed(request.check)
            body["Check"] = request.check.to_consul()
        await self._send("PUT", "/v1/agent/service/register", self._timeout(context), json=body)
        return {"service_id": service_id, "registered": True}

    @action("deregister_service", payload=DeregisterServicePayload)
    async def _deregister_service(self, request: DeregisterServicePayload, context: OperationContext) -> dict[str, Any]:
        await self._send(
            "PUT", f"/v1/agent/service/deregister/{quote(request.service_id, safe='')}", self._timeout(context)
        )
        return {"service_id": request.service_id, "deregistered": True}

    @action("healthy_instances", payload=HealthyInstancesPayload)
    async def _healthy_instances(self, request: HealthyInstancesPayload, context: OperationContext) -> dict[str, Any]:
        """Instances of a service whose every check passes; an unknown service has none."""
        params = self._query(passing="true", tag=request.tag)
        response = await self._send(
            "GET", f"/v1/health/service/{quote(request.service, safe='')}", self._timeout(context), params=params
        )
        instances = [
            {
                "id": entry["Service"]["ID"],
                "service": entry["Service"]["Service"],
                "address": entry["Service"].get("Address") or entry["Node"].get("Address"),
                "port": entry["Service"].get("Port"),
                "tags": entry["Service"].get("Tags") or [],
                "meta": entry["Service"].get("Meta") or {},
                "node": entry["Node"].get("Node"),
            }
            for entry in response.json()
        ]
        return {"service": request.service, "instances": instances}

    # -- KV ------------------------------------------------------------------------

    @action("kv_get", payload=KvGetPayload)
    async def _kv_get(self, request: KvGetPayload, context: OperationContext) -> dict[str, Any]:
        key = self._key(context, request.key)
        if request.recurse:
            folder = _folder(key)
            params = self._query(recurse="true")
            response = await self._send("GET", _kv_path(folder), self._timeout(context), params=params)
            entries = [
                _kv_entry(raw)
                for raw in response.json()
                if str(raw.get("Key", "")).startswith(folder)
                and within_prefixes(str(raw["Key"]).rstrip("/"), self.config.allowed_key_prefixes)
            ]
            return {"key": key, "entries": entries}
        response = await self._send("GET", _kv_path(key), self._timeout(context), params=self._query())
        return _kv_entry(response.json()[0])

    @action("kv_put", payload=KvPutPayload)
    async def _kv_put(self, request: KvPutPayload, context: OperationContext) -> dict[str, Any]:
        key = self._key(context, request.key)
        if request.value is not None:
            content = request.value.encode()
        else:
            try:
                content = base64.b64decode(request.value_base64 or "", validate=True)
            except binascii.Error:
                raise OperationError(EnumErrorCode.INVALID_PAYLOAD, "payload.value_base64: not valid base64") from None
        params = self._query(cas=request.cas, flags=request.flags)
        response = await self._send("PUT", _kv_path(key), self._timeout(context), params=params, content=content)
        _require_cas(response, key, request.cas)
        return {"key": key, "written": True}

    @action("kv_delete", payload=KvDeletePayload)
    async def _kv_delete(self, request: KvDeletePayload, context: OperationContext) -> dict[str, Any]:
        """Delete a key (and, with ``recurse``, every key below ``key/``); deleting a missing key succeeds."""
        key = self._key(context, request.key)
        params = self._query(cas=request.cas)
        response = await self._send("DELETE", _kv_path(key), self._timeout(context), params=params)
        _require_cas(response, key, request.cas)
        if request.recurse:
            folder = _folder(key)
            response = await self._send(
                "DELETE", _kv_path(folder), self._timeout(context), params=self._query(recurse="true")
            )
            _require_cas(response, folder, None)
        return {"key": key, "deleted": True}

    # -- internals ----------------------------------------------------------------------

    def _timeout(self, context: OperationContext) -> float:
        return context.timeout(self.config.timeout_seconds)

    def _query(self, **params: Any) -> dict[str, str]:
        query = {name: str(value) for name, value in params.items() if value is not None}
        if self.config.datacenter:
            query["dc"] = self.config.datacenter
        return query

    def _check_target_allowed(self, check: HealthCheckSpec) -> None:
        if check.http is not None:
            field, target = "http", _url_or_none(check.http)
        elif check.tcp is not None:
            field, target = "tcp", _url_or_none(f"http://{check.tcp}")
        else:
            return
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"payload.check.{field}: not a valid check target")
        if not HostAllowlist(self.config.allowed_check_hosts).allows(target):
            raise OperationError(
                EnumErrorCode.FORBIDDEN,
                f"payload.check.{field}: host {target.host!r} is not in the consul handler's allowed_check_hosts",
                {"host": target.host},
            )

    def _key(self, context: OperationContext, requested: str) -> str:
        try:
            key = join_paths(context.spec.params.get("key_prefix", ""), requested)
        except ValueError as exc:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"payload.key: {exc}") from None
        if not key:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, "payload.key: must not be empty")
        if not within_prefixes(key, self.config.allowed_key_prefixes):
            raise OperationError(
                EnumErrorCode.FORBIDDEN,
                f"payload.key: {key!r} is outside the consul handler's allowed_key_prefixes",
                {"key": key},
            )
        return key

    async def _send(
        self,
        method: str,
        path: str,
        request_timeout: float,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        response = await self.client.request(
            method, path, params=params, json=json, content=content, timeout=request_timeout
        )
        if response.is_error:
            raise status_failure(response, "Consul", response.text.strip()[:500])
        return response


def _folder(key: str) -> str:
    """The recursive prefix for ``key``: ``key/``, so only whole segments below it match."""
    return key.rstrip("/") + "/"


def _url_or_none(text: str) -> httpx.URL | None:
    try:
        return httpx.URL(text)
    except httpx.InvalidURL:
        return None


def _kv_path(key: str) -> str:
    return f"/v1/kv/{quote(key, safe='/')}"


def _kv_entry(raw: dict[str, Any]) -> dict[str, Any]:
    """One KV entry with its value decoded: text when it is UTF-8, base64 otherwise."""
    data = base64.b64decode(raw.get("Value") or "")
    try:
        value, encoding = data.decode(), "text"
    except UnicodeDecodeError:
        value, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return {
        "key": raw["Key"],
        "value": None if raw.get("Value") is None else value,
        "value_encoding": encoding,
        "flags": raw.get("Flags", 0),
        "modify_index": raw.get("ModifyIndex"),
    }


def _require_cas(response: httpx.Response, key: str, cas: int | None) -> None:
    """Consul answers a write with ``true``/``false``; ``false`` means the check-and-set lost."""
    if response.json() is not True:
        raise OperationError(
            EnumErrorCode.UPSTREAM_ERROR,
            f"check-and-set failed for {key!r}: it changed since index {cas}",
            {"key": key, "cas": cas},
        )
