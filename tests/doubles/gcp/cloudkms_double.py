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
with --exit-on-stdin-eof). Everything is on that one origin. Its parts sit
beside this file: cloudkms_wire.py (errors, proto3 JSON, CRC32C),
cloudkms_keys.py (Cloud KMS) and google_identity.py (the token endpoints).

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
    checksum still that of the true bytes), plaintextAndCrc32c (one bit of
    the plaintext flipped and its checksum computed over the flipped bytes:
    a consistent lie, as a lying KMS would tell it), or name (encrypt answers
    with another version's name, or the key's own name when it has one
    version). A count of 0 ends every pending lie of that kind.
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
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError:
    sys.exit("cloudkms_double.py: python3-cryptography is missing; "
             "run scripts/install-deps --test")

# The double's parts, beside this file: the wire format, Cloud KMS, tokens.
# No __pycache__ in the source tree from test runs.
sys.dont_write_bytecode = True
from cloudkms_keys import CryptoKey, KeyManagement
from cloudkms_wire import (STATUS_OF_HTTP, GoogleError, OAuthError, b64u, enums_to_numbers,
                           invalid)
from google_identity import Identity


def atomic_write(path, data, mode=0o600):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)



class Double(Identity, KeyManagement):
    """The double's state: its clock, keys, tokens, test controls and files."""
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
                            "plaintextAndCrc32c", "name"):
                raise invalid(f"Unknown corruption {what!r}.")
            count = int(body.get("count", 1))
            with d.lock:
                if count == 0:
                    d.corruptions = [c for c in d.corruptions if c[0] != what]
                else:
                    d.corruptions.append([what, count])
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
