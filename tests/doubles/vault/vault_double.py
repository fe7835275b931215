#!/usr/bin/env python3
"""A TEST DOUBLE of HashiCorp Vault's HTTP API. This is NOT Vault.

It exists so that Trousseau's Vault Transit provider can be tested on a
machine where no Vault server can be installed. It speaks the documented
request and response JSON of the endpoints below, and it is checked
against Vault's own Python client, hvac (hvac_check.py beside it). Its
cryptography is a stand-in: do not use it for anything but tests.

Usage:
  python3 vault_double.py --port 0 --ready-file F [--tls-cert C --tls-key K
      [--client-ca CA]] [--root-token T] [--transit-mount transit]
      [--jwt-hmac-key SECRET] [--clock manual|real] [--deviate NAME]

It listens on 127.0.0.1 (port 0 picks a free one), writes its URL
(http://127.0.0.1:N or https://...) to the ready file once listening, and
serves until SIGTERM or SIGINT.

Covered (paths after /v1/, in any namespace):
  sys/health                          GET, HEAD (unauthenticated)
  sys/init, sys/seal-status           GET (unauthenticated; always
                                       initialized and unsealed)
  sys/mounts/:path                    POST {type: transit}
  sys/auth/:path                      POST {type: approle|kubernetes|jwt|cert}
  sys/namespaces/:path                POST (create a child namespace)
  <transit>/keys/:name                POST (type aes256-gcm96, derived), GET
  <transit>/keys/:name/rotate         POST
  <transit>/keys/:name/config         POST (min_decryption_version,
                                            min_encryption_version)
  <transit>/encrypt/:name             POST (plaintext, context, key_version,
                                            associated_data; upserts the key)
  <transit>/decrypt/:name             POST (ciphertext, context,
                                            associated_data)
  auth/token/create                   POST (ttl, explicit_max_ttl, renewable,
                                            policies)
  auth/token/lookup-self              GET, POST
  auth/token/renew-self               POST (increment)
  auth/token/revoke-self              POST
  auth/<approle>/role/:name           POST (token_policies, token_ttl,
                                            token_max_ttl)
  auth/<approle>/role/:name/role-id   GET
  auth/<approle>/role/:name/secret-id POST
  auth/<approle>/login                POST (role_id, secret_id)
  auth/<kubernetes>/config            POST (stored, not used)
  auth/<kubernetes>/role/:name        POST (bound_service_account_names,
                                            bound_service_account_namespaces)
  auth/<kubernetes>/login             POST (role, jwt)
  auth/<jwt>/config                   POST (stored, not used)
  auth/<jwt>/role/:name               POST (bound_audiences, user_claim,
                                            bound_subject, bound_claims)
  auth/<jwt>/login                    POST (role, jwt)
  auth/<cert>/certs/:name             POST (certificate, token_policies, ...)
  auth/<cert>/login                   POST (name), client cert from mutual TLS

  Tokens: X-Vault-Token or "Authorization: Bearer". A token is valid in its
  own namespace and in the namespaces below it, as in Vault; it is refused
  (403 permission denied) elsewhere, once expired, and once revoked.
  Namespaces: the X-Vault-Namespace header and the path-prefix form
  (/v1/ns1/ns2/transit/...), combined as Vault combines them.
  Errors: {"errors": [...]} with 400, 403, 404, 405, and 429/500/503 when
  injected.

Test-only extensions, under sys/double/ (not Vault's API):
  sys/double/clock  POST {"advance_seconds": N}: moves the double's clock,
                    which every TTL and JWT exp/nbf reads; GET answers
                    {"data": {"now": unix time}}. With --clock manual (the
                    default) time stands still between advances; with
                    --clock real it follows the system clock plus the
                    advances.
  sys/double/fail   POST {"path": "transit/encrypt/k", "status": 503,
                    "count": N}: the next N requests whose path after /v1/
                    (namespace prefix included, as sent) equals `path`
                    answer `status` with a Vault-shaped error body.
  --jwt-hmac-key    Kubernetes and JWT logins accept HS256 tokens signed
                    with this secret. Vault verifies RS256/ES256 against
                    configured public keys or the TokenReview API; the
                    stdlib has no RSA, so the signature check is a
                    stand-in. The claims are checked as Vault checks them
                    (exp, nbf, aud, sub, bound claims, service account).
  --deviate NAME    breaks one response on purpose, so that hvac_check.py
                    can show it notices: `encrypt-shape` (the encrypt
                    answer lacks data.ciphertext), `forbidden-as-400`
                    (a missing token answers 400 instead of 403),
                    `error-shape` ({"error": "..."} instead of {"errors":
                    [...]}), `min-decryption-ignored` (decrypt accepts
                    versions below min_decryption_version).

Not covered: leases other than tokens, ACL policies (a token with the "root"
policy may do everything; any other valid token may use transit and its own
token endpoints, nothing else), batch and periodic tokens, token roles,
orphan and child-token trees, num_uses, response wrapping, AppRole's
secret_id TTLs, use counts, CIDR bindings and bind_secret_id=false, convergent
encryption, key types other than aes256-gcm96, key export/backup/trim/
delete, datakey/rewrap/sign/verify/hmac, batch_input, OIDC flows, JWKS and
OIDC discovery, TokenReview, cert auth's CN/SAN/OU constraints and CRLs,
seal/unseal, replication, persistence (state lives in memory; --state-dir
is accepted and ignored).

Ciphertext: only the framing ("vault:v<N>:" + base64) is Vault's. The bytes
inside are the double's own encrypt-then-MAC construction from stdlib
primitives (an HMAC-SHA256 keystream and an HMAC-SHA256 tag over the
associated data, nonce and ciphertext), NOT AES-256-GCM: a Vault server
cannot open them, nor the double open a Vault's. What it keeps of Vault is
the behaviour: tampering, a wrong context, wrong associated data, an unknown
or retired key version are each refused with Vault's error.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import signal
import socketserver
import ssl
import sys
import threading
import time
import uuid

MAX_TTL = 768 * 3600  # Vault's default system max TTL (32 days)
DEFAULT_TTL = 768 * 3600


class VaultError(Exception):
    def __init__(self, status, *errors):
        super().__init__(status, errors)
        self.status = status
        self.errors = list(errors)


def bad_request(msg):
    return VaultError(400, msg)


def permission_denied():
    return VaultError(403, "permission denied")


def b64d(value, what):
    try:
        return base64.b64decode(value, validate=True)
    except Exception:
        raise bad_request(f"failed to base64-decode {what}")


def parse_duration(value, field):
    """Vault accepts durations as integer seconds or "30s", "5m", "1h"."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise bad_request(f"invalid duration for {field}")
    if isinstance(value, (int, float)):
        return int(value)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = str(value).strip()
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError):
        raise bad_request(f"error converting input {value} for field \"{field}\"")


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# --- the stand-in AEAD (see the module docstring) --------------------------

