#!/usr/bin/env python3
"""TEST DOUBLE of Google Cloud KMS (REST v1) and of Google's token endpoints
(OAuth 2.0, STS, the GCE metadata server). Not Google, not a product: it
exists so that Trousseau's gcpkms provider can be tested here, where no
Google service is reachable.

    cloudkms_double.py --port 0 --ready-file F --tls-cert C --tls-key K
                       [--state-dir D] [--token-lifetime 3600]
                       [--exit-on-stdin-eof] [--deviate NAME]
                       [--project P] [--project-number N] [--client-email E]
                       [--wif-audience A] [--oidc-issuer I] [--oidc-subject S]
                       [--oidc-audience A]

It listens on 127.0.0.1 over HTTPS, writes its base URL
(`https://127.0.0.1:PORT`) to the ready file once listening (renamed into
place, never half-written), and serves until SIGTERM (or until stdin closes,
with --exit-on-stdin-eof). Everything is on that one origin.

With --state-dir D it keeps its keys there across restarts (state.json) and
writes what a client needs, all renamed into place before the ready file
appears:
  * D/service-account.json: a service account key file (type
    service_account, project_id, private_key_id, private_key, client_email,
    client_id, token_uri = {base}/token, universe_domain googleapis.com);
  * D/external-account.json: a workload identity federation file (type
    external_account, audience = --wif-audience, subject_token_type
    urn:ietf:params:oauth:token-type:jwt, token_url = {base}/v1/token,
    credential_source.file = the absolute path of D/subject-token);
  * D/subject-token: an RS256 JWT signed by the double's test OIDC issuer key
    (iss --oidc-issuer, sub --oidc-subject, aud --oidc-audience, 24 h), as
    kubelet projects a service account token;
  * D/oidc-issuer.pem: that issuer's public key.
The TLS certificate and its CA come from tests/doubles/test_pki.py.

Cloud KMS v1, as the REST reference describes it (names are
projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}/cryptoKeyVersions/{v};
ids match [a-zA-Z0-9_-]{1,63}; any project and location are accepted):
  * POST /v1/projects/{p}/locations/{l}/keyRings?keyRingId=R, GET
    .../keyRings/{r}, GET .../keyRings (list).
  * POST .../keyRings/{r}/cryptoKeys?cryptoKeyId=K[&skipInitialVersionCreation=true]
    with purpose ENCRYPT_DECRYPT, versionTemplate.algorithm
    GOOGLE_SYMMETRIC_ENCRYPTION, versionTemplate.protectionLevel SOFTWARE
    (default) or HSM; GET .../cryptoKeys/{k} (with `primary`), GET
    .../cryptoKeys (list); POST .../cryptoKeys/{k}:updatePrimaryVersion
    {"cryptoKeyVersionId": "N"} (the version must be ENABLED).
  * POST .../cryptoKeys/{k}/cryptoKeyVersions (a new ENABLED version, not
    primary), GET .../cryptoKeyVersions/{v}, GET .../cryptoKeyVersions (list),
    PATCH .../cryptoKeyVersions/{v}?updateMask=state {"state": ENABLED|DISABLED},
    POST .../cryptoKeyVersions/{v}:destroy (DESTROY_SCHEDULED, destroyTime =
    now + destroyScheduledDuration, default 30 days; DESTROYED, material gone,
    once the double's clock passes it), POST .../cryptoKeyVersions/{v}:restore.
  * POST .../cryptoKeys/{k}:encrypt or .../cryptoKeyVersions/{v}:encrypt:
    plaintext, additionalAuthenticatedData, plaintextCrc32c,
    additionalAuthenticatedDataCrc32c -> name (the version used), ciphertext,
    ciphertextCrc32c, verifiedPlaintextCrc32c, verifiedAdditionalAuthenticatedDataCrc32c,
    protectionLevel. Limits: plaintext and AAD 64 KiB each (SOFTWARE); their
    sum 8 KiB (HSM). AES-256-GCM with a key per version; the ciphertext names
    its version (and its key) in a header the double reads back.
  * POST .../cryptoKeys/{k}:decrypt: ciphertext, additionalAuthenticatedData,
    ciphertextCrc32c, additionalAuthenticatedDataCrc32c -> plaintext,
    plaintextCrc32c, usedPrimary, protectionLevel. Any ENABLED version
    decrypts; another state is FAILED_PRECONDITION; another key, other AAD
    or altered bytes are INVALID_ARGUMENT "Decryption failed: ...".
  * proto3 JSON: bytes as base64 (standard or url-safe accepted, standard
    sent), int64 CRC32C fields as JSON strings (numbers accepted), enums as
    names, or as numbers when the query has `$alt=json;enum-encoding=int`
    (Google's Node client always asks for that); fields at their default
    value (false, 0, "") are omitted from responses; an unknown request field
    or query parameter (system parameters aside) is INVALID_ARGUMENT
    ("Invalid JSON payload received. Unknown name ..."); filter and orderBy
    in lists are UNIMPLEMENTED.
  * CRC32C (Castagnoli): a request checksum that does not match its data is
    INVALID_ARGUMENT; the verified* flags are true exactly when the request
    carried the checksum.
  * errors as google.rpc.Status: {"error": {"code": HTTP, "message", "status"}}
    with 400 INVALID_ARGUMENT / FAILED_PRECONDITION, 401 UNAUTHENTICATED
    (with WWW-Authenticate), 403 PERMISSION_DENIED (a token without the
    cloudkms or cloud-platform scope), 404 NOT_FOUND, 409 ALREADY_EXISTS,
    429 RESOURCE_EXHAUSTED, 500 INTERNAL, 501 UNIMPLEMENTED, 503 UNAVAILABLE.

Tokens. Access tokens are opaque strings with a scope and an expiry on the
double's clock; a missing, unknown or expired one is 401 UNAUTHENTICATED.
  * POST /token (oauth2.googleapis.com/token), grant_type
    urn:ietf:params:oauth:grant-type:jwt-bearer, assertion = an RS256 JWT
    signed by the service account key (kid = private_key_id if present,
    iss = client_email, aud = {base}/token or https://oauth2.googleapis.com/token,
    scope containing .../auth/cloudkms or .../auth/cloud-platform,
    exp - iat <= 3600, within 300 s of the real clock) -> access_token,
    expires_in, token_type Bearer. Errors {"error", "error_description"}
    (invalid_grant, invalid_scope, unsupported_grant_type).
  * a self-signed JWT as the bearer token (Google's clients use it by
    default for a service account key): RS256 by the service account key,
    iss = sub = client_email, and either a scope claim as above or
    aud = https://cloudkms.googleapis.com/ (or {base}/); checked on the
    real clock, like every JWT a client mints.
  * POST /v1/token (sts.googleapis.com), form or JSON: grant_type
    urn:ietf:params:oauth:grant-type:token-exchange, audience = --wif-audience,
    scope, requested_token_type urn:ietf:params:oauth:token-type:access_token,
    subject_token_type ...:jwt or ...:id_token, subject_token = an RS256 JWT
    signed by the test OIDC key with iss/sub/aud as configured -> access_token,
    issued_token_type, token_type Bearer, expires_in.
  * POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken
    (iamcredentials, service account impersonation) with a valid bearer:
    {"scope": [...], "lifetime": "3600s"} -> {"accessToken", "expireTime"}.
  * GCE metadata server, GET /computeMetadata/v1/instance/service-accounts/
    {default|email}/token[?scopes=a,b] (and .../email, project/project-id,
    universe/universe-domain) with `Metadata-Flavor: Google` (403 without
    it) -> {"access_token", "expires_in", "token_type": "Bearer"}, answered
    with `Metadata-Flavor: Google`. The real one is plain http on
    169.254.169.254; the double serves it over its https origin.

Test controls (not Google):
  * POST /double/clock {"advance_seconds": N} moves the double's clock.
  * POST /double/fail {"path": P, "count": N, "status": S} answers the next N
    requests whose path starts with P with S as a google.rpc.Status (no
    Retry-After: Google documents none for Cloud KMS).
  * POST /double/corrupt {"what": W, "count": N}: the next N responses that
    carry W lie about it. W is ciphertextCrc32c or plaintextCrc32c (off by
    one), verifiedPlaintextCrc32c or verifiedAdditionalAuthenticatedDataCrc32c
    (false although checked), ciphertext or plaintext (one bit flipped, the
    checksum still that of the true bytes), or name (encrypt answers with
    another version's name).
  * POST /double/subject-token {"issuer", "subject", "audience", "lifetime"}
    rewrites D/subject-token (defaults: the configured values, 24 h).
  * GET /double/requests lists every request served (method, path, status),
    each logged before it is answered.

Does not cover: asymmetric, MAC, raw and external keys, import jobs, key
handles/Autokey, IAM policies (any valid token may do anything, in any
project), rotation schedules, labels beyond echoing them, HSM attestations,
ListLocations, filters and ordering in lists, request quotas other than
what /double/fail injects, real JWT access tokens, and the metadata server
being plain http.

--deviate NAME breaks one documented behaviour on purpose, for the check's
self-test: `crc32c-as-number` sends the int64 CRC32C fields as JSON numbers;
`wrong-crc32c` sends a ciphertextCrc32c that does not match the ciphertext.
"""
import argparse
import base64
import datetime
import json
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    sys.exit("cloudkms_double.py: python3-cryptography is missing; "
             "run scripts/install-deps --test")

