"""A secured native broker for tests: a certificate made at test time, SASL users, ACLs.

``cryptography`` is not in the lock, so the JDK's ``keytool`` (there anyway:
Kafka needs a JDK) makes a self-signed certificate for 127.0.0.1 into a
PKCS12 keystore; its PEM export is the CA file the host trusts.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.provisioning.native._process import ServiceNotInstalledError

HOST_USER = "onex-host"
PLAIN_USER = "onex-plain"


@dataclass(frozen=True)
class BrokerCertificate:
    keystore: Path
    password: str = field(repr=False)
    ca_file: Path


def make_broker_certificate(directory: Path) -> BrokerCertificate:
    keytool = shutil.which("keytool")
    if keytool is None:
        raise ServiceNotInstalledError("keytool (from the JDK) is needed to make the test broker's certificate")
    password = secrets.token_hex(12)
    keystore, ca_file = directory / "broker.p12", directory / "ca.pem"
    common = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", password]
    subprocess.run(
        [
            keytool,
            "-genkeypair",
            "-alias",
            "broker",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-validity",
            "2",
            "-dname",
            "CN=127.0.0.1",
            "-ext",
            "SAN=IP:127.0.0.1,DNS:localhost",
            "-keypass",
            password,
            *common,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        [keytool, "-exportcert", "-alias", "broker", "-rfc", "-file", str(ca_file), *common],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return BrokerCertificate(keystore, password, ca_file)


def credentials() -> dict[str, str]:
    """Fresh passwords per session: user -> password."""
    return {HOST_USER: f"scram-{secrets.token_hex(8)}", PLAIN_USER: f"plain-{secrets.token_hex(8)}"}