def _prf(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def seal(key, plaintext, aad):
    nonce = secrets.token_bytes(12)
    enc, mac = _prf(key, b"enc"), _prf(key, b"mac")
    stream = b"".join(_prf(enc, nonce, i.to_bytes(4, "big"))
                      for i in range((len(plaintext) + 31) // 32))
    body = bytes(a ^ b for a, b in zip(plaintext, stream))
    tag = _prf(mac, len(aad).to_bytes(8, "big"), aad, nonce, body)[:16]
    return nonce + body + tag


def open_sealed(key, blob, aad):
    if len(blob) < 28:
        raise bad_request("invalid ciphertext: unable to decrypt")
    nonce, body, tag = blob[:12], blob[12:-16], blob[-16:]
    enc, mac = _prf(key, b"enc"), _prf(key, b"mac")
    want = _prf(mac, len(aad).to_bytes(8, "big"), aad, nonce, body)[:16]
    if not hmac.compare_digest(tag, want):
        raise bad_request("cipher: message authentication failed")
    stream = b"".join(_prf(enc, nonce, i.to_bytes(4, "big"))
                      for i in range((len(body) + 31) // 32))
    return bytes(a ^ b for a, b in zip(body, stream))


# --- state -----------------------------------------------------------------

class TransitKey:
    def __init__(self, name, derived, now):
        self.name = name
        self.derived = derived
        self.versions = {1: (secrets.token_bytes(32), int(now))}
        self.latest = 1
        self.min_decryption = 1
        self.min_encryption = 0

    def material(self, version, context):
        key = self.versions[version][0]
        if not self.derived:
            return key
        if not context:
            raise bad_request(
                "missing 'context' for key derivation; the key was created using a "
                "derived key, which means additional, per-request information must "
                "be included in order to perform operations with the key")
        return _prf(key, b"derive", context)

    def describe(self):
        return {
            "name": self.name, "type": "aes256-gcm96", "derived": self.derived,
            "deletion_allowed": False, "exportable": False,
            "allow_plaintext_backup": False,
            "keys": {str(v): t for v, (_, t) in self.versions.items()},
            "latest_version": self.latest,
            "min_available_version": 0,
            "min_decryption_version": self.min_decryption,
            "min_encryption_version": self.min_encryption,
            "supports_encryption": True, "supports_decryption": True,
            "supports_derivation": True, "supports_signing": False,
            "auto_rotate_period": 0, "imported_key": False,
            **({"kdf": "hkdf_sha256"} if self.derived else {}),
        }


class Token:
    def __init__(self, ns, policies, ttl, max_ttl, renewable, path, now, meta=None):
        self.id = "hvs." + secrets.token_urlsafe(24)
        self.accessor = secrets.token_urlsafe(18)
        self.ns = ns
        self.policies = sorted(set(policies))
        self.creation_ttl = ttl
        self.explicit_max_ttl = max_ttl
        self.renewable = renewable and ttl > 0
        self.path = path
        self.issued = now
        self.expires = now + ttl if ttl > 0 else None
        self.meta = meta or {}

    def hard_limit(self):
        if self.creation_ttl == 0:
            return None
        cap = self.explicit_max_ttl or MAX_TTL
        return self.issued + cap


class Namespace:
    def __init__(self, path, transit_mount):
        self.path = path  # "" for root, "ns1/" etc. otherwise
        self.children = set()
        self.mounts = {transit_mount: "transit"} if path == "" else {}
        self.auth = {"token": "token"}
        self.keys = {}      # (mount, name) -> TransitKey
        self.roles = {}     # (mount, name) -> dict
        self.secret_ids = {}  # (mount, secret_id) -> role name
        self.configs = {}   # mount -> dict


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.offset = 0.0
        self.start = float(int(time.time()))
        self.args = args
        self.namespaces = {"": Namespace("", args.transit_mount)}
        self.tokens = {}
        self.failures = {}  # path -> [status, remaining]
        root = Token("", ["root"], 0, 0, False, "auth/token/root", self.now())
        root.id = args.root_token
        self.tokens[root.id] = root

    def now(self):
        base = self.start if self.args.clock == "manual" else time.time()
        return base + self.offset

    def token(self, token_id):
        tok = self.tokens.get(token_id)
        if tok is None:
            return None
        if tok.expires is not None and self.now() >= tok.expires:
            del self.tokens[token_id]
            return None
        return tok

    def issue(self, ns, policies, ttl, max_ttl, renewable, path, meta=None):
        ttl = ttl or DEFAULT_TTL
        if max_ttl:
            ttl = min(ttl, max_ttl)
        ttl = min(ttl, MAX_TTL)
        tok = Token(ns, policies, ttl, max_ttl, renewable, path, self.now(), meta)
        self.tokens[tok.id] = tok
        return tok


def auth_block(tok):
    ttl = tok.creation_ttl
    return {
        "client_token": tok.id, "accessor": tok.accessor,
        "policies": tok.policies, "token_policies": tok.policies,
        "metadata": tok.meta or None, "lease_duration": ttl,
        "renewable": tok.renewable, "entity_id": "", "token_type": "service",
        "orphan": True, "mfa_requirement": None, "num_uses": 0,
    }


# --- JWT (HS256 stand-in, see the docstring) -------------------------------

def verify_jwt(state, jwt):
    key = state.args.jwt_hmac_key
    if not key:
        raise bad_request("no JWT verification key configured on the double (--jwt-hmac-key)")
    try:
        head_b64, body_b64, sig_b64 = jwt.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)
        header = json.loads(base64.urlsafe_b64decode(pad(head_b64)))
        claims = json.loads(base64.urlsafe_b64decode(pad(body_b64)))
        sig = base64.urlsafe_b64decode(pad(sig_b64))
    except Exception:
        raise bad_request("error validating token: malformed token")
    if header.get("alg") != "HS256":
        raise bad_request("error validating token: unsupported signing algorithm")
    want = hmac.new(key.encode(), f"{head_b64}.{body_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(sig, want):
        raise bad_request("error validating token: failed to verify id token signature")
    now = state.now()
    if "exp" in claims and now >= claims["exp"]:
        raise bad_request("error validating claims: token is expired")
    if "nbf" in claims and now < claims["nbf"]:
        raise bad_request("error validating claims: token not valid yet")
    return claims


# --- the request handler ---------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vault-test-double"
    # Headers and body go out in two writes; with Nagle on, the body waits
    # for the client's delayed ACK (40 ms on Linux) on every keep-alive
    # request, which a benchmark would charge to the provider.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read their own output
        pass

    def do_GET(self):
        self.handle_any("GET")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("POST")  # Vault treats PUT and POST alike

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_LIST(self):
        self.handle_any("LIST")

    def send_json(self, status, body, method):
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Cache-Control", "no-store")
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(raw)

    def handle_any(self, method):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            if not path.startswith("/v1/"):
                raise VaultError(404)
            rel = path[len("/v1/"):].strip("/")
            body = {}
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise bad_request("failed to parse JSON input: invalid character")
                if not isinstance(body, dict):
                    raise bad_request("failed to parse JSON input")
            with state.lock:
                fail = state.failures.get(rel)
                if fail and fail[1] > 0:
                    fail[1] -= 1
                    raise injected(fail[0], rel)
                status, out = self.route(state, method, rel, body)
        except VaultError as e:
            status, out = e.status, {"errors": e.errors}
            if state.args.deviate == "error-shape":
                out = {"error": "; ".join(e.errors)}
        if status == 200 and isinstance(out, dict) and "data" in out or \
                status == 200 and isinstance(out, dict) and "auth" in out:
            out = {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                   "lease_duration": 0, "data": None, "wrap_info": None,
                   "warnings": None, "auth": None, **out}
        self.send_json(status, out, method)

    # -- routing --

    def namespace(self, state, rel):
        """Resolves the header and path-prefix namespace; returns (ns, rest)."""
        header = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        ns = state.namespaces[""]
        if header:
            for part in header.split("/"):
                child = ns.path + part + "/"
                if child not in state.namespaces:
                    raise VaultError(404, f"no handler for route \"{rel}\". route entry not found.")
                ns = state.namespaces[child]
        parts = rel.split("/")
        while parts and ns.path + parts[0] + "/" in state.namespaces and parts[0] not in ("sys", "auth"):
            ns = state.namespaces[ns.path + parts[0] + "/"]
            parts = parts[1:]
        return ns, "/".join(parts)

    def caller(self, state, ns, need_root=False):
        value = self.headers.get("X-Vault-Token")
        if not value:
            bearer = self.headers.get("Authorization") or ""
            if bearer.lower().startswith("bearer "):
                value = bearer[7:].strip()
        if not value:
            if state.args.deviate == "forbidden-as-400":
                raise bad_request("missing client token")
            raise permission_denied()
        tok = state.token(value)
        if tok is None or not ns.path.startswith(tok.ns):
            raise permission_denied()
        if need_root and "root" not in tok.policies:
            raise permission_denied()
        return tok

    def route(self, state, method, rel, body):
        ns, rest = self.namespace(state, rel)
        parts = rest.split("/") if rest else []
        if rest == "sys/health":
            allow(method, "GET", "HEAD")
            return 200, {"initialized": True, "sealed": False, "standby": False,
                         "performance_standby": False,
                         "replication_performance_mode": "disabled",
                         "replication_dr_mode": "disabled",
                         "server_time_utc": int(state.now()),
                         "version": "0.0.0-test-double",
                         "cluster_name": "vault-test-double",
                         "cluster_id": "00000000-0000-0000-0000-000000000000"}
        if rest == "sys/init":
            allow(method, "GET")
            return 200, {"initialized": True}
        if rest == "sys/seal-status":
            allow(method, "GET")
            return 200, {"type": "shamir", "initialized": True, "sealed": False, "t": 1, "n": 1,
                         "progress": 0, "nonce": "", "version": "0.0.0-test-double",
                         "migration": False, "recovery_seal": False, "storage_type": "inmem",
                         "cluster_name": "vault-test-double",
                         "cluster_id": "00000000-0000-0000-0000-000000000000"}
        if parts[:2] == ["sys", "double"]:
            return self.double_extension(state, method, parts[2:], body)
        if parts[:1] == ["sys"] and len(parts) >= 3 and parts[1] in ("mounts", "auth", "namespaces"):
            allow(method, "POST")
            self.caller(state, ns, need_root=True)
            target = "/".join(parts[2:])
            kind = body.get("type")
            if parts[1] == "namespaces":
                full = ns.path + target + "/"
                if full in state.namespaces:
                    raise bad_request(f"namespace \"{target}/\" already exists")
                state.namespaces[full] = Namespace(full, state.args.transit_mount)
                return 200, {"data": {"id": secrets.token_hex(3), "path": full,
                                      "custom_metadata": {}}}
            table = ns.mounts if parts[1] == "mounts" else ns.auth
            supported = ("transit",) if parts[1] == "mounts" else \
                ("approle", "kubernetes", "jwt", "oidc", "cert")
            if kind not in supported:
                raise bad_request(f"plugin not found in the catalog: {kind}")
            if target in table:
                prefix = "auth/" if parts[1] == "auth" else ""
                raise bad_request(f"path is already in use at {prefix}{target}/")
            table[target] = kind
            return 204, None
        if parts[:1] == ["auth"] and len(parts) >= 3:
            mount = parts[1]
            kind = ns.auth.get(mount)
            if kind is None:
                raise VaultError(403, "permission denied")  # Vault hides unknown auth paths
            return self.auth_method(state, ns, method, kind, mount, parts[2:], body)
        if parts and ns.mounts.get(parts[0]) == "transit" and len(parts) >= 3:
            tok = self.caller(state, ns)
            return self.transit(state, ns, tok, method, parts[0], parts[1:], body)
        self.caller(state, ns)
        raise VaultError(404, f"no handler for route \"{rel}\". route entry not found.")

    def double_extension(self, state, method, parts, body):
        if parts == ["clock"]:
            allow(method, "GET", "POST")
            if method == "POST":
                state.offset += float(body.get("advance_seconds", 0))
            return 200, {"data": {"now": state.now()}}
        if parts == ["fail"]:
            allow(method, "POST")
            status, count = int(body.get("status", 0)), int(body.get("count", 1))
            if status not in (429, 500, 502, 503):
                raise bad_request("status must be 429, 500, 502 or 503")
            state.failures[str(body.get("path", "")).strip("/")] = [status, count]
            return 204, None
        raise VaultError(404, "unknown double extension")

    # -- transit --

    def transit(self, state, ns, tok, method, mount, parts, body):
        what, name, extra = parts[0], parts[1], parts[2:]
        key = ns.keys.get((mount, name))
        now = state.now()
        if what == "keys" and not extra:
            allow(method, "GET", "POST")
            if method == "GET":
                if key is None:
                    raise VaultError(404)
                return 200, {"data": key.describe()}
            kind = body.get("type", "aes256-gcm96")
            if kind != "aes256-gcm96":
                raise bad_request(f"unknown key type: {kind} (the double supports aes256-gcm96 only)")
            if body.get("convergent_encryption"):
                raise bad_request("convergent encryption is not supported by the double")
            if key is None:
                ns.keys[(mount, name)] = TransitKey(name, bool(body.get("derived")), now)
            return 204, None
        if what == "keys" and extra in (["rotate"], ["config"]):
            allow(method, "POST")
            if key is None:
                raise bad_request("no existing key named %s could be found" % name)
            if extra == ["rotate"]:
                key.latest += 1
                key.versions[key.latest] = (secrets.token_bytes(32), int(now))
                return 204, None
            if "min_decryption_version" in body:
                v = int(body["min_decryption_version"])
                if v > key.latest:
                    raise bad_request("cannot set min decryption version of %d, latest key version is %d" % (v, key.latest))
                key.min_decryption = max(v, 1)
            if "min_encryption_version" in body:
                v = int(body["min_encryption_version"])
                if v > key.latest:
                    raise bad_request("cannot set min encryption version of %d, latest key version is %d" % (v, key.latest))
                key.min_encryption = max(v, 0)
            return 204, None
        if what == "encrypt" and not extra:
            allow(method, "POST")
            if "batch_input" in body:
                raise bad_request("batch_input is not supported by the double")
            if "plaintext" not in body:
                raise bad_request("missing plaintext to encrypt")
            plaintext = b64d(body["plaintext"], "plaintext")
            context = b64d(body["context"], "context") if body.get("context") else b""
            aad = b64d(body["associated_data"], "associated_data") if body.get("associated_data") else b""
            if key is None:  # Vault upserts: encrypt creates the key
                key = ns.keys[(mount, name)] = TransitKey(name, bool(context), now)
            version = int(body.get("key_version") or 0) or key.latest
            if version > key.latest:
                raise bad_request("requested version for encryption is higher than the latest key version")
            if version < key.min_encryption:
                raise bad_request("requested version for encryption is less than the minimum encryption key version")
            blob = seal(key.material(version, context), plaintext, aad)
            ct = f"vault:v{version}:" + base64.b64encode(blob).decode()
            data = {"ciphertext": ct, "key_version": version}
            if state.args.deviate == "encrypt-shape":
                data = {"ciphertext_b64": ct, "key_version": version}
            return 200, {"data": data}
        if what == "decrypt" and not extra:
            allow(method, "POST")
            if "batch_input" in body:
                raise bad_request("batch_input is not supported by the double")
            ct = body.get("ciphertext")
            if not ct:
                raise bad_request("missing ciphertext to decrypt")
            if key is None:
                raise bad_request("encryption key not found")
            context = b64d(body["context"], "context") if body.get("context") else b""
            aad = b64d(body["associated_data"], "associated_data") if body.get("associated_data") else b""
            if not ct.startswith("vault:v"):
                raise bad_request("invalid ciphertext: no prefix")
            head, _, payload = ct[len("vault:v"):].partition(":")
            try:
                version = int(head)
            except ValueError:
                raise bad_request("invalid ciphertext: version number could not be decoded")
            if version < key.min_decryption and state.args.deviate != "min-decryption-ignored":
                raise bad_request("ciphertext or signature version is disallowed by policy (too old)")
            if version not in key.versions:
                raise bad_request("invalid key version")
            try:
                blob = base64.b64decode(payload, validate=True)
            except Exception:
                raise bad_request("invalid ciphertext: could not decode base64")
            plaintext = open_sealed(key.material(version, context), blob, aad)
            return 200, {"data": {"plaintext": base64.b64encode(plaintext).decode()}}
        raise VaultError(405 if what in ("keys", "encrypt", "decrypt") else 404,
                         "1 error occurred:\n\t* unsupported operation\n\n"
                         if what in ("keys", "encrypt", "decrypt") else
                         f"no handler for route \"{mount}/{'/'.join(parts)}\". route entry not found.")

    # -- auth methods --

    def auth_method(self, state, ns, method, kind, mount, parts, body):
        if kind == "token":
            return self.token_endpoints(state, ns, method, parts, body)
        if parts[0] in ("role", "certs", "config"):
            allow(method, "POST", "GET")
            self.caller(state, ns, need_root=True)
            if parts[0] == "config":
                if method == "GET":
                    return 200, {"data": ns.configs.get(mount, {})}
                ns.configs[mount] = dict(body)
                return 204, None
            name = parts[1] if len(parts) > 1 else ""
            if not name:
                raise VaultError(405, "1 error occurred:\n\t* unsupported operation\n\n")
            role = ns.roles.get((mount, name))
            rest = parts[2:]
            if not rest:
                if method == "GET":
                    if role is None:
                        raise VaultError(404)
                    return 200, {"data": role["settings"]}
                settings = dict(body)
                if role is None:
                    role = ns.roles[(mount, name)] = {"role_id": str(uuid.uuid4())}
                role["settings"] = settings
                return 204, None
            if role is None:
                raise bad_request(f"role \"{name}\" does not exist")
            if kind == "approle" and rest == ["role-id"]:
                allow(method, "GET")
                return 200, {"data": {"role_id": role["role_id"]}}
            if kind == "approle" and rest == ["secret-id"]:
                allow(method, "POST")
                sid = str(uuid.uuid4())
                ns.secret_ids[(mount, sid)] = name
                return 200, {"data": {"secret_id": sid, "secret_id_accessor": str(uuid.uuid4()),
                                      "secret_id_ttl": 0, "secret_id_num_uses": 0}}
            raise VaultError(404, "route entry not found")
        if parts == ["login"]:
            allow(method, "POST")
            name, settings, meta = self.login(state, ns, kind, mount, body)
            s = settings
            policies = as_list(s.get("token_policies") or s.get("policies")) or ["default"]
            if "default" not in policies and not s.get("token_no_default_policy"):
                policies.append("default")
            tok = state.issue(ns.path, policies, parse_duration(s.get("token_ttl") or s.get("ttl"), "token_ttl"),
                              parse_duration(s.get("token_max_ttl") or s.get("max_ttl"), "token_max_ttl"),
                              True, f"auth/{mount}/login", meta)
            return 200, {"auth": auth_block(tok)}
        raise VaultError(404, "route entry not found")

    def login(self, state, ns, kind, mount, body):
        if kind == "approle":
            role_id, secret_id = body.get("role_id"), body.get("secret_id")
            if not role_id:
                raise bad_request("missing role_id")
            for (m, name), role in ns.roles.items():
                if m == mount and role["role_id"] == role_id:
                    if ns.secret_ids.get((mount, secret_id or "")) != name:
                        raise bad_request("invalid role or secret ID")
                    return name, role["settings"], {"role_name": name}
            raise bad_request("invalid role or secret ID")
        if kind in ("kubernetes", "jwt", "oidc"):
            name, jwt = body.get("role"), body.get("jwt")
            if not jwt:
                raise bad_request("missing jwt")
            if not name:
                raise bad_request("missing role")
            role = ns.roles.get((mount, name))
            if role is None:
                raise bad_request(f"invalid role name \"{name}\"")
            claims = verify_jwt(state, jwt)
            s = role["settings"]
            if kind == "kubernetes":
                k8s = claims.get("kubernetes.io") or {}
                sa = (k8s.get("serviceaccount") or {}).get("name") or \
                    claims.get("kubernetes.io/serviceaccount/service-account.name")
                sa_ns = k8s.get("namespace") or claims.get("kubernetes.io/serviceaccount/namespace")
                names = as_list(s.get("bound_service_account_names"))
                nss = as_list(s.get("bound_service_account_namespaces"))
                if "*" not in names and sa not in names:
                    raise VaultError(403, "service account name not authorized")
                if "*" not in nss and sa_ns not in nss:
                    raise VaultError(403, "namespace not authorized")
                return name, s, {"role": name, "service_account_name": sa,
                                 "service_account_namespace": sa_ns}
            auds = as_list(s.get("bound_audiences"))
            token_aud = claims.get("aud")
            token_aud = [token_aud] if isinstance(token_aud, str) else (token_aud or [])
            if token_aud and not auds:
                raise bad_request("error validating claims: audience claim found in JWT but no audiences bound to the role")
            if auds and not set(auds) & set(token_aud):
                raise bad_request("error validating claims: invalid audience (aud) claim: audience claim does not match any expected audience")
            if s.get("bound_subject") and claims.get("sub") != s["bound_subject"]:
                raise bad_request("sub claim does not match bound subject")
            for claim, want in (s.get("bound_claims") or {}).items():
                wants = want if isinstance(want, list) else [want]
                if claims.get(claim) not in wants:
                    raise bad_request(f"claim \"{claim}\" does not match any associated bound claim values")
            user = claims.get(s.get("user_claim") or "sub")
            if user is None:
                raise bad_request("claim \"%s\" not found in token" % (s.get("user_claim") or "sub"))
            return name, s, {"role": name}
        if kind == "cert":
            der = self.server.peer_certs.get(self.connection)
            if der is None:
                raise bad_request("client certificate must be supplied")
            wanted = body.get("name")
            for (m, name), role in ns.roles.items():
                if m != mount or (wanted and wanted != name):
                    continue
                pem = role["settings"].get("certificate", "")
                try:
                    trusted = ssl.PEM_cert_to_DER_cert(pem)
                except Exception:
                    continue
                # The listener verified the chain against --client-ca; a role
                # matches when its certificate is that CA or the leaf itself.
                if trusted == der or trusted in self.server.client_ca_ders:
                    return name, role["settings"], {"cert_name": name}
            raise bad_request("invalid certificate or no client certificate supplied")
        raise VaultError(404, "route entry not found")

    def token_endpoints(self, state, ns, method, parts, body):
        op = "/".join(parts)
        if op == "create":
            allow(method, "POST")
            parent = self.caller(state, ns)
            policies = as_list(body.get("policies")) or list(parent.policies)
            if "root" in policies and "root" not in parent.policies:
                raise permission_denied()
            ttl = parse_duration(body.get("ttl"), "ttl")
            max_ttl = parse_duration(body.get("explicit_max_ttl"), "explicit_max_ttl")
            if "root" in policies and not ttl:
                tok = Token(ns.path, policies, 0, 0, False, "auth/token/create", state.now())
                state.tokens[tok.id] = tok
            else:
                tok = state.issue(ns.path, policies, ttl, max_ttl,
                                  body.get("renewable", True) is not False, "auth/token/create",
                                  body.get("meta"))
            return 200, {"auth": auth_block(tok)}
        tok = self.caller(state, ns)
        now = state.now()
        if op == "lookup-self":
            allow(method, "GET", "POST")
            ttl = 0 if tok.expires is None else max(0, int(tok.expires - now))
            return 200, {"data": {
                "accessor": tok.accessor, "creation_time": int(tok.issued),
                "creation_ttl": tok.creation_ttl, "display_name": "token",
                "entity_id": "", "expire_time": None if tok.expires is None else rfc3339(tok.expires),
                "explicit_max_ttl": tok.explicit_max_ttl, "id": tok.id,
                "issue_time": rfc3339(tok.issued), "meta": tok.meta or None,
                "num_uses": 0, "orphan": True, "path": tok.path,
                "policies": tok.policies, "renewable": tok.renewable,
                "ttl": ttl, "type": "service",
                "namespace_path": tok.ns}}
        if op == "renew-self":
            allow(method, "POST")
            if not tok.renewable:
                raise bad_request("lease is not renewable")
            increment = parse_duration(body.get("increment"), "increment") or tok.creation_ttl
            warnings = None
            limit = tok.hard_limit()
            new_expiry = now + increment
            if limit is not None and new_expiry > limit:
                new_expiry = limit
                warnings = [f"TTL of \"{increment}s\" exceeded the effective max_ttl of "
                            f"\"{int(limit - now)}s\"; TTL value is capped accordingly"]
            tok.expires = new_expiry
            out = auth_block(tok)
            out["lease_duration"] = int(new_expiry - now)
            return 200, {"auth": out, "warnings": warnings}
        if op == "revoke-self":
            allow(method, "POST")
            del state.tokens[tok.id]
            return 204, None
        raise VaultError(404, f"no handler for route \"auth/token/{op}\". route entry not found.")


def allow(method, *methods):
    if method not in methods:
        raise VaultError(405, "1 error occurred:\n\t* unsupported operation\n\n")


def injected(status, rel):
    message = {429: f"request path \"{rel}\": rate limit quota exceeded",
               500: "internal error",
               502: "bad gateway",
               503: "Vault is sealed"}[status]
    return VaultError(status, message)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows when a provider test
    # opens 40 connections at once: the kernel then drops the handshake's
    # last ACK, the client believes it is connected, and its request waits
    # for SYN-ACK retransmissions (1, 2, 4, 8 s) past its deadline.
    request_queue_size = 128


def main():
    p = argparse.ArgumentParser(description="A test double of Vault's HTTP API (not Vault).")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca")
    p.add_argument("--root-token", default="root")
    p.add_argument("--transit-mount", default="transit")
    p.add_argument("--state-dir", help="accepted and ignored: state lives in memory")
    p.add_argument("--jwt-hmac-key", default="")
    p.add_argument("--clock", choices=["manual", "real"], default="manual",
                   help="manual: time stands still until sys/double/clock advances it")
    p.add_argument("--deviate", choices=["encrypt-shape", "forbidden-as-400", "error-shape",
                                         "min-decryption-ignored"])
    args = p.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    server.peer_certs = {}
    server.client_ca_ders = set()
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.client_ca)
            with open(args.client_ca) as f:
                text = f.read()
            for block in text.split("-----END CERTIFICATE-----")[:-1]:
                server.client_ca_ders.add(ssl.PEM_cert_to_DER_cert(block + "-----END CERTIFICATE-----\n"))
        base_get_request = server.get_request

        def get_request():
            sock, addr = base_get_request()
            tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            return tls, addr
        server.get_request = get_request

        base_finish = server.finish_request

        def finish_request(request, client_address):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
            der = request.getpeercert(binary_form=True)
            if der:
                server.peer_certs[request] = der
            try:
                base_finish(request, client_address)
            finally:
                server.peer_certs.pop(request, None)
        server.finish_request = finish_request
        scheme = "https"

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(url + "\n")
    os.replace(tmp, args.ready_file)  # the reader never sees half a URL
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
