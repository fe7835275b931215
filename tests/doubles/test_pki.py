#!/usr/bin/env python3
"""Makes the keys and certificates the test doubles and their checks need
(the Azure and Google Cloud KMS doubles, bench/run), in DIR:

    test_pki.py DIR [--federated-issuer URL --federated-subject SUB]

ca.pem (the test CA), server.pem + server-key.pem (127.0.0.1 and localhost,
signed by the CA), client.pem (a client certificate and its private key in
one file, as ClientCertificateCredential reads it), client-cert.pem (the
certificate alone, for the double), federated-issuer.pem (the public key of
a stand-in Kubernetes service account issuer) and, with --federated-issuer,
federated-token (a JWT that issuer signed, as kubelet projects it).
The Google double needs only ca.pem, server.pem and server-key.pem; it makes
its own service account and OIDC issuer keys. Test material only.
"""
import argparse
import base64
import datetime
import ipaddress
import json
import os
import sys
import time

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    sys.exit("test_pki.py: python3-cryptography is missing; run scripts/install-deps --test")


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert(subject_cn, key, issuer_cn, issuer_key, ca=False, sans=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--federated-issuer")
    p.add_argument("--federated-subject", default="system:serviceaccount:kube-system:trousseau")
    args = p.parse_args()
    out = lambda name, data: open(os.path.join(args.dir, name), "wb").write(data)

    ca_key = new_key()
    ca = cert("trousseau test CA", ca_key, "trousseau test CA", ca_key, ca=True)
    server_key = new_key()
    server = cert("127.0.0.1", server_key, "trousseau test CA", ca_key, sans=[
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    client_key = new_key()
    client = cert("trousseau test client", client_key, "trousseau test CA", ca_key)
    issuer_key = new_key()
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    out("ca.pem", pem(ca))
    out("server.pem", pem(server))
    out("server-key.pem", pem_key(server_key))
    out("client-cert.pem", pem(client))
    out("client.pem", pem(client) + pem_key(client_key))
    out("federated-issuer.pem", issuer_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    if args.federated_issuer:
        now = int(time.time())
        head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode())
        body = b64u(json.dumps({"iss": args.federated_issuer, "sub": args.federated_subject,
                                "aud": ["api://AzureADTokenExchange"],
                                "iat": now, "nbf": now, "exp": now + 3600}).encode())
        sig = issuer_key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        out("federated-token", f"{head}.{body}.{b64u(sig)}".encode())


if __name__ == "__main__":
    main()
