"""A single-node KRaft Kafka broker run from the jars ``make services`` resolved from Maven Central.

With ``secured=SaslSslListener(...)`` it also serves a SASL_SSL listener
(SCRAM-SHA-512 and PLAIN users, a PKCS12 keystore made at test time) and
enforces ACLs with KRaft's ``StandardAuthorizer``; the PLAINTEXT listener's
ANONYMOUS principal stays a super user, so tests set up topics and ACLs (and
read replies) through it while the host under test speaks TLS+SASL.

The broker keeps its ports and data dir across :meth:`NativeKafka.stop` /
:meth:`NativeKafka.start` (and :meth:`NativeKafka.kill`), so tests can restart
it under a client and check what survives.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.provisioning.native._process import (
    LOOPBACK,
    SERVICES_DIR,
    ManagedProcess,
    NativeServer,
    ServiceNotInstalledError,
    ServiceStartError,
    find_executable,
    free_ports,
    wait_until,
)
from tests.support.provisioning.servicespec import service_spec

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""

_API_VERSIONS_KEY = 18


def broker_properties_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """``KAFKA_NUM_PARTITIONS=6`` -> ``num.partitions=6``: the apache/kafka image's rule for its env.

    Native brokers take their settings from the same ``deploy/services.yaml``
    env as the container, so both behave alike (listeners are then overridden).
    """
    properties = {}
    for key, value in env.items():
        if key.startswith("KAFKA_"):
            dashed = key.removeprefix("KAFKA_").lower().split("___")
            name = "-".join("_".join(part.replace("_", ".") for part in chunk.split("__")) for chunk in dashed)
            properties[name] = value
    return properties


def default_kafka_version() -> str:
    """The version the Docker image in ``deploy/services.yaml`` runs, so both providers run the same broker."""
    return service_spec("kafka").image_tag


def kafka_home(version: str) -> Path:
    home = SERVICES_DIR / "kafka" / version
    if not (home / ".complete").is_file():
        installed = ", ".join(installed_kafka_versions()) or "none"
        raise ServiceNotInstalledError(
            f"Kafka {version} is not installed in {home} (installed: {installed}); run `make services`"
        )
    return home


def installed_kafka_versions() -> list[str]:
    return sorted(marker.parent.name for marker in (SERVICES_DIR / "kafka").glob("*/.complete"))


def java_executable() -> Path:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` from PATH (Kafka 4 needs Java 17+)."""
    java_home = os.environ.get("JAVA_HOME")
    return find_executable("java", *([Path(java_home) / "bin" / "java"] if java_home else []))


def _cluster_id() -> str:
    """What ``kafka-storage.sh random-uuid`` prints: a UUID in unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def api_versions_ok(port: int, host: str = LOOPBACK, timeout: float = 2.0) -> bool:
    """True when the broker answers an ApiVersions v0 request without error.

    KRaft brokers only start processing requests once they are unfenced, so an
    answer here means producers and consumers can connect.
    """
    client_id = b"onex-readiness"
    body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, 1, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        header = _recv_exactly(sock, 4)
        (size,) = struct.unpack(">i", header)
        response = _recv_exactly(sock, size)
    correlation_id, error_code = struct.unpack(">ih", response[:6])
    return bool(correlation_id == 1 and error_code == 0)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks += chunk
    return bytes(chunks)


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL listener: the broker's keystore and the users it knows, by mechanism."""

    keystore: Path
    keystore_password: str = field(repr=False)
    scram_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    """SCRAM-SHA-512 users (name -> password), written into the metadata log at format time."""
    plain_users: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Acl:
    """One ALLOW entry, as ``kafka-acls.sh --add`` takes it."""

    principal: str
    resource_type: str  # TOPIC, GROUP, CLUSTER
    name: str
    operation: str  # READ, WRITE, DESCRIBE, ALL, ...
    pattern: str = "LITERAL"  # or PREFIXED


