#!/usr/bin/env python3
"""Checks the Vault test double (vault_double.py) against hvac, Vault's own
Python client: the double must answer what hvac expects of a real Vault,
not what we read in the docs.

  python3 hvac_check.py              every check, over HTTP and over TLS
  python3 hvac_check.py --self-test  starts the double with each deliberate
                                     deviation (--deviate) and passes only if
                                     the checks then fail, at the check that
                                     names the deviation

Exit 0 when everything holds, 1 with a message naming the first mismatch.
hvac missing fails (never skips): run scripts/install-deps --test.
"""

import base64
import contextlib
import ctypes
import hashlib
import hmac
import importlib.metadata
import json
import os
import select
import subprocess
import sys
import tempfile

try:
    import hvac
    import hvac.exceptions as hx
    import requests
except ImportError as e:
    sys.exit(f"hvac_check: FAIL: cannot import hvac ({e}); "
             "install python3-hvac with scripts/install-deps --test")

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "vault_double.py")
ROOT = "root-token-of-the-double"
JWT_KEY = "hs256-secret-of-the-check"


class Mismatch(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


@contextlib.contextmanager
def raises(exc_type, what, contains=None):
    try:
        yield
    except exc_type as e:
        # hvac takes the message from Vault's {"errors": [...]} body; a 404
        # for a missing key is {"errors": []} in Vault too.
        # hvac reads it only from an "application/json" answer. (hvac hands
        # an UnexpectedError the list as its message instead.)
        errors = getattr(e, "errors", [])
        if isinstance(e, hx.VaultError) and not isinstance(e, hx.UnexpectedError) and not (
                isinstance(errors, list) and (errors or isinstance(e, hx.InvalidPath))):
            raise Mismatch(f"{what}: the error body has no Vault-shaped errors list: {errors!r}")
        if contains and contains not in str(e):
            raise Mismatch(f"{what}: {exc_type.__name__} raised, but without "
                           f"{contains!r} in its message: {e}")
        return
    except Exception as e:
        raise Mismatch(f"{what}: expected {exc_type.__name__}, got {type(e).__name__}: {e}")
    raise Mismatch(f"{what}: expected {exc_type.__name__}, nothing raised")


def b64(s):
    return base64.b64encode(s.encode()).decode()


# --- starting the double: wait on its ready file (inotify), never sleep ----

_libc = ctypes.CDLL(None, use_errno=True)
IN_MOVED_TO, IN_CLOSE_WRITE = 0x80, 0x08


def wait_for_file(path, proc):
    """Blocks until `path` exists or `proc` exits; no polling interval."""
    fd = _libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    try:
        if _libc.inotify_add_watch(fd, os.path.dirname(path).encode(),
                                   IN_MOVED_TO | IN_CLOSE_WRITE) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")
        pidfd = os.pidfd_open(proc.pid)
        try:
            while not os.path.exists(path):
                ready, _, _ = select.select([fd, pidfd], [], [])
                if pidfd in ready and not os.path.exists(path):
                    raise Mismatch(f"the double exited with {proc.wait()} before it was ready: "
                                   f"{proc.stderr.read().decode(errors='replace')}")
                if fd in ready:
                    os.read(fd, 4096)
        finally:
            os.close(pidfd)
    finally:
        os.close(fd)
    with open(path) as f:
        return f.read().strip()


@contextlib.contextmanager
def running_double(tmp, *extra):
    ready = os.path.join(tmp, "ready-%d" % len(os.listdir(tmp)))
    proc = subprocess.Popen([sys.executable, DOUBLE, "--port", "0", "--ready-file", ready,
                             "--clock", "manual",
                             "--root-token", ROOT, "--jwt-hmac-key", JWT_KEY, *extra],
                            stderr=subprocess.PIPE)
    try:
        yield wait_for_file(ready, proc)
    finally:
        proc.terminate()
        code = proc.wait()
        if code != 0:
            raise Mismatch(f"the double exited with {code} on SIGTERM")


# --- helpers over hvac -----------------------------------------------------

def client(url, token=ROOT, **kw):
    # No request timeout: hvac's default (30 s) would be a wall-clock bound;
    # meson's test timeout turns a hang into a failure.
    return hvac.Client(url=url, token=token, timeout=None, **kw)


def double_post(c, path, body):
    """The double's own test-only endpoints, through hvac's adapter."""
    return c.adapter.post(f"/v1/sys/double/{path}", json=body)


def hs256(claims):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    head = enc({"alg": "HS256", "typ": "JWT"})
    body = enc(claims)
    sig = hmac.new(JWT_KEY.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


# --- the checks: each asserts on what hvac returns --------------------------

def check_health(url):
    h = client(url, token=None).sys.read_health_status(method="GET")
    expect(isinstance(h, dict), f"health: hvac returned {type(h).__name__}, not the JSON body")
    expect(h.get("initialized") is True and h.get("sealed") is False and h.get("standby") is False,
           f"health: {h}")
    head = client(url, token=None).sys.read_health_status()  # hvac's default: HEAD
    expect(getattr(head, "status_code", None) == 200, f"HEAD sys/health: {head}")
    expect(client(url).sys.is_initialized() and not client(url).sys.is_sealed(),
           "health: hvac's is_initialized/is_sealed")


def check_forbidden_without_token(url):
    anon = client(url, token=None)
    expect(not anon.is_authenticated(), "no token: hvac's is_authenticated() is True")
    with raises(hx.Forbidden, "encrypt without a token"):
        anon.secrets.transit.encrypt_data("k", b64("x"))
    with raises(hx.Forbidden, "encrypt with an unknown token"):
        client(url, token="hvs.not-a-token").secrets.transit.encrypt_data("k", b64("x"))
    bearer = client(url, token=None)
    bearer.session.headers["Authorization"] = "Bearer " + ROOT
    expect(bearer.secrets.transit.encrypt_data("bearer", b64("x"))["data"]["ciphertext"]
           .startswith("vault:v1:"), "Authorization: Bearer is not accepted as a token")


def check_transit_round_trip_and_rotation(url):
    t = client(url).secrets.transit
    t.create_key("k", key_type="aes256-gcm96")
    enc = t.encrypt_data("k", b64("secret one"))
    ct1 = enc["data"]["ciphertext"]
    expect(ct1.startswith("vault:v1:"), f"first ciphertext {ct1!r} is not vault:v1:")
    expect(enc["data"].get("key_version") == 1, f"encrypt key_version {enc['data']}")
    dec = t.decrypt_data("k", ct1)
    expect(base64.b64decode(dec["data"]["plaintext"]) == b"secret one", "round trip")
    key = t.read_key("k")["data"]
    expect(key["latest_version"] == 1 and key["min_decryption_version"] == 1
           and key["type"] == "aes256-gcm96" and key["derived"] is False
           and list(key["keys"]) == ["1"] and key["supports_encryption"] is True,
           f"read_key: {key}")
    t.rotate_key("k")
    key = t.read_key("k")["data"]
    expect(key["latest_version"] == 2 and sorted(key["keys"]) == ["1", "2"],
           f"after rotate: {key}")
    expect(base64.b64decode(t.decrypt_data("k", ct1)["data"]["plaintext"]) == b"secret one",
           "a v1 ciphertext no longer decrypts after rotation")
    ct2 = t.encrypt_data("k", b64("secret two"))["data"]["ciphertext"]
    expect(ct2.startswith("vault:v2:"), f"after rotate, ciphertext {ct2!r} is not vault:v2:")
    old = t.encrypt_data("k", b64("pinned"), key_version=1)["data"]
    expect(old["ciphertext"].startswith("vault:v1:") and old["key_version"] == 1,
           f"encrypt with key_version=1: {old}")
    t.update_key_configuration("k", min_decryption_version=2)
    expect(t.read_key("k")["data"]["min_decryption_version"] == 2, "min_decryption_version not 2")
    with raises(hx.InvalidRequest, "decrypt v1 below min_decryption_version", "disallowed by policy"):
        t.decrypt_data("k", ct1)
    expect(base64.b64decode(t.decrypt_data("k", ct2)["data"]["plaintext"]) == b"secret two",
           "v2 refused after min_decryption_version=2")
    with raises(hx.InvalidRequest, "min_decryption_version above the latest version"):
        t.update_key_configuration("k", min_decryption_version=3)
    with raises(hx.InvalidRequest, "decrypt with an unknown key version"):
        t.decrypt_data("k", "vault:v9:" + ct2.split(":", 2)[2])
    with raises(hx.InvalidPath, "read a key that does not exist"):
        t.read_key("no-such-key")
    with raises(hx.InvalidRequest, "decrypt with a key that does not exist"):
        t.decrypt_data("no-such-key", ct2)


def check_tampering_refused(url):
    t = client(url).secrets.transit
    ct = t.encrypt_data("tamper", b64("do not touch"))["data"]["ciphertext"]
    prefix, body = ct.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    for i in (0, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[i] ^= 1
        with raises(hx.InvalidRequest, f"decrypt with byte {i} flipped"):
            t.decrypt_data("tamper", prefix + ":" + base64.b64encode(flipped).decode())
    with raises(hx.InvalidRequest, "decrypt without the vault: prefix"):
        t.decrypt_data("tamper", body)
    with raises(hx.InvalidRequest, "decrypt of a truncated ciphertext"):
        t.decrypt_data("tamper", prefix + ":" + base64.b64encode(raw[:-1]).decode())


def check_derived_key_context(url):
    t = client(url).secrets.transit
    t.create_key("derived", derived=True)
    expect(t.read_key("derived")["data"]["derived"] is True, "read_key: derived is not true")
    ct = t.encrypt_data("derived", b64("per tenant"), context=b64("tenant-a"))["data"]["ciphertext"]
    got = t.decrypt_data("derived", ct, context=b64("tenant-a"))["data"]["plaintext"]
    expect(base64.b64decode(got) == b"per tenant", "derived round trip")
    with raises(hx.InvalidRequest, "decrypt with the wrong context"):
        t.decrypt_data("derived", ct, context=b64("tenant-b"))
    with raises(hx.InvalidRequest, "decrypt without context", "missing 'context'"):
        t.decrypt_data("derived", ct)
    with raises(hx.InvalidRequest, "encrypt without context", "missing 'context'"):
        t.encrypt_data("derived", b64("x"))


def check_associated_data(url):
    # hvac 0.11.2 predates associated_data (Vault 1.9+); sent through hvac's
    # adapter, so hvac still maps the answers and errors.
    a = client(url).adapter
    a.post("/v1/transit/keys/aad", json={"type": "aes256-gcm96"})
    ct = a.post("/v1/transit/encrypt/aad", json={"plaintext": b64("bound"),
                                                   "associated_data": b64("object-a")})["data"]["ciphertext"]
    got = a.post("/v1/transit/decrypt/aad", json={"ciphertext": ct, "associated_data": b64("object-a")})
    expect(base64.b64decode(got["data"]["plaintext"]) == b"bound", "round trip with associated_data")
    with raises(hx.InvalidRequest, "decrypt with other associated_data", "message authentication failed"):
        a.post("/v1/transit/decrypt/aad", json={"ciphertext": ct, "associated_data": b64("object-b")})
    with raises(hx.InvalidRequest, "decrypt without the associated_data"):
        a.post("/v1/transit/decrypt/aad", json={"ciphertext": ct})


def check_status_codes(url):
    root = client(url)
    with raises(hx.InvalidPath, "an unknown route"):
        root.adapter.get("/v1/no-such-mount/thing")
    with raises(hx.UnexpectedError, "GET on transit/encrypt (405)", "unsupported operation"):
        root.adapter.get("/v1/transit/encrypt/k")
    with raises(hx.InvalidRequest, "encrypt with a plaintext that is not base64"):
        root.secrets.transit.encrypt_data("k", "%%% not base64")
    with raises(hx.InvalidRequest, "a body that is not JSON"):
        root.adapter.request("post", "/v1/transit/encrypt/k", data="{not json")


def check_approle(url):
    root = client(url)
    root.sys.enable_auth_method("approle")
    with raises(hx.InvalidRequest, "enabling approle twice", "path is already in use"):
        root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("kms", token_policies=["transit-kms"],
                                               token_ttl="1h", token_max_ttl="2h")
    role_id = root.auth.approle.read_role_id("kms")["data"]["role_id"]
    secret = root.auth.approle.generate_secret_id("kms")["data"]
    expect(secret.get("secret_id") and secret.get("secret_id_accessor"), f"secret-id: {secret}")
    app = client(url, token=None)
    login = app.auth.approle.login(role_id=role_id, secret_id=secret["secret_id"])
    auth = login["auth"]
    expect(auth["client_token"] and auth["accessor"] and auth["renewable"] is True
           and auth["lease_duration"] == 3600 and "transit-kms" in auth["policies"],
           f"approle login auth block: {auth}")
    expect(app.token == auth["client_token"] and app.is_authenticated(),
           "hvac did not take the approle token")
    ct = app.secrets.transit.encrypt_data("approle", b64("via approle"))["data"]["ciphertext"]
    expect(base64.b64decode(app.secrets.transit.decrypt_data("approle", ct)["data"]["plaintext"])
           == b"via approle", "round trip with the approle token")
    me = app.auth.token.lookup_self()["data"]
    expect(me["path"] == "auth/approle/login" and "transit-kms" in me["policies"]
           and me["ttl"] == 3600, f"lookup_self of the approle token: {me}")
    with raises(hx.Forbidden, "a non-root token enabling an auth method"):
        app.sys.enable_auth_method("kubernetes")
    with raises(hx.InvalidRequest, "approle login with a wrong secret_id"):
        client(url, token=None).auth.approle.login(role_id=role_id, secret_id="wrong")


def check_token_ttl_renew_expiry(url):
    root = client(url)
    created = root.auth.token.create(policies=["transit-kms"], ttl="60s", explicit_max_ttl="120s")
    auth = created["auth"]
    expect(auth["lease_duration"] == 60 and auth["renewable"] is True, f"token create: {auth}")
    tok = client(url, token=auth["client_token"])
    me = tok.auth.token.lookup_self()["data"]
    expect(me["id"] == auth["client_token"] and me["creation_ttl"] == 60
           and me["ttl"] == 60 and me["explicit_max_ttl"] == 120
           and me["expire_time"] and me["renewable"] is True, f"lookup_self: {me}")
    double_post(root, "clock", {"advance_seconds": 50})
    renewed = tok.auth.token.renew_self(increment="100s")
    expect(renewed["auth"]["lease_duration"] == 70 and renewed.get("warnings"),
           f"renew past explicit_max_ttl is capped with a warning: {renewed}")
    double_post(root, "clock", {"advance_seconds": 69})
    expect(tok.auth.token.lookup_self()["data"]["ttl"] == 1, "one second before its max TTL")
    double_post(root, "clock", {"advance_seconds": 1})
    with raises(hx.Forbidden, "a token at its max TTL"):
        tok.auth.token.lookup_self()
    short = client(url, token=root.auth.token.create(ttl="30s")["auth"]["client_token"])
    expect(short.auth.token.renew_self(increment="600s")["auth"]["lease_duration"] == 600,
           "renew_self(600s) within max TTL")
    short.auth.token.revoke_self()
    with raises(hx.Forbidden, "a revoked token"):
        short.auth.token.lookup_self()
    with raises(hx.InvalidRequest, "renewing the root token", "not renewable"):
        root.auth.token.renew_self()


def check_namespaces(url):
    root = client(url)
    root.sys.create_namespace("team-a")
    ns = client(url, namespace="team-a")
    ns.sys.enable_secrets_engine("transit")
    ns.secrets.transit.create_key("k-ns")
    ct = ns.secrets.transit.encrypt_data("k-ns", b64("in team-a"))["data"]["ciphertext"]
    with raises(hx.InvalidRequest, "a namespace's key from the root namespace",
                "encryption key not found"):
        root.secrets.transit.decrypt_data("k-ns", ct)
    via_path = root.secrets.transit.decrypt_data("k-ns", ct, mount_point="team-a/transit")
    expect(base64.b64decode(via_path["data"]["plaintext"]) == b"in team-a",
           "path-prefix namespace form (team-a/transit)")
    ns_token = ns.auth.token.create(policies=["transit-kms"], ttl="1h")["auth"]["client_token"]
    expect(client(url, token=ns_token, namespace="team-a").auth.token.lookup_self()["data"]["id"]
           == ns_token, "a namespace token in its namespace")
    with raises(hx.Forbidden, "a team-a token in the root namespace"):
        client(url, token=ns_token).secrets.transit.encrypt_data("k", b64("x"))
    root.sys.create_namespace("team-b")
    with raises(hx.Forbidden, "a team-a token in team-b"):
        client(url, token=ns_token, namespace="team-b").auth.token.lookup_self()


def check_injected_failures(url):
    root = client(url)
    t = root.secrets.transit
    t.create_key("flaky")
    for status, exc in ((429, hx.RateLimitExceeded), (503, hx.VaultDown),
                        (500, hx.InternalServerError)):
        double_post(root, "fail", {"path": "transit/encrypt/flaky", "status": status, "count": 1})
        with raises(exc, f"injected {status}"):
            t.encrypt_data("flaky", b64("x"))
        expect(t.encrypt_data("flaky", b64("x"))["data"]["ciphertext"].startswith("vault:v1:"),
               f"the request after an injected {status} (count 1) did not succeed")


def check_kubernetes_and_jwt_logins(url):
    root = client(url)
    root.sys.enable_auth_method("kubernetes")
    root.auth.kubernetes.configure(kubernetes_host="https://127.0.0.1:6443")
    root.auth.kubernetes.create_role("kms", bound_service_account_names=["trousseau"],
                                     bound_service_account_namespaces=["kube-system"],
                                     policies=["transit-kms"], ttl="15m")
    sa = {"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:kube-system:trousseau",
          "kubernetes.io/serviceaccount/namespace": "kube-system",
          "kubernetes.io/serviceaccount/service-account.name": "trousseau"}
    k8s = client(url, token=None)
    auth = k8s.auth.kubernetes.login("kms", hs256(sa))["auth"]
    expect(auth["lease_duration"] == 900 and "transit-kms" in auth["policies"]
           and k8s.is_authenticated(), f"kubernetes login: {auth}")
    with raises(hx.Forbidden, "kubernetes login for another service account"):
        client(url, token=None).auth.kubernetes.login(
            "kms", hs256({**sa, "kubernetes.io/serviceaccount/service-account.name": "other"}))
    forged = hs256(sa)[:-4] + "AAAA"
    with raises(hx.InvalidRequest, "kubernetes login with a forged signature"):
        client(url, token=None).auth.kubernetes.login("kms", forged)

    root.sys.enable_auth_method("jwt")
    root.auth.jwt.create_role("kms", user_claim="sub", allowed_redirect_uris=[],
                              bound_audiences=["vault"], token_policies=["transit-kms"],
                              token_ttl="10m")
    now = int(root.adapter.get("/v1/sys/double/clock")["data"]["now"])
    claims = {"sub": "trousseau", "aud": "vault", "exp": now + 300, "iat": now}
    jwt = client(url, token=None)
    auth = jwt.auth.jwt.jwt_login("kms", hs256(claims))["auth"]
    expect(auth["lease_duration"] == 600 and jwt.is_authenticated(), f"jwt login: {auth}")
    with raises(hx.InvalidRequest, "jwt login without an audience", "aud"):
        client(url, token=None).auth.jwt.jwt_login(
            "kms", hs256({k: v for k, v in claims.items() if k != "aud"}))
    with raises(hx.InvalidRequest, "jwt login with the wrong audience"):
        client(url, token=None).auth.jwt.jwt_login("kms", hs256({**claims, "aud": "other"}))
    double_post(root, "clock", {"advance_seconds": 301})
    with raises(hx.InvalidRequest, "jwt login with an expired token", "expired"):
        client(url, token=None).auth.jwt.jwt_login("kms", hs256(claims))


def check_tls(tmp):
    pki = os.path.join(tmp, "pki")
    os.mkdir(pki)
    p = lambda n: os.path.join(pki, n)

    def openssl(*args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True)
        if r.returncode:
            raise Mismatch(f"openssl {' '.join(args[:2])} failed: {r.stderr}")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                f"/CN=test {ca}", "-keyout", p(ca + ".key"), "-out", p(ca + ".pem"))
    for name, ca, ext in (("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                          ("client", "ca", "extendedKeyUsage=clientAuth"),
                          ("stranger", "other-ca", "extendedKeyUsage=clientAuth")):
        with open(p(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"))
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".pem"), "-CAkey", p(ca + ".key"),
                "-CAcreateserial", "-days", "2", "-extfile", p(name + ".ext"), "-out", p(name + ".pem"))
    with running_double(tmp, "--tls-cert", p("server.pem"), "--tls-key", p("server.key"),
                        "--client-ca", p("ca.pem")) as url:
        expect(url.startswith("https://"), f"ready file says {url}")
        root = client(url, verify=p("ca.pem"))
        health = root.sys.read_health_status(method="GET")
        expect(health["sealed"] is False, "health over TLS")
        ct = root.secrets.transit.encrypt_data("tls", b64("over tls"))["data"]["ciphertext"]
        expect(base64.b64decode(root.secrets.transit.decrypt_data("tls", ct)["data"]["plaintext"])
               == b"over tls", "round trip over TLS")
        with raises(requests.exceptions.SSLError, "a client trusting another CA"):
            client(url, verify=p("other-ca.pem")).sys.read_health_status(method="GET")
        root.sys.enable_auth_method("cert")
        # A path: hvac 0.11.2 open()s the argument first, and PEM text whose
        # base64 holds a 256-character run between slashes raises ENAMETOOLONG.
        root.auth.cert.create_ca_certificate_role("kms", certificate=p("ca.pem"),
                                                  token_policies=["transit-kms"],
                                                  token_ttl="20m")
        cert = client(url, token=None, verify=p("ca.pem"),
                      cert=(p("client.pem"), p("client.key")))
        auth = cert.auth.cert.login(name="kms",
                                    cert_pem=p("client.pem"), key_pem=p("client.key"))["auth"]
        expect(auth["lease_duration"] == 1200 and "transit-kms" in auth["policies"],
               f"cert login: {auth}")
        expect(client(url, token=auth["client_token"], verify=p("ca.pem"))
               .auth.token.lookup_self()["data"]["path"] == "auth/cert/login",
               "the cert login's token")
        with raises(requests.exceptions.SSLError,
                    "a client certificate from a CA the listener does not trust"):
            client(url, token=None, verify=p("ca.pem"),
                   cert=(p("stranger.pem"), p("stranger.key"))).auth.cert.login(name="kms")
        with raises(hx.InvalidRequest, "cert login without a client certificate"):
            client(url, token=None, verify=p("ca.pem")).adapter.post(
                "/v1/auth/cert/login", json={"name": "kms"})


HTTP_CHECKS = [check_health, check_forbidden_without_token, check_transit_round_trip_and_rotation,
               check_tampering_refused, check_derived_key_context, check_associated_data,
               check_status_codes, check_approle,
               check_token_ttl_renew_expiry, check_namespaces, check_injected_failures,
               check_kubernetes_and_jwt_logins]


def run_all(tmp, *double_args):
    """Returns None when every check holds, else 'check: message'."""
    with running_double(tmp, *double_args) as url:
        for check in HTTP_CHECKS:
            try:
                check(url)
            except Exception as e:
                return f"{check.__name__}: {type(e).__name__}: {e}"
    if not double_args:
        try:
            check_tls(tmp)
        except Exception as e:
            return f"check_tls: {type(e).__name__}: {e}"
    return None


# A deviation, and the check that must notice it.
DEVIATIONS = [("encrypt-shape", "check_forbidden_without_token"),
              ("forbidden-as-400", "check_forbidden_without_token"),
              ("error-shape", "check_forbidden_without_token"),
              ("min-decryption-ignored", "check_transit_round_trip_and_rotation")]


def main():
    with tempfile.TemporaryDirectory(prefix="vault-double-") as tmp:
        if sys.argv[1:] == ["--self-test"]:
            for deviation, check in DEVIATIONS:
                failure = run_all(tmp, "--deviate", deviation)
                if failure is None:
                    print(f"hvac_check --self-test: FAIL: the double deviating ({deviation}) passed")
                    return 1
                if not failure.startswith(check + ":"):
                    print(f"hvac_check --self-test: FAIL: {deviation} was caught by the wrong "
                          f"check: {failure}")
                    return 1
                print(f"ok  --deviate {deviation} is refused: {failure}")
            return 0
        if sys.argv[1:]:
            print(__doc__)
            return 2
        failure = run_all(tmp)
        if failure:
            print(f"hvac_check: FAIL: {failure}")
            return 1
        names = [c.__name__ for c in HTTP_CHECKS] + ["check_tls"]
        version = importlib.metadata.version("hvac")
        print(f"hvac_check: {len(names)} checks against hvac {version} passed: {', '.join(names)}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
