"""Google's token endpoints as the test double (cloudkms_double.py) serves
them: OAuth 2.0 jwt-bearer, self-signed JWT bearers, STS token exchange,
IAM credentials impersonation and the GCE metadata server. A mixin of the
double, which provides now(), lock, args, tokens, base_url, sa_key,
sa_key_id and oidc_key. TEST DOUBLE, not Google."""
import json
import re
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from cloudkms_wire import GoogleError, OAuthError, check_fields, invalid, rfc3339, unb64u

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


class Identity:
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