_ACL_TOOL = """\
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 1; i + 4 < args.length; i += 5) {
            ResourcePattern pattern = new ResourcePattern(
                ResourceType.valueOf(args[i + 1]), args[i + 2], PatternType.valueOf(args[i + 4]));
            AccessControlEntry entry = new AccessControlEntry(
                args[i], "*", AclOperation.valueOf(args[i + 3]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(pattern, entry));
        }
        try (Admin admin = Admin.create(props)) {
            admin.createAcls(bindings).all().get();
        }
    }
}
"""


class NativeKafka(NativeServer):
    """``java -cp 'libs/*' kafka.Kafka server.properties`` in KRaft broker+controller mode on loopback."""

    name = "kafka"

    def __init__(
        self,
        *,
        version: str | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
        extra_properties: dict[str, str] | None = None,
        startup_timeout: float = 90.0,
        secured: SaslSslListener | None = None,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.version = version or default_kafka_version()
        self.home = kafka_home(self.version)
        self.java = java_executable()
        spare = free_ports(3)
        self.port = port or spare[0]
        self.controller_port = controller_port or spare[1]
        self.secured = secured
        self.secured_port = spare[2]
        self.heap = heap
        self.extra_properties = dict(extra_properties or {})

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def secured_bootstrap(self) -> str:
        """The SASL_SSL listener's address (only with ``secured``)."""
        return f"{LOOPBACK}:{self.secured_port}"

    def _secured_properties(self) -> dict[str, str]:
        secured = self.secured
        if secured is None:
            return {}
        plain_users = "".join(f' user_{name}="{password}"' for name, password in secured.plain_users.items())
        return {
            "listeners": (
                f"PLAINTEXT://{LOOPBACK}:{self.port},SASL_SSL://{self.secured_bootstrap},"
                f"CONTROLLER://{LOOPBACK}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap},SASL_SSL://{self.secured_bootstrap}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
            ),
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.ssl.keystore.type": "PKCS12",
            "listener.name.sasl_ssl.ssl.keystore.location": str(secured.keystore),
            "listener.name.sasl_ssl.ssl.keystore.password": secured.keystore_password,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }

    def create_acls(self, acls: Sequence[Acl]) -> None:
        """Add ALLOW entries through the PLAINTEXT listener (a super user), with Kafka's own Admin client."""
        tool = self.workdir / "CreateAcls.java"
        tool.write_text(_ACL_TOOL)
        args = [
            value for acl in acls for value in (acl.principal, acl.resource_type, acl.name, acl.operation, acl.pattern)
        ]
        command = [str(self.java), "-cp", str(self.home / "libs" / "*"), str(tool), self.bootstrap, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServiceStartError(f"creating ACLs failed ({result.returncode}):\n{result.stderr[-2000:]}")

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def _properties(self) -> str:
        properties = {
            **broker_properties_from_env(service_spec("kafka").env),
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            # One partition, like the offsets topic: created at the first transactional producer's start,
            # the default 50 partitions take seconds on a small machine (the first exactly-once host waits).
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests create every topic they use: a reply_to naming a missing topic must not conjure it up.
            "auto.create.topics.enable": "false",
            **self._secured_properties(),
            **self.extra_properties,
        }
        return "".join(f"{key}={value}\n" for key, value in properties.items())

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            str(self.java),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            "-cp",
            str(self.home / "libs" / "*"),
            main_class,
            *args,
        ]

    def _format_storage(self, config: Path) -> None:
        """Format the data dir once; restarts reuse it (a second format would refuse anyway)."""
        if (self.data_dir / "meta.properties").is_file():
            return
        command = self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config))
        for name, password in (self.secured.scram_users if self.secured else {}).items():
            command += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServiceStartError(f"kafka storage format failed ({result.returncode}):\n{result.stdout[-2000:]}")

    def _spawn(self) -> ManagedProcess:
        config = self.workdir / "server.properties"
        config.write_text(self._properties())
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        self._format_storage(config)
        return ManagedProcess(self._java("kafka.Kafka", str(config)), log_path=self.log_path, cwd=self.workdir)

    def _wait_ready(self, process: ManagedProcess) -> None:
        wait_until(
            lambda: api_versions_ok(self.port),
            timeout=self.startup_timeout,
            what=f"Kafka {self.version} broker on {self.bootstrap}",
            process=process,
        )