KMS_SCOPES = {"https://www.googleapis.com/auth/cloudkms",
              "https://www.googleapis.com/auth/cloud-platform"}
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
KMS_AUDIENCE = "https://cloudkms.googleapis.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = {"urn:ietf:params:oauth:token-type:jwt",
                       "urn:ietf:params:oauth:token-type:id_token"}
CLOCK_SKEW = 300  # seconds allowed on JWTs a client mints on its own clock
ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
DEFAULT_DESTROY_SCHEDULED = 30 * 24 * 3600
SOFTWARE_LIMIT = 64 * 1024
HSM_LIMIT = 8 * 1024
CIPHERTEXT_MAGIC = b"TDKMS1"  # the double's own format: magic, key uid, version, nonce, GCM

# proto3 JSON enums: name <-> number (google/cloud/kms/v1/resources.proto).
ENUMS = {
    "purpose": {"CRYPTO_KEY_PURPOSE_UNSPECIFIED": 0, "ENCRYPT_DECRYPT": 1, "ASYMMETRIC_SIGN": 5,
                "ASYMMETRIC_DECRYPT": 6, "RAW_ENCRYPT_DECRYPT": 7, "MAC": 9,
                "KEY_ENCAPSULATION": 10},
    "state": {"CRYPTO_KEY_VERSION_STATE_UNSPECIFIED": 0, "PENDING_GENERATION": 5, "ENABLED": 1,
              "DISABLED": 2, "DESTROYED": 3, "DESTROY_SCHEDULED": 4, "PENDING_IMPORT": 6,
              "IMPORT_FAILED": 7, "GENERATION_FAILED": 8, "PENDING_EXTERNAL_DESTRUCTION": 9,
              "EXTERNAL_DESTRUCTION_FAILED": 10},
    "protectionLevel": {"PROTECTION_LEVEL_UNSPECIFIED": 0, "SOFTWARE": 1, "HSM": 2,
                        "EXTERNAL": 3, "EXTERNAL_VPC": 4},
    "algorithm": {"CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED": 0,
                  "GOOGLE_SYMMETRIC_ENCRYPTION": 1, "AES_128_GCM": 41, "AES_256_GCM": 19},
}

# google.rpc.Code names and their HTTP mapping (google/rpc/code.proto).
STATUS_OF_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
                  499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
                  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
HTTP_OF_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
                  "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
                  "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429,
                  "INTERNAL": 500, "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501,
                  "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82F63B78), as Cloud KMS checks it."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc3339(t):
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


