"""A throwaway certificate authority and an HTTPS LocalHTTPServer, to test TLS for real.

Keys and certificates are generated per test and written to the test's temporary directory.
"""

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.http_server import LocalHTTPServer


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(
        now + datetime.timedelta(days=1)
    )


class CertificateAuthority:
    """A CA that issues server certificates; its extensions satisfy OpenSSL's strict checks."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ssf-receiver test CA")])
        public_key = self._key.public_key()
        builder = (
            _validity(x509.CertificateBuilder())
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(signs_certificates=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        self._certificate = builder.sign(self._key, hashes.SHA256())
        self.certificate_path = directory / "ca.pem"
        self.certificate_path.write_bytes(
            self._certificate.public_bytes(serialization.Encoding.PEM)
        )

    def issue(self, host_name: str) -> tuple[Path, Path]:
        """A certificate for `host_name` and its key, as (certificate path, key path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        ca_key_id = self._certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        builder = (
            _validity(x509.CertificateBuilder())
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
                critical=False,
            )
        )
        certificate = builder.sign(self._key, hashes.SHA256())
        certificate_path = self.directory / f"{host_name}.pem"
        key_path = self.directory / f"{host_name}.key"
        certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return certificate_path, key_path


class LocalHTTPSServer(LocalHTTPServer):
    """LocalHTTPServer over TLS, reached by `host_name`; records the SNI name of each handshake."""

    def __init__(self, host_name: str, certificate_path: Path, key_path: Path):
        super().__init__()
        self.host_name = host_name
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate_path, key_path)
        context.sni_callback = self._record_server_name
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def url(self, path: str = "") -> str:
        return f"https://{self.host_name}:{self.port}{path}"

    def _record_server_name(self, _socket, server_name, _context) -> None:
        self.server_names.append(server_name)
