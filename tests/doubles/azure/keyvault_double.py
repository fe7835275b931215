#!/usr/bin/env python3
"""TEST DOUBLE of Azure Key Vault / Managed HSM and of the Microsoft Entra
token endpoints. Not Azure, not a product: it exists so that Trousseau's
Azure provider can be tested here, where no Azure service is reachable.

    keyvault_double.py --port 0 --ready-file F --tls-cert C --tls-key K
                       [--state-dir D] [--flavour vault|managedhsm] ...

It listens on 127.0.0.1 over HTTPS (the Azure SDKs refuse plain http), writes
its base URL (`https://127.0.0.1:PORT`) to the ready file once listening, and
serves until SIGTERM (or until stdin closes, with --exit-on-stdin-eof, so
that it dies with the test that started it). Everything is on that one
origin: the vault, the token endpoints and the instance metadata endpoint.

Covers, as the REST reference describes them (api-version 7.0 to 7.6 and
2025-07-01; a missing or unknown one is 400 BadParameter):
  * keys: create (POST /keys/{name}/create; RSA, RSA-HSM 2048/3072/4096; oct,
    oct-HSM 128/192/256 in the managedhsm flavour only), a new version by
    creating again or POST /keys/{name}/rotate, GET /keys/{name}[/{version}]
    (the JsonWebKey: kid with its version, n and e for RSA, never private or
    symmetric material), PATCH /keys/{name}[/{version}] (attributes.enabled,
    key_ops, tags), GET /keys and GET /keys/{name}/versions (one page,
    nextLink null);
  * wrapkey/unwrapkey with RSA-OAEP-256, RSA-OAEP and RSA1_5 (RSA keys), and
    A128KW/A192KW/A256KW (AES key wrap, RFC 3394; oct keys); encrypt/decrypt
    with the same RSA algorithms and A128GCM/A192GCM/A256GCM (oct keys, the
    service picks a 12-byte IV and returns iv and tag), with the version in
    the URL or without it (the current version). Old versions keep working.
    The operation must be listed in the key's key_ops. Key ids name the
    vault by the origin the client addressed (its Host header), as Key
    Vault's name it by the DNS name it was called by; a test proxy in front
    of the double therefore sees its own address in them.
  * errors in the documented body `{"error": {"code", "message"}}`: 401
    Unauthorized (with the challenge below), 403 Forbidden with innerError
    KeyDisabled for a crypto operation on a disabled key, 404 KeyNotFound,
    400 BadParameter for a bad algorithm, size, body or api-version.
  * the challenge: a request without a valid bearer token gets 401 and
    `WWW-Authenticate: Bearer authorization="{authority}/{tenant}",
    resource="{resource}"`, before the body is read (the SDK sends its first
    request without body and token to discover the authority).
  * Microsoft Entra v2 token endpoint, POST /{tenant}/oauth2/v2.0/token,
    grant client_credentials with scope `{resource}/.default` and: a client
    secret; a certificate assertion (RS256 with x5t or PS256 with x5t#S256,
    signed by the certificate given with --client-cert, aud = the token
    endpoint, iss = sub = client id); a federated assertion (workload
    identity: RS256 signed by --federated-key, iss/sub as configured, aud
    api://AzureADTokenExchange). The OpenID discovery document MSAL reads,
    GET /{tenant}/v2.0/.well-known/openid-configuration. OAuth error bodies
    (`error`, `error_description` with an AADSTS code, `error_codes`).
  * instance metadata (managed identity), GET
    /metadata/identity/oauth2/token?api-version=2018-02-01&resource=... with
    `Metadata: true` (its values are strings, as IMDS sends them).
  * access tokens are opaque strings bound to a resource and an expiry on the
    double's clock; an expired or foreign token is refused with 401.
  * test controls (not Azure): POST /double/clock {"advance_seconds": N}
    moves the double's clock; POST /double/fail {"path": P, "count": N,
    "status": S, "retry_after": R} answers the next N requests whose path
    starts with P with status S (429 and 503 carry Retry-After: R);
    POST /double/corrupt {"what": "value", "count": N} falsifies the next N
    unwrapkey and decrypt answers (one bit of `value` flipped: a lying vault;
    0 ends the lies); GET /double/requests lists every request served
    (method, path, status).

Does not cover: soft delete, purge, backup/restore, import, release,
EC keys, sign/verify, AES-CBC, rotation policies (rotate copies the current
kty and size), paging beyond one page, RBAC or access policies (any valid
token may do anything), CAE claims challenges, Entra instance discovery
(clients must disable it: the double is an unknown authority), the real
IMDS being plain http on 169.254.169.254, App Service/Arc/Cloud Shell
managed identity, real JWT access tokens, and rate limits other than
what /double/fail injects.

--deviate NAME breaks one documented behaviour on purpose, for the check's
self-test: `kid-without-version` returns key ids without their version.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import (InvalidUnwrap, aes_key_unwrap,
                                                        aes_key_wrap)
except ImportError:
    sys.exit("keyvault_double.py: python3-cryptography is missing; "
             "run scripts/install-deps --test")

API_VERSIONS = {"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01"}
RSA_KTYS = {"RSA", "RSA-HSM"}
OCT_KTYS = {"oct", "oct-HSM"}
RSA_ALGS = {"RSA-OAEP-256", "RSA-OAEP", "RSA1_5"}
KW_ALGS = {"A128KW": 16, "A192KW": 24, "A256KW": 32}
GCM_ALGS = {"A128GCM": 16, "A192GCM": 24, "A256GCM": 32}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
CLOCK_SKEW = 300  # seconds Entra tolerates on client-made assertions


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class HttpError(Exception):
    def __init__(self, status, code, message, inner=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.inner, self.headers = inner, headers or {}

    def body(self):
        error = {"code": self.code, "message": self.message}
        if self.inner:
            error["innerError"] = {"code": self.inner}
        return {"error": error}


class OAuthError(Exception):
    """An Entra token endpoint error: its own body shape, not Key Vault's."""

    def __init__(self, status, error, aadsts, description):
        super().__init__(description)
        self.status, self.error, self.aadsts = status, error, aadsts
        self.description = description

    def body(self):
        if self.aadsts is None:  # IMDS: no AADSTS code
            return {"error": self.error, "error_description": self.description}
        return {"error": self.error,
                "error_description": f"AADSTS{self.aadsts}: {self.description}",
                "error_codes": [self.aadsts]}


