"""TLS settings against a local HTTPS server with a self-signed certificate."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from claimbridge import SourceError
from claimbridge.plugins.ehr_fhir.source import FhirSource

from .scripted_server import Reply, ScriptedServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claimbridge test EHR")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return cert_path, context


def patient_server(context):
    return ScriptedServer(lambda request: Reply(body={"resourceType": "Patient", "id": "p1"}), tls=context)


def test_an_unknown_certificate_is_refused(certificate):
    _, context = certificate
    with patient_server(context) as server, pytest.raises(SourceError, match="TLS failed"):
        FhirSource("s", {"base_url": f"{server.url}/fhir", "max_retries": 0}).client.read("Patient", "p1")


def test_a_ca_bundle_makes_it_trusted(certificate):
    cert_path, context = certificate
    with patient_server(context) as server:
        source = FhirSource("s", {"base_url": f"{server.url}/fhir", "ca_bundle": str(cert_path)})
        assert source.client.read("Patient", "p1")["id"] == "p1"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_tls_off(certificate):
    _, context = certificate
    with patient_server(context) as server:
        source = FhirSource("s", {"base_url": f"{server.url}/fhir", "verify_tls": False})
        assert source.client.read("Patient", "p1")["id"] == "p1"