class GoogleError(Exception):
    """A google.rpc.Status answer."""

    def __init__(self, status, message, headers=None, http=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.http = http or HTTP_OF_STATUS[status]
        self.headers = headers or {}

    def body(self):
        return {"error": {"code": self.http, "message": self.message, "status": self.status}}


class OAuthError(Exception):
    """An OAuth 2.0 / STS token endpoint error: {"error", "error_description"}."""

    def __init__(self, http, error, description):
        super().__init__(description)
        self.http, self.error, self.description = http, error, description

    def body(self):
        return {"error": self.error, "error_description": self.description}


def invalid(message):
    return GoogleError("INVALID_ARGUMENT", message)


def parse_bytes(body, field, required=False):
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise invalid(f"{field} is required.")
        return b""
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{field}' (TYPE_BYTES), {json.dumps(value)}")
    try:
        # proto3 JSON accepts standard and url-safe base64, padded or not.
        text = value.rstrip("=").replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, TypeError):
        raise invalid(f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed for {json.dumps(value)}")


def parse_int64(body, field):
    """An Int64Value: a JSON string (as proto3 JSON writes it) or number; None if absent."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid(f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.Int64Value), {json.dumps(value)}")
    try:
        n = int(value)
    except ValueError:
        raise invalid(f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.Int64Value), {json.dumps(value)}")
    return n


def parse_enum(kind, value, field):
    table = ENUMS[kind]
    if isinstance(value, int) and not isinstance(value, bool):
        for name, number in table.items():
            if number == value:
                return name
    elif isinstance(value, str) and value in table:
        return value
    raise invalid(f"Invalid value at '{field}' ({kind}), {json.dumps(value)}")


# System parameters any Google REST call may carry
# (cloud.google.com/apis/docs/system-parameters).
SYSTEM_PARAMETERS = {"$alt", "alt", "$prettyPrint", "prettyPrint", "fields", "$fields", "key",
                     "quotaUser", "$.xgafv", "callback", "$callback", "upload_protocol",
                     "uploadType"}


def check_query(query, allowed):
    for name in query:
        if name not in SYSTEM_PARAMETERS and name not in allowed:
            raise invalid(f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                          f"parameter. Field '{name}' could not be found in request message.")
    for name in ("filter", "orderBy"):
        if query.get(name):
            raise GoogleError("UNIMPLEMENTED", f"'{name}' is not implemented by the test double.")


def check_fields(body, allowed):
    for name in body:
        if name not in allowed:
            raise invalid(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')


def enums_to_numbers(value):
    if isinstance(value, dict):
        return {k: (ENUMS[k][v] if k in ENUMS and isinstance(v, str) else enums_to_numbers(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [enums_to_numbers(v) for v in value]
    return value


class Version:
    def __init__(self, number, protection, now, material=None):
        self.number, self.protection = number, protection
        self.state = "ENABLED"
        self.created = now
        self.material = material if material is not None else secrets.token_bytes(32)
        self.destroy_time = None
        self.destroy_event_time = None

    def to_state(self):
        return {"number": self.number, "protection": self.protection, "state": self.state,
                "created": self.created, "material": b64u(self.material) if self.material else None,
                "destroy_time": self.destroy_time, "destroy_event_time": self.destroy_event_time}

    @classmethod
    def from_state(cls, s):
        v = cls(s["number"], s["protection"], s["created"],
                unb64u(s["material"]) if s["material"] else b"")
        v.state, v.destroy_time, v.destroy_event_time = s["state"], s["destroy_time"], s["destroy_event_time"]
        return v


class CryptoKey:
    def __init__(self, name, protection, now, labels=None, destroy_scheduled=DEFAULT_DESTROY_SCHEDULED,
                 uid=None):
        self.name, self.protection, self.created = name, protection, now
        self.labels = labels or {}
        self.destroy_scheduled = destroy_scheduled
        self.uid = uid or secrets.token_bytes(16)
        self.versions = []  # Version, numbered from 1
        self.primary = None  # a version number

    def to_state(self):
        return {"name": self.name, "protection": self.protection, "created": self.created,
                "labels": self.labels, "destroy_scheduled": self.destroy_scheduled,
                "uid": b64u(self.uid), "primary": self.primary,
                "versions": [v.to_state() for v in self.versions]}

    @classmethod
    def from_state(cls, s):
        k = cls(s["name"], s["protection"], s["created"], s["labels"], s["destroy_scheduled"],
                unb64u(s["uid"]))
        k.primary = s["primary"]
        k.versions = [Version.from_state(v) for v in s["versions"]]
        return k


def atomic_write(path, data, mode=0o600):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Double:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.clock_offset = 0
        self.key_rings = {}  # name -> createTime
        self.keys = {}  # name -> CryptoKey
        self.tokens = {}  # token -> (scopes, expires_at, principal)
        self.failures = []  # [prefix, remaining, status]
        self.corruptions = []  # [what, remaining]
        self.log = []
        self.base_url = None
        self.sa_key = None
        self.sa_key_id = None
        self.oidc_key = None
        self.load_state()

    # --- time and state ---------------------------------------------------
    def now(self):
        return time.time() + self.clock_offset

    def path(self, name):
        return os.path.join(self.args.state_dir, name) if self.args.state_dir else None

    def load_state(self):
        path = self.path("state.json")
        saved = {}
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
        self.key_rings = saved.get("key_rings", {})
        self.keys = {n: CryptoKey.from_state(k) for n, k in saved.get("keys", {}).items()}
        if "sa_key" in saved:
            self.sa_key = serialization.load_pem_private_key(saved["sa_key"].encode(), None)
            self.sa_key_id = saved["sa_key_id"]
            self.oidc_key = serialization.load_pem_private_key(saved["oidc_key"].encode(), None)
        else:
            self.sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.sa_key_id = secrets.token_hex(20)
            self.oidc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def save_state(self):
        """Called with the lock held, after every change."""
        path = self.path("state.json")
        if not path:
            return
        pem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        atomic_write(path, json.dumps({
            "key_rings": self.key_rings, "keys": {n: k.to_state() for n, k in self.keys.items()},
            "sa_key": pem(self.sa_key), "sa_key_id": self.sa_key_id,
            "oidc_key": pem(self.oidc_key)}).encode())

    def write_credentials(self):
        if not self.args.state_dir:
            return
        os.makedirs(self.args.state_dir, exist_ok=True)
        with self.lock:
            self.save_state()
        pem = self.sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        atomic_write(self.path("service-account.json"), json.dumps({
            "type": "service_account", "project_id": self.args.project,
            "private_key_id": self.sa_key_id, "private_key": pem,
            "client_email": self.args.client_email, "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.base_url}/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com"}, indent=2).encode())
        atomic_write(self.path("external-account.json"), json.dumps({
            "type": "external_account", "audience": self.args.wif_audience,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": f"{self.base_url}/v1/token",
            "credential_source": {"file": os.path.abspath(self.path("subject-token")),
                                  "format": {"type": "text"}},
            "universe_domain": "googleapis.com"}, indent=2).encode())
        atomic_write(self.path("oidc-issuer.pem"), self.oidc_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        self.write_subject_token({})

    def write_subject_token(self, body):
        if not self.args.state_dir:
            raise GoogleError("FAILED_PRECONDITION", "The double runs without --state-dir.")
        now = int(time.time())  # a client-side token: the real clock
        claims = {"iss": body.get("issuer", self.args.oidc_issuer),
                  "sub": body.get("subject", self.args.oidc_subject),
                  "aud": body.get("audience", self.args.oidc_audience),
                  "iat": now, "nbf": now, "exp": now + int(body.get("lifetime", 86400))}
        head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test-oidc"}).encode())
        payload = b64u(json.dumps(claims).encode())
        sig = self.oidc_key.sign(f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        atomic_write(self.path("subject-token"), f"{head}.{payload}.{b64u(sig)}".encode())

    # --- tokens -------------------------------------------------------------
    def issue_token(self, scopes, principal, lifetime=None):
        token = "ya29.double-" + secrets.token_urlsafe(32)
        lifetime = lifetime or self.args.token_lifetime
        with self.lock:
            self.tokens[token] = (frozenset(scopes), self.now() + lifetime, principal)
        return token, lifetime

    @staticmethod
    def split_jwt(token):
        try:
            head_b64, body_b64, sig_b64 = token.split(".")
            header = json.loads(unb64u(head_b64))
            claims = json.loads(unb64u(body_b64))
            signature = unb64u(sig_b64)
        except (ValueError, json.JSONDecodeError, AttributeError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        return header, claims, f"{head_b64}.{body_b64}".encode(), signature

    @staticmethod
    def rs256_ok(key, parts):
        header, _, signed, signature = parts
        if header.get("alg") != "RS256":
            return False
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            return False

    @staticmethod
    def time_ok(claims, max_lifetime=None):
        # JWTs a client mints carry its own (real) clock, not the double's.
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(exp, (int, float)) or exp + CLOCK_SKEW < now:
            return False
        if isinstance(iat, (int, float)):
            if iat - CLOCK_SKEW > now:
                return False
            if max_lifetime is not None and exp - iat > max_lifetime:
                return False
        elif max_lifetime is not None:
            return False
        return True

    def check_bearer(self, header):
        """Returns None, or raises the documented 401/403."""
        realm = 'Bearer realm="https://accounts.google.com/"'
        if not header or not header.startswith("Bearer "):
            raise GoogleError("UNAUTHENTICATED",
                              "Request is missing required authentication credential. Expected OAuth 2 "
                              "access token, login cookie or other valid authentication credential.",
                              headers={"WWW-Authenticate": realm})
        token = header[len("Bearer "):].strip()
        bad = GoogleError("UNAUTHENTICATED",
                          "Request had invalid authentication credentials. Expected OAuth 2 access "
                          "token, login cookie or other valid authentication credential.",
                          headers={"WWW-Authenticate": realm + ', error="invalid_token"'})
        with self.lock:
            entry = self.tokens.get(token)
        if entry is not None:
            scopes, expires_at, _ = entry
            if expires_at <= self.now():
                raise bad
        else:
            scopes = self.self_signed_scopes(token)
            if scopes is None:
                raise bad
        if not scopes & KMS_SCOPES:
            raise GoogleError("PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                              headers={"WWW-Authenticate": realm + ', error="insufficient_scope"'})

    def self_signed_scopes(self, token):
        """A self-signed service account JWT used as the bearer: its scopes, or None."""
        parts = self.split_jwt(token)
        if parts is None:
            return None
        header, claims = parts[0], parts[1]
        if "kid" in header and header["kid"] != self.sa_key_id:
            return None
        if claims.get("iss") != self.args.client_email or claims.get("sub") != self.args.client_email:
            return None
        if not self.rs256_ok(self.sa_key.public_key(), parts) or not self.time_ok(claims, 3600):
            return None
        if isinstance(claims.get("scope"), str):
            return frozenset(claims["scope"].split())
        if claims.get("aud") in (KMS_AUDIENCE, f"{self.base_url}/"):
            return frozenset(KMS_SCOPES)
        return None

    def oauth_token(self, form):
        if form.get("grant_type") != JWT_BEARER:
            raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: " + str(form.get("grant_type")))
        parts = self.split_jwt(form.get("assertion", ""))
        if parts is None:
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        header, claims = parts[0], parts[1]
        if claims.get("iss") != self.args.client_email:
            raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        if ("kid" in header and header["kid"] != self.sa_key_id) or not self.rs256_ok(
                self.sa_key.public_key(), parts):
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") not in (GOOGLE_TOKEN_URL, f"{self.base_url}/token"):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        if not self.time_ok(claims, 3600):
            raise OAuthError(400, "invalid_grant",
                             "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                             "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        scopes = claims.get("scope")
        if not isinstance(scopes, str) or not scopes.split():
            raise OAuthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        token, lifetime = self.issue_token(scopes.split(), self.args.client_email)
        return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}

    def sts_token(self, form):
        if form.get("grant_type") != TOKEN_EXCHANGE:
            raise OAuthError(400, "unsupported_grant_type",
                             f"Unsupported grant_type: {form.get('grant_type')!r}.")
        if form.get("requested_token_type") != ACCESS_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request",
                             "Invalid value for \"requested_token_type\": "
                             f"{form.get('requested_token_type')!r}.")
        if form.get("subject_token_type") not in SUBJECT_TOKEN_TYPES:
            raise OAuthError(400, "invalid_request",
                             f"Invalid value for \"subject_token_type\": {form.get('subject_token_type')!r}.")
        if form.get("audience") != self.args.wif_audience:
            raise OAuthError(400, "invalid_target",
                             "The target service indicated by the \"audience\" parameters is invalid. "
                             "This might either be because the pool or provider is disabled or deleted "
                             "or because it doesn't exist.")
        scope = form.get("scope") or ""
        if isinstance(scope, list):
            scope = " ".join(scope)
        if not scope.split():
            raise OAuthError(400, "invalid_scope", "The scope is missing or invalid.")
        parts = self.split_jwt(form.get("subject_token") or "")
        if parts is None or not self.rs256_ok(self.oidc_key.public_key(), parts):
            raise OAuthError(400, "invalid_grant", "Invalid JWT signature or format of the subject token.")
        claims = parts[1]
        if claims.get("iss") != self.args.oidc_issuer:
            raise OAuthError(400, "invalid_grant",
                             f"The issuer in ID Token {claims.get('iss')} does not match the expected ones.")
        aud = claims.get("aud")
        if self.args.oidc_audience not in (aud if isinstance(aud, list) else [aud]):
            raise OAuthError(400, "invalid_grant", "The audience in ID Token does not match the expected audience.")
        if claims.get("sub") != self.args.oidc_subject:
            raise OAuthError(400, "invalid_grant",
                             "The given credential is rejected by the attribute condition.")
        if not self.time_ok(claims):
            raise OAuthError(400, "invalid_grant", "ID Token has expired.")
        token, lifetime = self.issue_token(scope.split(), "principal://" + str(claims["sub"]))
        return {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer", "expires_in": lifetime}

    def generate_access_token(self, email, body):
        if email not in (self.args.client_email, "-"):
            raise GoogleError("NOT_FOUND", f"Service account {email} not found.")
        check_fields(body, {"scope", "lifetime", "delegates"})
        scopes = body.get("scope")
        if not isinstance(scopes, list) or not scopes:
            raise invalid("Scope required.")
        lifetime = self.args.token_lifetime
        if "lifetime" in body:
            m = re.fullmatch(r"(\d+)(?:\.\d+)?s", str(body["lifetime"]))
            if not m or not 1 <= int(m.group(1)) <= 3600:
                raise invalid("The lifetime must be between 1s and 3600s.")
            lifetime = int(m.group(1))
        token, lifetime = self.issue_token(scopes, email, lifetime)
        return {"accessToken": token,
                "expireTime": rfc3339(int(self.now() + lifetime)).replace(".000000000", "")}

    def metadata(self, route, query, headers):
        if headers.get("Metadata-Flavor") != "Google":
            raise GoogleError("PERMISSION_DENIED", "Missing required header: Metadata-Flavor",
                              http=403)
        accounts = "instance/service-accounts/"
        if route == "project/project-id":
            return self.args.project
        if route == "universe/universe-domain":
            return "googleapis.com"
        if route.startswith(accounts):
            account, _, what = route[len(accounts):].partition("/")
            if account not in ("default", self.args.client_email):
                raise GoogleError("NOT_FOUND", "Not found", http=404)
            if what == "email":
                return self.args.client_email
            if what == "token":
                scopes = [s for s in query.get("scopes", "").split(",") if s] or [
                    "https://www.googleapis.com/auth/cloud-platform"]
                token, lifetime = self.issue_token(scopes, self.args.client_email)
                return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
        raise GoogleError("NOT_FOUND", "Not found", http=404)

    # --- Cloud KMS ----------------------------------------------------------
    def version_json(self, key, v):
        out = {"name": f"{key.name}/cryptoKeyVersions/{v.number}", "state": v.state,
               "createTime": rfc3339(v.created), "protectionLevel": v.protection,
               "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"}
        if v.state not in ("PENDING_GENERATION",):
            out["generateTime"] = rfc3339(v.created)
        if v.destroy_time is not None:
            out["destroyTime"] = rfc3339(v.destroy_time)
        if v.destroy_event_time is not None:
            out["destroyEventTime"] = rfc3339(v.destroy_event_time)
        return out

    def key_json(self, key):
        out = {"name": key.name, "purpose": "ENCRYPT_DECRYPT", "createTime": rfc3339(key.created),
               "versionTemplate": {"protectionLevel": key.protection,
                                   "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
               "destroyScheduledDuration": f"{key.destroy_scheduled}s"}
        if key.primary is not None:
            out["primary"] = self.version_json(key, key.versions[key.primary - 1])
        if key.labels:
            out["labels"] = key.labels
        return out

    def settle(self, key):
        """A scheduled destruction happens once the double's clock passes it."""
        now = self.now()
        for v in key.versions:
            if v.state == "DESTROY_SCHEDULED" and v.destroy_time <= now:
                v.state, v.destroy_event_time, v.material = "DESTROYED", v.destroy_time, b""
                self.save_state()

    def find_key(self, name):
        key = self.keys.get(name)
        if key is None:
            raise GoogleError("NOT_FOUND", f"{name} not found.")
        self.settle(key)
        return key

    def find_version(self, name):
        key_name, _, number = name.rpartition("/cryptoKeyVersions/")
        key = self.find_key(key_name)
        if not number.isdigit() or not 1 <= int(number) <= len(key.versions):
            raise GoogleError("NOT_FOUND", f"{name} not found.")
        return key, key.versions[int(number) - 1]

    def paged(self, items, query, field):
        try:
            size = int(query.get("pageSize") or 0)
            start = int(query.get("pageToken") or 0)
        except ValueError:
            raise invalid("Invalid pageSize or pageToken.")
        if size < 0 or start < 0 or start > len(items):
            raise invalid("Invalid pageSize or pageToken.")
        end = len(items) if size == 0 else min(len(items), start + size)
        out = {}
        if items[start:end]:
            out[field] = items[start:end]
        if end < len(items):
            out["nextPageToken"] = str(end)
        if items:
            out["totalSize"] = len(items)
        return out

    def kms(self, method, path, query, body):
        """path: after /v1/. Called with the lock held."""
        verb = None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, verb = path.rsplit(":", 1)
        segs = path.split("/")
        n = len(segs)
        if n < 5 or segs[0] != "projects" or segs[2] != "locations" or segs[4] != "keyRings":
            raise GoogleError("NOT_FOUND", f"The requested URL /v1/{path} was not found.")
        lists = {"pageSize", "pageToken", "filter", "orderBy"}
        if n == 5 and verb is None:
            parent = "/".join(segs[:4])
            if method == "POST":
                check_query(query, {"keyRingId"})
                return self.create_key_ring(parent, query, body)
            if method == "GET":
                check_query(query, lists)
                rings = [{"name": r, "createTime": rfc3339(t)} for r, t in sorted(self.key_rings.items())
                         if r.startswith(parent + "/keyRings/")]
                return self.paged(rings, query, "keyRings")
        if n == 6 and verb is None and method == "GET":
            check_query(query, set())
            name = "/".join(segs)
            if name not in self.key_rings:
                raise GoogleError("NOT_FOUND", f"KeyRing {name} not found.")
            return {"name": name, "createTime": rfc3339(self.key_rings[name])}
        if n >= 7 and segs[6] != "cryptoKeys":
            raise GoogleError("NOT_FOUND", f"The requested URL /v1/{path} was not found.")
        if n == 7 and verb is None:
            ring = "/".join(segs[:6])
            if ring not in self.key_rings:
                raise GoogleError("NOT_FOUND", f"KeyRing {ring} not found.")
            if method == "POST":
                check_query(query, {"cryptoKeyId", "skipInitialVersionCreation"})
                return self.create_key(ring, query, body)
            if method == "GET":
                check_query(query, lists | {"versionView"})
                keys = [self.key_json(self.find_key(k)) for k in sorted(self.keys)
                        if k.startswith(ring + "/cryptoKeys/")]
                return self.paged(keys, query, "cryptoKeys")
        if n == 8:
            check_query(query, set())
            name = "/".join(segs)
            if verb is None and method == "GET":
                return self.key_json(self.find_key(name))
            if verb == "updatePrimaryVersion" and method == "POST":
                return self.update_primary(name, body)
            if verb == "encrypt" and method == "POST":
                key = self.find_key(name)
                if key.primary is None:
                    raise GoogleError("FAILED_PRECONDITION", f"{name} has no primary version.")
                return self.encrypt(key, key.versions[key.primary - 1], body)
            if verb == "decrypt" and method == "POST":
                return self.decrypt(self.find_key(name), body)
        if n >= 9 and segs[8] != "cryptoKeyVersions":
            raise GoogleError("NOT_FOUND", f"The requested URL /v1/{path} was not found.")
        if n == 9 and verb is None:
            key = self.find_key("/".join(segs[:8]))
            if method == "POST":
                check_query(query, set())
                return self.create_version(key, body)
            if method == "GET":
                check_query(query, lists | {"view"})
                return self.paged([self.version_json(key, v) for v in key.versions], query,
                                  "cryptoKeyVersions")
        if n == 10:
            check_query(query, {"updateMask"} if method == "PATCH" and verb is None else set())
            key, v = self.find_version("/".join(segs))
            if verb is None and method == "GET":
                return self.version_json(key, v)
            if verb is None and method == "PATCH":
                return self.patch_version(key, v, query, body)
            if verb == "destroy" and method == "POST":
                return self.destroy(key, v, body)
            if verb == "restore" and method == "POST":
                return self.restore(key, v, body)
            if verb == "encrypt" and method == "POST":
                return self.encrypt(key, v, body)
        raise GoogleError("NOT_FOUND", f"The requested URL /v1/{path}"
                          f"{':' + verb if verb else ''} ({method}) was not found.")

    def create_key_ring(self, parent, query, body):
        ring_id = query.get("keyRingId", "")
        if not ID_RE.match(ring_id):
            raise invalid(f"Invalid keyRingId {ring_id!r}: must match [a-zA-Z0-9_-]{{1,63}}.")
        check_fields(body, {"name", "createTime"})
        name = f"{parent}/keyRings/{ring_id}"
        if name in self.key_rings:
            raise GoogleError("ALREADY_EXISTS", f"KeyRing {name} already exists.")
        self.key_rings[name] = self.now()
        self.save_state()
        return {"name": name, "createTime": rfc3339(self.key_rings[name])}

    def create_key(self, ring, query, body):
        key_id = query.get("cryptoKeyId", "")
        if not ID_RE.match(key_id):
            raise invalid(f"Invalid cryptoKeyId {key_id!r}: must match [a-zA-Z0-9_-]{{1,63}}.")
        check_fields(body, {"name", "purpose", "versionTemplate", "labels", "destroyScheduledDuration",
                            "rotationPeriod", "nextRotationTime", "importOnly", "createTime",
                            "primary", "cryptoKeyBackend", "keyAccessJustificationsPolicy"})
        purpose = parse_enum("purpose", body.get("purpose", 0), "crypto_key.purpose")
        if purpose == "CRYPTO_KEY_PURPOSE_UNSPECIFIED":
            raise invalid("The request must specify crypto_key.purpose.")
        if purpose != "ENCRYPT_DECRYPT":
            raise GoogleError("UNIMPLEMENTED", f"Purpose {purpose} is not implemented by the test double.")
        template = body.get("versionTemplate") or {}
        if not isinstance(template, dict):
            raise invalid("Invalid value at 'crypto_key.version_template'.")
        check_fields(template, {"protectionLevel", "algorithm"})
        protection = parse_enum("protectionLevel", template.get("protectionLevel", 0),
                                "crypto_key.version_template.protection_level")
        if protection == "PROTECTION_LEVEL_UNSPECIFIED":
            protection = "SOFTWARE"
        if protection not in ("SOFTWARE", "HSM"):
            raise GoogleError("UNIMPLEMENTED", f"Protection level {protection} is not implemented "
                              "by the test double.")
        algorithm = parse_enum("algorithm", template.get("algorithm", 0),
                               "crypto_key.version_template.algorithm")
        if algorithm not in ("CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED", "GOOGLE_SYMMETRIC_ENCRYPTION"):
            raise invalid(f"Algorithm {algorithm} is not compatible with purpose ENCRYPT_DECRYPT.")
        destroy_scheduled = DEFAULT_DESTROY_SCHEDULED
        if "destroyScheduledDuration" in body:
            m = re.fullmatch(r"(\d+)s", str(body["destroyScheduledDuration"]))
            if not m:
                raise invalid("Invalid crypto_key.destroy_scheduled_duration.")
            destroy_scheduled = int(m.group(1))
        labels = body.get("labels") or {}
        if not isinstance(labels, dict):
            raise invalid("Invalid value at 'crypto_key.labels'.")
        name = f"{ring}/cryptoKeys/{key_id}"
        if name in self.keys:
            raise GoogleError("ALREADY_EXISTS", f"CryptoKey {name} already exists.")
        key = CryptoKey(name, protection, self.now(), labels, destroy_scheduled)
        if query.get("skipInitialVersionCreation", "false").lower() != "true":
            key.versions.append(Version(1, protection, self.now()))
            key.primary = 1
        self.keys[name] = key
        self.save_state()
        return self.key_json(key)

    def create_version(self, key, body):
        check_fields(body, {"name", "state", "protectionLevel", "algorithm", "createTime"})
        state = parse_enum("state", body.get("state", 0), "crypto_key_version.state")
        if state not in ("CRYPTO_KEY_VERSION_STATE_UNSPECIFIED", "ENABLED", "DISABLED"):
            raise invalid(f"A new version's state may be ENABLED or DISABLED, not {state}.")
        v = Version(len(key.versions) + 1, key.protection, self.now())
        if state == "DISABLED":
            v.state = "DISABLED"
        key.versions.append(v)
        self.save_state()
        return self.version_json(key, v)

    def patch_version(self, key, v, query, body):
        mask = [p for p in query.get("updateMask", "").split(",") if p]
        if not mask:
            raise invalid("update_mask is required.")
        for p in mask:
            if p != "state":
                raise invalid(f"Updating field {p!r} of a CryptoKeyVersion is not supported; "
                              "only 'state' may be updated.")
        check_fields(body, {"name", "state", "protectionLevel", "algorithm", "createTime",
                            "generateTime"})
        state = parse_enum("state", body.get("state", 0), "crypto_key_version.state")
        if state not in ("ENABLED", "DISABLED"):
            raise invalid(f"The state of a CryptoKeyVersion may be updated to ENABLED or DISABLED, "
                          f"not {state}.")
        if v.state not in ("ENABLED", "DISABLED"):
            raise GoogleError("FAILED_PRECONDITION",
                              f"{key.name}/cryptoKeyVersions/{v.number} is not enabled or disabled, "
                              f"current state is: {v.state}.")
        v.state = state
        self.save_state()
        return self.version_json(key, v)

    def destroy(self, key, v, body):
        check_fields(body, {"name"})
        if v.state not in ("ENABLED", "DISABLED"):
            raise GoogleError("FAILED_PRECONDITION",
                              f"{key.name}/cryptoKeyVersions/{v.number} is not enabled or disabled, "
                              f"current state is: {v.state}.")
        v.state, v.destroy_time = "DESTROY_SCHEDULED", self.now() + key.destroy_scheduled
        self.save_state()
        return self.version_json(key, v)

    def restore(self, key, v, body):
        check_fields(body, {"name"})
        if v.state != "DESTROY_SCHEDULED":
            raise GoogleError("FAILED_PRECONDITION",
                              f"{key.name}/cryptoKeyVersions/{v.number} is not scheduled for "
                              f"destruction, current state is: {v.state}.")
        v.state, v.destroy_time = "DISABLED", None
        self.save_state()
        return self.version_json(key, v)

    def update_primary(self, name, body):
        key = self.find_key(name)
        check_fields(body, {"name", "cryptoKeyVersionId"})
        number = str(body.get("cryptoKeyVersionId", ""))
        if not number:
            raise invalid("crypto_key_version_id is required.")
        if not number.isdigit() or not 1 <= int(number) <= len(key.versions):
            raise GoogleError("NOT_FOUND", f"{name}/cryptoKeyVersions/{number} not found.")
        v = key.versions[int(number) - 1]
        if v.state != "ENABLED":
            raise GoogleError("FAILED_PRECONDITION",
                              f"{name}/cryptoKeyVersions/{number} is not enabled, "
                              f"current state is: {v.state}.")
        key.primary = v.number
        self.save_state()
        return self.key_json(key)

    @staticmethod
    def check_crc(data, expected, field, checksum_field):
        if expected is None:
            return False
        if expected != crc32c(data):
            raise invalid(f"The checksum in field {checksum_field} did not match the data in field "
                          f"{field}.")
        return True

    @staticmethod
    def usable(key, v):
        if v.state != "ENABLED":
            raise GoogleError("FAILED_PRECONDITION",
                              f"{key.name}/cryptoKeyVersions/{v.number} is not enabled, current "
                              f"state is: {v.state}.")

    def header(self, key, v):
        return CIPHERTEXT_MAGIC + key.uid + v.number.to_bytes(4, "big")

    def encrypt(self, key, v, body):
        check_fields(body, {"name", "plaintext", "additionalAuthenticatedData", "plaintextCrc32c",
                            "additionalAuthenticatedDataCrc32c"})
        plaintext = parse_bytes(body, "plaintext", required=True)
        aad = parse_bytes(body, "additionalAuthenticatedData")
        pt_checked = self.check_crc(plaintext, parse_int64(body, "plaintextCrc32c"),
                                    "plaintext", "plaintext_crc32c")
        aad_checked = self.check_crc(aad, parse_int64(body, "additionalAuthenticatedDataCrc32c"),
                                     "additional_authenticated_data",
                                     "additional_authenticated_data_crc32c")
        if v.protection == "HSM":
            if len(plaintext) + len(aad) > HSM_LIMIT:
                raise invalid("The combined length of the plaintext and additional_authenticated_data "
                              f"fields must be no larger than {HSM_LIMIT} bytes for HSM keys.")
        else:
            if len(plaintext) > SOFTWARE_LIMIT:
                raise invalid(f"The plaintext must be no larger than {SOFTWARE_LIMIT} bytes.")
            if len(aad) > SOFTWARE_LIMIT:
                raise invalid(f"The additional_authenticated_data must be no larger than "
                              f"{SOFTWARE_LIMIT} bytes.")
        self.usable(key, v)
        header = self.header(key, v)
        nonce = secrets.token_bytes(12)
        ciphertext = header + nonce + AESGCM(v.material).encrypt(nonce, plaintext, header + aad)
        out = {"name": f"{key.name}/cryptoKeyVersions/{v.number}",
               "ciphertext": base64.b64encode(ciphertext).decode(),
               "ciphertextCrc32c": str(crc32c(ciphertext)),
               "verifiedPlaintextCrc32c": pt_checked,
               "verifiedAdditionalAuthenticatedDataCrc32c": aad_checked,
               "protectionLevel": v.protection}
        if self.args.deviate == "wrong-crc32c":
            out["ciphertextCrc32c"] = str((crc32c(ciphertext) + 1) % 2**32)
        if self.corrupt("name") and len(key.versions) > 1:
            out["name"] = f"{key.name}/cryptoKeyVersions/{v.number % len(key.versions) + 1}"
        return self.finish(out, ciphertext, "ciphertext")

    def decrypt(self, key, body):
        check_fields(body, {"name", "ciphertext", "additionalAuthenticatedData", "ciphertextCrc32c",
                            "additionalAuthenticatedDataCrc32c"})
        ciphertext = parse_bytes(body, "ciphertext", required=True)
        aad = parse_bytes(body, "additionalAuthenticatedData")
        self.check_crc(ciphertext, parse_int64(body, "ciphertextCrc32c"),
                       "ciphertext", "ciphertext_crc32c")
        self.check_crc(aad, parse_int64(body, "additionalAuthenticatedDataCrc32c"),
                       "additional_authenticated_data", "additional_authenticated_data_crc32c")
        if len(aad) > SOFTWARE_LIMIT:
            raise invalid(f"The additional_authenticated_data must be no larger than "
                          f"{SOFTWARE_LIMIT} bytes.")
        failed = invalid("Decryption failed: verify that 'name' refers to the correct CryptoKey.")
        hlen = len(CIPHERTEXT_MAGIC) + 16 + 4
        header = ciphertext[:hlen]
        if len(ciphertext) < hlen + 12 + 16 or header[:len(CIPHERTEXT_MAGIC)] != CIPHERTEXT_MAGIC \
                or header[len(CIPHERTEXT_MAGIC):-4] != key.uid:
            raise failed
        number = int.from_bytes(header[-4:], "big")
        if not 1 <= number <= len(key.versions):
            raise failed
        v = key.versions[number - 1]
        self.usable(key, v)
        try:
            plaintext = AESGCM(v.material).decrypt(ciphertext[hlen:hlen + 12], ciphertext[hlen + 12:],
                                                   header + aad)
        except InvalidTag:
            raise failed
        out = {"plaintext": base64.b64encode(plaintext).decode(),
               "plaintextCrc32c": str(crc32c(plaintext)),
               "usedPrimary": key.primary == v.number, "protectionLevel": v.protection}
        return self.finish(out, plaintext, "plaintext")

    def corrupt(self, what):
        for c in self.corruptions:
            if c[0] == what and c[1] > 0:
                c[1] -= 1
                return True
        return False

    def finish(self, out, data, data_field):
        """Applies the deviations and the requested lies, then drops defaults (proto3 JSON)."""
        crc_field = data_field + "Crc32c"
        if self.corrupt(crc_field):
            out[crc_field] = str((int(out[crc_field]) + 1) % 2**32)
        for flag in ("verifiedPlaintextCrc32c", "verifiedAdditionalAuthenticatedDataCrc32c"):
            if flag in out and out[flag] and self.corrupt(flag):
                out[flag] = False
        if self.corrupt(data_field):
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x01
            out[data_field] = base64.b64encode(bytes(flipped)).decode()
        if self.args.deviate == "crc32c-as-number":
            out[crc_field] = int(out[crc_field])
        return {k: v for k, v in out.items() if v not in (False, None, "")}


class TlsServer(ThreadingHTTPServer):
    """The TLS handshake runs in the connection's own thread, so that a client
    that never completes it cannot stop the double from accepting others."""
    daemon_threads = True
    request_queue_size = 128  # many concurrent connects from a provider test

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

    def send(self, status, body, headers=None, content_type="application/json; charset=UTF-8"):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        else:
            data = (body or "").encode()
            content_type = "application/text"
        # Logged before the answer leaves: a client that reads the log right
        # after its answer always finds that request in it.
        with self.double.lock:
            self.double.log.append({"method": self.command, "path": self.path.split("?")[0],
                                    "status": status})
        self.send_response(status)
        self.send_header("Content-Type", content_type)
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
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise invalid("Invalid JSON payload received.")
        if body is None or body == "":
            # The empty message: Google's Node client sends "" for an empty
            # body field (createKeyRing with keyRing: {}), which Google accepts.
            return {}
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received. The request body must be a JSON object.")
        return body

    def form_body(self):
        raw = self.read_body().decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                raise OAuthError(400, "invalid_request", "Invalid JSON payload received.")
            return body if isinstance(body, dict) else {}
        return dict(urllib.parse.parse_qsl(raw))

    def handle_any(self):
        d = self.double
        self.raw_body = None
        self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        path = urllib.parse.unquote(url.path)
        numeric = query.get("$alt", "").replace(" ", "") == "json;enum-encoding=int"
        metadata = path.startswith("/computeMetadata/")
        try:
            if path.startswith("/double/"):
                return self.control(path)
            with d.lock:
                for failure in d.failures:
                    if path.startswith(failure[0]) and failure[1] > 0:
                        failure[1] -= 1
                        status = failure[2]
                        raise GoogleError(STATUS_OF_HTTP.get(status, "UNKNOWN"),
                                          f"Injected by the test double (status {status}).",
                                          http=status)
            if metadata and self.command == "GET":
                answer = d.metadata(path[len("/computeMetadata/v1/"):].rstrip("/"), query, self.headers)
                return self.send(200, answer, {"Metadata-Flavor": "Google"})
            if path == "/token" and self.command == "POST":
                return self.send(200, d.oauth_token(self.form_body()), {"Cache-Control": "no-store"})
            if path == "/v1/token" and self.command == "POST":
                return self.send(200, d.sts_token(self.form_body()), {"Cache-Control": "no-store"})
            m = re.fullmatch(r"/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken", path)
            if m and self.command == "POST":
                d.check_bearer(self.headers.get("Authorization"))
                return self.send(200, d.generate_access_token(m.group(1), self.json_body()))
            if path.startswith("/v1/projects/"):
                d.check_bearer(self.headers.get("Authorization"))
                body = self.json_body() if self.command in ("POST", "PATCH") else {}
                with d.lock:
                    answer = d.kms(self.command, path[len("/v1/"):], query, body)
                return self.send(200, enums_to_numbers(answer) if numeric else answer)
            raise GoogleError("NOT_FOUND", f"The requested URL {path} was not found on this server.")
        except GoogleError as e:
            headers = dict(e.headers)
            if metadata:
                headers["Metadata-Flavor"] = "Google"
            self.send(e.http, e.body(), headers)
        except OAuthError as e:
            self.send(e.http, e.body())
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            # A body of the wrong shape: a documented 400, never a dropped connection.
            self.send(400, invalid(f"Invalid JSON payload received: {e!r}").body())

    def control(self, path):
        d = self.double
        if path == "/double/requests" and self.command == "GET":
            with d.lock:
                requests = list(d.log)
            return self.send(200, {"requests": requests})
        body = self.json_body()
        if path == "/double/clock" and self.command == "POST":
            with d.lock:
                d.clock_offset += float(body.get("advance_seconds", 0))
            return self.send(200, {"now": d.now()})
        if path == "/double/fail" and self.command == "POST":
            with d.lock:
                d.failures.append([body["path"], int(body.get("count", 1)),
                                   int(body.get("status", 503))])
            return self.send(200, {})
        if path == "/double/corrupt" and self.command == "POST":
            what = body.get("what")
            if what not in ("ciphertextCrc32c", "plaintextCrc32c", "verifiedPlaintextCrc32c",
                            "verifiedAdditionalAuthenticatedDataCrc32c", "ciphertext", "plaintext",
                            "name"):
                raise invalid(f"Unknown corruption {what!r}.")
            with d.lock:
                d.corruptions.append([what, int(body.get("count", 1))])
            return self.send(200, {})
        if path == "/double/subject-token" and self.command == "POST":
            d.write_subject_token(body)
            return self.send(200, {})
        raise GoogleError("NOT_FOUND", f"No such control: {path}")

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--tls-cert", required=True)
    p.add_argument("--tls-key", required=True)
    p.add_argument("--state-dir")
    p.add_argument("--token-lifetime", type=int, default=3600)
    p.add_argument("--project", default="trousseau-test")
    p.add_argument("--project-number", default="123456789012")
    p.add_argument("--client-email", help="default trousseau@{project}.iam.gserviceaccount.com")
    p.add_argument("--wif-audience", help="the workload identity provider; default "
                   "//iam.googleapis.com/projects/{number}/locations/global/"
                   "workloadIdentityPools/trousseau/providers/kubernetes")
    p.add_argument("--oidc-issuer", default="https://oidc.trousseau.test/cluster")
    p.add_argument("--oidc-subject", default="system:serviceaccount:kube-system:trousseau")
    p.add_argument("--oidc-audience", help="the subject token's audience; default "
                   "https:{wif-audience}")
    p.add_argument("--deviate", choices=["crc32c-as-number", "wrong-crc32c"])
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="also stop when stdin closes, so the double dies with the test that started it")
    args = p.parse_args()
    args.client_email = args.client_email or f"trousseau@{args.project}.iam.gserviceaccount.com"
    args.wif_audience = args.wif_audience or (
        f"//iam.googleapis.com/projects/{args.project_number}/locations/global/"
        "workloadIdentityPools/trousseau/providers/kubernetes")
    args.oidc_audience = args.oidc_audience or "https:" + args.wif_audience

    double = Double(args)
    Handler.double = double
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    server = TlsServer(("127.0.0.1", args.port), Handler, context)
    double.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    double.write_credentials()

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