class KeyVersion:
    def __init__(self, kty, size, key_ops, version, now, material=None):
        self.kty, self.size, self.key_ops, self.version = kty, size, list(key_ops), version
        self.enabled, self.created, self.updated, self.tags = True, int(now), int(now), {}
        if material is not None:
            self.material = material
        elif kty in RSA_KTYS:
            self.material = rsa.generate_private_key(public_exponent=65537, key_size=size)
        else:
            self.material = secrets.token_bytes(size // 8)

    def to_state(self):
        if self.kty in RSA_KTYS:
            material = self.material.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()).decode()
        else:
            material = b64u(self.material)
        return {"kty": self.kty, "size": self.size, "key_ops": self.key_ops,
                "version": self.version, "enabled": self.enabled, "created": self.created,
                "updated": self.updated, "tags": self.tags, "material": material}

    @classmethod
    def from_state(cls, s):
        if s["kty"] in RSA_KTYS:
            material = serialization.load_pem_private_key(s["material"].encode(), None)
        else:
            material = unb64u(s["material"])
        k = cls(s["kty"], s["size"], s["key_ops"], s["version"], s["created"], material)
        k.enabled, k.updated, k.tags = s["enabled"], s["updated"], s["tags"]
        return k


class Double:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.clock_offset = 0
        self.keys = {}  # name -> [KeyVersion], oldest first; the last is current
        self.tokens = {}  # token -> (resource, expires_on, subject)
        self.failures = []  # [prefix, remaining, status, retry_after]
        self.lies = 0  # unwrapkey/decrypt answers left to falsify
        self.request_origin = threading.local()  # per handler thread: vault_origin()
        self.log = []
        self.base_url = None
        self.client_cert = None
        if args.client_cert:
            with open(args.client_cert, "rb") as f:
                self.client_cert = x509.load_pem_x509_certificate(f.read())
        self.federated_key = None
        if args.federated_key:
            with open(args.federated_key, "rb") as f:
                data = f.read()
            try:
                self.federated_key = x509.load_pem_x509_certificate(data).public_key()
            except ValueError:
                self.federated_key = serialization.load_pem_public_key(data)
        self.load_state()

    # --- time and state ---------------------------------------------------
    def now(self):
        return time.time() + self.clock_offset

    def state_file(self):
        return os.path.join(self.args.state_dir, "keys.json") if self.args.state_dir else None

    def load_state(self):
        path = self.state_file()
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.keys = {n: [KeyVersion.from_state(v) for v in vs] for n, vs in saved.items()}

    def save_state(self):
        path = self.state_file()
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({n: [v.to_state() for v in vs] for n, vs in self.keys.items()}, f)
        os.replace(tmp, path)

    # --- identity ----------------------------------------------------------
    def authority(self):
        return (self.args.authority_host or self.base_url).rstrip("/")

    def token_endpoint(self):
        return f"{self.base_url}/{self.args.tenant}/oauth2/v2.0/token"

    def issue_token(self, resource, subject):
        token = secrets.token_urlsafe(32)
        expires_on = int(self.now()) + self.args.token_lifetime
        with self.lock:
            self.tokens[token] = (resource, expires_on, subject)
        return token, expires_on

    def challenge(self):
        return (f'Bearer authorization="{self.authority()}/{self.args.tenant}", '
                f'resource="{self.args.resource}"')

    def check_bearer(self, header):
        why = "AKV10000: Request is missing a Bearer or PoP token."
        if header and header.startswith("Bearer "):
            entry = self.tokens.get(header[len("Bearer "):].strip())
            if entry is None:
                why = "AKV10032: Invalid issuer or token."
            elif entry[0].rstrip("/") != self.args.resource.rstrip("/"):
                why = "AKV10022: Invalid audience."
            elif entry[1] <= self.now():
                why = "AKV10013: Token is expired."
            else:
                return
        raise HttpError(401, "Unauthorized", why,
                        headers={"WWW-Authenticate": self.challenge()})

    def scope_resource(self, scope):
        scopes = (scope or "").split()
        wanted = [s for s in scopes if s.endswith("/.default")]
        if len(wanted) != 1 or wanted[0][: -len("/.default")].rstrip("/") != self.args.resource.rstrip("/"):
            raise OAuthError(400, "invalid_scope", 70011,
                             f"The provided value for the input parameter 'scope' is not valid: {scope!r}.")
        return self.args.resource

    def verify_jwt(self, token, key, algs):
        # A JWS in compact form is three base64url parts; the double may use
        # only the stdlib and python3-cryptography, so it splits them itself
        # and lets python3-cryptography verify the signature.
        try:
            head_b64, body_b64, sig_b64 = token.split(".")
            header = json.loads(unb64u(head_b64))
            claims = json.loads(unb64u(body_b64))
            signature = unb64u(sig_b64)
        except (ValueError, json.JSONDecodeError):
            raise OAuthError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        alg = header.get("alg")
        if alg not in algs:
            raise OAuthError(401, "invalid_client", 5002738, f"Unsupported JWT algorithm {alg!r}.")
        pad = (padding.PKCS1v15() if alg == "RS256" else
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32))
        try:
            key.verify(signature, f"{head_b64}.{body_b64}".encode(), pad, hashes.SHA256())
        except InvalidSignature:
            raise OAuthError(401, "invalid_client", 700027,
                             "Client assertion failed signature validation.")
        real_now = time.time()  # assertions are made on the client's clock
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + CLOCK_SKEW < real_now:
            raise OAuthError(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] - CLOCK_SKEW > real_now:
            raise OAuthError(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        return header, claims

    def token_request(self, tenant, form):
        if tenant != self.args.tenant:
            raise OAuthError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type.")
        client_id = form.get("client_id")
        if client_id != self.args.client_id:
            raise OAuthError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory.")
        resource = self.scope_resource(form.get("scope"))
        if "client_secret" in form:
            if not self.args.client_secret or not secrets.compare_digest(
                    form["client_secret"], self.args.client_secret):
                raise OAuthError(401, "invalid_client", 7000215, "Invalid client secret provided.")
        elif form.get("client_assertion_type") == ASSERTION_TYPE and "client_assertion" in form:
            self.check_assertion(client_id, form["client_assertion"])
        else:
            raise OAuthError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        token, expires_on = self.issue_token(resource, client_id)
        return {"token_type": "Bearer", "expires_in": self.args.token_lifetime,
                "ext_expires_in": self.args.token_lifetime, "access_token": token}

    def check_assertion(self, client_id, assertion):
        try:
            issuer = json.loads(unb64u(assertion.split(".")[1])).get("iss")
        except (ValueError, IndexError, json.JSONDecodeError, AttributeError):
            raise OAuthError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        if self.federated_key is not None and issuer == self.args.federated_issuer:
            _, claims = self.verify_jwt(assertion, self.federated_key, {"RS256"})
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if FEDERATED_AUDIENCE not in auds:
                raise OAuthError(400, "invalid_client", 700212,
                                 f"No matching federated identity record found for presented assertion audience '{aud}'.")
            if claims.get("sub") != self.args.federated_subject:
                raise OAuthError(400, "invalid_client", 70021,
                                 "No matching federated identity record found for presented assertion.")
            return
        if self.client_cert is None:
            raise OAuthError(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        header, claims = self.verify_jwt(assertion, self.client_cert.public_key(), {"RS256", "PS256"})
        der = self.client_cert.public_bytes(serialization.Encoding.DER)
        thumbprints = {"x5t": b64u(hashlib.sha1(der).digest()),
                       "x5t#S256": b64u(hashlib.sha256(der).digest())}
        if not any(header.get(k) == v for k, v in thumbprints.items()):
            raise OAuthError(401, "invalid_client", 700027,
                             "The certificate with the thumbprint of the assertion is not registered for the application.")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise OAuthError(401, "invalid_client", 700023, "Client assertion issuer and subject must be the client id.")
        if claims.get("aud") != self.token_endpoint():
            raise OAuthError(401, "invalid_client", 700021, f"Client assertion audience claim does not match: {claims.get('aud')!r}.")

    def imds_request(self, query, headers):
        if headers.get("Metadata", "").lower() != "true":
            raise OAuthError(400, "invalid_request", None, "Required metadata header not specified")
        if query.get("api-version") is None:
            raise OAuthError(400, "invalid_request", None, "Required query variable 'api-version' is missing")
        resource = query.get("resource", "")
        if resource.rstrip("/") != self.args.resource.rstrip("/"):
            raise OAuthError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant.")
        for param in ("client_id", "object_id", "msi_res_id", "mi_res_id"):
            if param in query and query[param] != self.args.managed_identity_client_id:
                raise OAuthError(400, "invalid_request", None, "Identity not found")
        token, expires_on = self.issue_token(resource, "managed-identity")
        life = str(self.args.token_lifetime)
        return {"access_token": token, "client_id": self.args.managed_identity_client_id,
                "expires_in": life, "ext_expires_in": life, "expires_on": str(expires_on),
                "not_before": str(int(self.now())), "resource": resource, "token_type": "Bearer"}

    # --- keys --------------------------------------------------------------
    def vault_origin(self):
        """The vault as the client addressed it (its Host header), as Key
        Vault names itself in key ids by the DNS name it was called by; the
        double's own address when there is no request (or no Host)."""
        return getattr(self.request_origin, "value", None) or self.base_url

    def kid(self, name, version):
        if self.args.deviate == "kid-without-version":
            return f"{self.vault_origin()}/keys/{name}"
        return f"{self.vault_origin()}/keys/{name}/{version}"

    def find(self, name, version):
        versions = self.keys.get(name)
        if not versions:
            raise HttpError(404, "KeyNotFound",
                            f"A key with (name/id) {name} was not found in this key vault. "
                            "If you recently deleted this key you may be able to recover it "
                            "using the correct recovery command.")
        if not version:
            return versions[-1]
        for v in versions:
            if v.version == version:
                return v
        raise HttpError(404, "KeyNotFound",
                        f"A key with (name/id) {name}/{version} was not found in this key vault.")

    def attributes(self, k):
        return {"enabled": k.enabled, "created": k.created, "updated": k.updated,
                "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}

    def bundle(self, name, k):
        jwk = {"kid": self.kid(name, k.version), "kty": k.kty, "key_ops": k.key_ops}
        if k.kty in RSA_KTYS:
            pub = k.material.public_key().public_numbers()
            jwk["n"], jwk["e"] = b64u(int_bytes(pub.n)), b64u(int_bytes(pub.e))
        body = {"key": jwk, "attributes": self.attributes(k)}
        if k.tags:
            body["tags"] = k.tags
        return body

    def create(self, name, body, like=None):
        kty = body.get("kty", like.kty if like else None)
        allowed = RSA_KTYS | (OCT_KTYS if self.args.flavour == "managedhsm" else set())
        if self.args.flavour == "managedhsm":
            allowed -= {"RSA"}  # every Managed HSM key is HSM-protected
        if kty not in allowed:
            raise HttpError(400, "BadParameter",
                            f"The key type '{kty}' is not supported by this {self.args.flavour}; "
                            f"use one of {sorted(allowed)}.")
        if kty in RSA_KTYS:
            size = body.get("key_size", like.size if like else 2048)
            if size not in (2048, 3072, 4096):
                raise HttpError(400, "BadParameter", f"Invalid key size {size} for an RSA key.")
            default_ops = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
        else:
            size = body.get("key_size", like.size if like else 256)
            if size not in (128, 192, 256):
                raise HttpError(400, "BadParameter", f"Invalid key size {size} for an oct key.")
            default_ops = ["encrypt", "decrypt", "wrapKey", "unwrapKey"]
        key_ops = body.get("key_ops", like.key_ops if like else default_ops)
        if not isinstance(key_ops, list):
            raise HttpError(400, "BadParameter", "key_ops must be an array.")
        k = KeyVersion(kty, size, key_ops, secrets.token_hex(16), self.now())
        attrs = self.attributes_of(body)
        if "enabled" in attrs:
            k.enabled = bool(attrs["enabled"])
        k.tags = body.get("tags") or {}
        with self.lock:
            self.keys.setdefault(name, []).append(k)
            self.save_state()
        return self.bundle(name, k)

    def update(self, name, version, body):
        k = self.find(name, version)
        with self.lock:
            attrs = self.attributes_of(body)
            if "enabled" in attrs:
                k.enabled = bool(attrs["enabled"])
            if "key_ops" in body:
                k.key_ops = list(body["key_ops"])
            if "tags" in body:
                k.tags = body["tags"] or {}
            k.updated = int(self.now())
            self.save_state()
        return self.bundle(name, k)

    def operate(self, name, version, op, body):
        k = self.find(name, version)
        if not k.enabled:
            raise HttpError(403, "Forbidden", f"Operation {op} is not allowed on a disabled key.",
                            inner="KeyDisabled")
        if op not in k.key_ops:
            raise HttpError(403, "Forbidden", f"Operation {op} is not allowed on this key.",
                            inner="KeyOperationForbidden")
        alg = body.get("alg")
        try:
            value = unb64u(body.get("value"))
        except (ValueError, TypeError):
            raise HttpError(400, "BadParameter", "Property 'value' must be base64url.")
        result = {"kid": self.kid(name, k.version)}
        if k.kty in RSA_KTYS and alg in RSA_ALGS:
            pad = (padding.PKCS1v15() if alg == "RSA1_5" else padding.OAEP(
                mgf=padding.MGF1(hashes.SHA256() if alg == "RSA-OAEP-256" else hashes.SHA1()),
                algorithm=hashes.SHA256() if alg == "RSA-OAEP-256" else hashes.SHA1(), label=None))
            if op in ("wrapKey", "encrypt"):
                result["value"] = b64u(k.material.public_key().encrypt(value, pad))
            else:
                try:
                    result["value"] = b64u(k.material.decrypt(value, pad))
                except ValueError:
                    raise HttpError(400, "BadParameter", "Decryption failed.")
            return result
        if k.kty in OCT_KTYS and alg in KW_ALGS and op in ("wrapKey", "unwrapKey"):
            self.check_size(k, KW_ALGS[alg], alg)
            if op == "wrapKey":
                result["value"] = b64u(aes_key_wrap(k.material, value))
            else:
                try:
                    result["value"] = b64u(aes_key_unwrap(k.material, value))
                except InvalidUnwrap:
                    raise HttpError(400, "BadParameter", "Unwrap failed: integrity check.")
            return result
        if k.kty in OCT_KTYS and alg in GCM_ALGS and op in ("encrypt", "decrypt"):
            self.check_size(k, GCM_ALGS[alg], alg)
            try:
                aad = unb64u(body["aad"]) if body.get("aad") else None
            except (ValueError, TypeError):
                raise HttpError(400, "BadParameter", "Property 'aad' must be base64url.")
            if op == "encrypt":
                iv = secrets.token_bytes(12)
                sealed = AESGCM(k.material).encrypt(iv, value, aad)
                result.update(value=b64u(sealed[:-16]), iv=b64u(iv), tag=b64u(sealed[-16:]))
                if aad is not None:
                    result["aad"] = body["aad"]
            else:
                try:
                    iv, tag = unb64u(body.get("iv")), unb64u(body.get("tag"))
                    result["value"] = b64u(AESGCM(k.material).decrypt(iv, value + tag, aad))
                except (ValueError, TypeError, InvalidTag):
                    raise HttpError(400, "BadParameter", "Decryption failed.")
            return result
        raise HttpError(400, "BadParameter",
                        f"Algorithm '{alg}' is not supported for operation {op} on a {k.kty} key.")

    @staticmethod
    def attributes_of(body):
        attrs = body.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise HttpError(400, "BadParameter", "Property 'attributes' must be an object.")
        return attrs

    @staticmethod
    def check_size(k, nbytes, alg):
        if len(k.material) != nbytes:
            raise HttpError(400, "BadParameter", f"Algorithm '{alg}' needs a {nbytes * 8}-bit key.")

    def keys_route(self, method, parts, body):
        """parts: the path after /keys, split on '/'."""
        if method == "GET" and not parts:
            return {"value": [{"kid": f"{self.vault_origin()}/keys/{n}",
                               "attributes": self.attributes(vs[-1])}
                              for n, vs in sorted(self.keys.items())], "nextLink": None}
        name = parts[0]
        rest = parts[1:]
        ops = {"wrapkey": "wrapKey", "unwrapkey": "unwrapKey",
               "encrypt": "encrypt", "decrypt": "decrypt"}
        if method == "POST" and rest == ["create"]:
            return self.create(name, body)
        if method == "POST" and rest == ["rotate"]:
            return self.create(name, {}, like=self.find(name, None))
        if method == "GET" and rest == ["versions"]:
            self.find(name, None)
            return {"value": [{"kid": self.kid(name, v.version), "attributes": self.attributes(v)}
                              for v in self.keys[name]], "nextLink": None}
        if method == "GET" and len(rest) <= 1:
            return self.bundle(name, self.find(name, rest[0] if rest else None))
        if method == "PATCH" and len(rest) <= 1:
            return self.update(name, rest[0] if rest else None, body)
        if method == "POST" and len(rest) in (1, 2) and rest[-1].lower() in ops:
            result = self.operate(name, rest[0] if len(rest) == 2 else None,
                                  ops[rest[-1].lower()], body)
            if ops[rest[-1].lower()] in ("unwrapKey", "decrypt") and self.lies > 0:
                self.lies -= 1
                flipped = bytearray(unb64u(result["value"]))
                flipped[len(flipped) // 2] ^= 0x01
                result["value"] = b64u(bytes(flipped))
            return result
        raise HttpError(404, "NotFound", "The requested operation is not supported.")


class TlsServer(ThreadingHTTPServer):
    """The TLS handshake runs in the connection's own thread: a client that
    connects and never completes it (a provider test cancelling mid-way)
    must not stop the double from accepting others."""
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when a client
    # opens dozens at once (the provider contract's 40 concurrent calls);
    # they would then hang in the TLS handshake until the client's deadline.
    request_queue_size = 128

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    double = None  # set by main
    # Headers and body go out in separate writes; with Nagle on, the body
    # waits for the client's delayed ACK (40 ms on Linux) on keep-alive.
    disable_nagle_algorithm = True

    def setup(self):
        self.request.do_handshake()
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        # Logged before the answer leaves: a client that reads the log right
        # after its answer always finds that request in it.
        with self.double.lock:
            self.double.log.append({"method": self.command, "path": self.path.split("?")[0],
                                    "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        # Read once, whatever the answer: an unread body would be taken for
        # the next request on this keep-alive connection.
        if self.raw_body is None:
            length = int(self.headers.get("Content-Length") or 0)
            self.raw_body = self.rfile.read(length) if length else b""
        return self.raw_body

    def json_body(self):
        raw = self.read_body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            raise HttpError(400, "BadParameter", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            raise HttpError(400, "BadParameter", "The request body must be a JSON object.")
        return body

    def handle_any(self):
        d = self.double
        host = self.headers.get("Host")
        d.request_origin.value = f"https://{host}" if host else None
        self.raw_body = None
        self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        try:
            if path.startswith("/double/"):
                return self.control(path)
            with d.lock:
                for failure in d.failures:
                    if path.startswith(failure[0]) and failure[1] > 0:
                        failure[1] -= 1
                        raise self.injected(failure[2], failure[3])
            parts = [p for p in path.split("/") if p]
            # MSAL asks for the path with a trailing slash.
            if path.rstrip("/") == "/metadata/identity/oauth2/token" and self.command == "GET":
                return self.send_json(200, d.imds_request(query, self.headers))
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] and self.command == "POST":
                form = dict(urllib.parse.parse_qsl(self.read_body().decode()))
                return self.send_json(200, d.token_request(parts[0], form))
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                t = f"{d.base_url}/{parts[0]}"
                return self.send_json(200, {
                    "issuer": f"{t}/v2.0", "token_endpoint": f"{t}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{t}/oauth2/v2.0/authorize",
                    "jwks_uri": f"{t}/discovery/v2.0/keys",
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]})
            if parts and parts[0] == "keys":
                # The challenge comes first: the SDK's discovery request has no body.
                d.check_bearer(self.headers.get("Authorization"))
                version = query.get("api-version")
                if version not in API_VERSIONS:
                    raise HttpError(400, "BadParameter",
                                    f"The specified version ({version}) is not recognized. "
                                    "Consider using the latest supported version (2025-07-01).")
                body = self.json_body() if self.command in ("POST", "PATCH") else {}
                return self.send_json(200, d.keys_route(self.command, parts[1:], body))
            raise HttpError(404, "NotFound", f"No such resource: {path}")
        except HttpError as e:
            self.send_json(e.status, e.body(), e.headers)
        except OAuthError as e:
            self.send_json(e.status, e.body())
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            # A body of the wrong shape (an attributes string, a count that is
            # no number): a documented 400, never a dropped connection.
            self.send_json(400, HttpError(400, "BadParameter", f"Malformed request: {e!r}").body())

    @staticmethod
    def injected(status, retry_after):
        codes = {429: "Throttled", 500: "InternalServerError", 503: "ServiceUnavailable"}
        headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
        return HttpError(status, codes.get(status, "Injected"),
                         f"Injected by the test double (status {status}).", headers=headers)

    def control(self, path):
        d = self.double
        if path == "/double/requests" and self.command == "GET":
            with d.lock:
                requests = list(d.log)
            return self.send_json(200, {"requests": requests})
        body = self.json_body()
        if path == "/double/clock" and self.command == "POST":
            with d.lock:
                d.clock_offset += float(body.get("advance_seconds", 0))
            return self.send_json(200, {"now": d.now()})
        if path == "/double/fail" and self.command == "POST":
            with d.lock:
                d.failures.append([body["path"], int(body.get("count", 1)),
                                   int(body.get("status", 503)), int(body.get("retry_after", 0))])
            return self.send_json(200, {})
        if path == "/double/corrupt" and self.command == "POST":
            if body.get("what") != "value":
                raise HttpError(400, "BadParameter", "Only 'value' can be corrupted.")
            with d.lock:
                d.lies = int(body.get("count", 1))
            return self.send_json(200, {})
        raise HttpError(404, "NotFound", f"No such control: {path}")

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--tls-cert", required=True)
    p.add_argument("--tls-key", required=True)
    p.add_argument("--state-dir")
    p.add_argument("--flavour", choices=["vault", "managedhsm"], default="vault")
    p.add_argument("--resource", help="the token audience; default https://vault.azure.net, "
                   "or https://managedhsm.azure.net for the managedhsm flavour")
    p.add_argument("--authority-host", help="authority named in the challenge; default: this double")
    p.add_argument("--tenant", default="00000000-0000-0000-0000-000000000001")
    p.add_argument("--client-id", default="00000000-0000-0000-0000-0000000000c1")
    p.add_argument("--client-secret")
    p.add_argument("--client-cert", help="PEM certificate whose key signs client assertions")
    p.add_argument("--federated-issuer")
    p.add_argument("--federated-subject")
    p.add_argument("--federated-key", help="PEM public key or certificate of the federated issuer")
    p.add_argument("--managed-identity-client-id", default="00000000-0000-0000-0000-0000000000a1")
    p.add_argument("--token-lifetime", type=int, default=3600)
    p.add_argument("--deviate", choices=["kid-without-version"])
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="also stop when stdin closes, so the double dies with the test that started it")
    args = p.parse_args()
    if args.resource is None:
        args.resource = ("https://managedhsm.azure.net" if args.flavour == "managedhsm"
                         else "https://vault.azure.net")

    double = Double(args)
    Handler.double = double
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    server = TlsServer(("127.0.0.1", args.port), Handler, context)
    double.base_url = f"https://127.0.0.1:{server.server_address[1]}"

    stop = lambda *_: threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop()
        threading.Thread(target=watch_stdin, daemon=True).start()
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(double.base_url + "\n")
    os.replace(tmp, args.ready_file)  # the file appears complete, never half-written
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
