#!/usr/bin/env python3
"""Writes the hand-made seed corpora of tests/fuzz/corpus/: real answers of
each service, shaped as their documentation shows them, and what our own
formats look like. The kms_request, envelope and stored_value seeds made
by a real server come from `kms_request_fuzz` (TROUSSEAU_FUZZ_SEEDS).

Most targets read their input with libFuzzer's FuzzedDataProvider, which
takes integers and booleans from the END of the input, one byte each here
(the last byte first), and strings from the front. `fdp()` lays a seed out
that way. Run from anywhere: python3 tests/fuzz/make_seeds.py
"""
import base64
import json
import os
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def fdp(body=b"", ints=(), strings=()):
    """`ints`: the values in the order the target consumes them, each one
    byte; `strings`: ConsumeRandomLengthString values, taken from the
    front, each ended by a backslash and one more byte."""
    if isinstance(body, str):
        body = body.encode()
    front = b"".join(s.encode().replace(b"\\", b"\\\\") + b"\\\n" for s in strings)
    return front + body + bytes(reversed(ints))


def response(status, headers, body, lowest=300):
    """fuzz::consume_response: status (two bytes, from `lowest`), a header
    count, then each header's name index and value string."""
    names = ["Content-Type", "x-amzn-ErrorType", "WWW-Authenticate", "Retry-After",
             "x-ms-request-id", "X-Vault-Index"]
    off = status - lowest
    ints = [off >> 8, off & 0xFF, len(headers)]
    strings = []
    for name, value in headers:
        ints.append(names.index(name))
        strings.append(value)
    return ints, strings, body


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def b64(data):
    return base64.b64encode(data).decode()


# --- legacy: the original Trousseau's ciphertexts (docs/migration.md) ----
vault_text = b"vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w=="
write("legacy", "trousseau_v1", vault_text)
write("legacy", "v2_alpha_aws", b"awskms:-:" + base64.b64encode(b"\x01\x02\x02\x00\x78" + bytes(range(40))) + b"\n")
write("legacy", "v2_alpha_two", b"awskms:-:" + base64.b64encode(bytes(range(60))) + b"\nvault:-:"
      + base64.b64encode(vault_text) + b"\n")

# --- AWS KMS and STS (awskms_fuzz: reader index last) --------------------
ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
write("awskms", "encrypt_answer", fdp(json.dumps({
    "CiphertextBlob": b64(b"\x01\x02\x02\x00x" + bytes(range(100))),
    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "KeyId": ARN}), [0]))
write("awskms", "decrypt_answer", fdp(json.dumps({
    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "KeyId": ARN,
    "Plaintext": b64(bytes(range(32)))}), [1]))
write("awskms", "describe_key", fdp(json.dumps({"KeyMetadata": {
    "AWSAccountId": "111122223333", "Arn": ARN, "CreationDate": 1.700000000E9,
    "CurrentKeyMaterialId": "a5f2b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8",
    "Description": "", "Enabled": True, "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
    "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "KeyManager": "CUSTOMER",
    "KeySpec": "SYMMETRIC_DEFAULT", "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT",
    "MultiRegion": False, "Origin": "AWS_KMS"}}), [2]))
write("awskms", "list_key_rotations", fdp(json.dumps({"Rotations": [
    {"KeyId": ARN, "RotationDate": 1.7e9, "RotationType": "AUTOMATIC"},
    {"KeyId": ARN, "RotationDate": 1.73e9, "RotationType": "ON_DEMAND"}], "Truncated": False}), [3]))
ints, strings, body = response(400, [("x-amzn-ErrorType", "InvalidCiphertextException:")],
                               json.dumps({"__type": "InvalidCiphertextException", "message": None}))
write("awskms", "error_json", fdp(body, [4] + ints, strings))
ints, strings, body = response(400, [("Content-Type", "application/x-amz-json-1.1")],
                               json.dumps({"__type": "com.amazonaws.kms#ThrottlingException",
                                           "message": "Rate exceeded"}))
write("awskms", "error_throttled", fdp(body, [4] + ints, strings))
sts_ok = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:kube-system:trousseau</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/trousseau/trousseau-session</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:trousseau-session</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>FwoGZXIvYXdzEBYaDEXAMPLE&amp;TOKEN/+=</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-11-30T09:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""
write("awskms", "sts_answer", fdp(sts_ok, [5]))
sts_error = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>Couldn't retrieve verification key from your identity provider</Message>
  </Error>
  <RequestId>4fc6e1f8-6d2f-11e9-a2e6-0123456789ab</RequestId>
</ErrorResponse>
"""
ints, strings, body = response(400, [("Content-Type", "text/xml")], sts_error)
write("awskms", "sts_error", fdp(body, [4] + ints, strings))
write("awskms", "credentials_file", fdp(
    "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n"
    "[prod]\naws_access_key_id=ASIAIOSFODNN7EXAMPLE\naws_secret_access_key=secret\n"
    "aws_session_token = FwoGZXIvYXdzEBYaDEXAMPLE\n", [6], ["prod"]))
write("awskms", "xml_element", fdp(sts_ok, [7], ["SecretAccessKey"]))
write("awskms", "identity_material", fdp(ARN + "#material:a5f2b9c0d1e2", [8]))
write("awskms", "identity_rotated", fdp(ARN + "#rotated:1730000000", [8]))

# --- Vault (vault_fuzz) --------------------------------------------------
write("vault", "encrypt_answer", fdp(json.dumps({
    "request_id": "0c9cfa5f-6e8a-4d1c-8a06-0d8c1d0b7f0e", "lease_id": "", "renewable": False,
    "lease_duration": 0, "data": {"ciphertext": vault_text.decode(), "key_version": 1},
    "wrap_info": None, "warnings": None, "auth": None}), [0]))
write("vault", "decrypt_answer", fdp(json.dumps({
    "request_id": "1d9cfa5f-6e8a-4d1c-8a06-0d8c1d0b7f0e", "data": {"plaintext": b64(bytes(range(32)))}}), [1]))
write("vault", "key_answer", fdp(json.dumps({"data": {
    "type": "aes256-gcm96", "derived": True, "exportable": False, "deletion_allowed": False,
    "keys": {"1": 1700000000, "2": 1710000000}, "latest_version": 2,
    "min_available_version": 0, "min_decryption_version": 1, "min_encryption_version": 0,
    "name": "trousseau", "supports_decryption": True, "supports_derivation": True,
    "supports_encryption": True, "supports_signing": False}}), [2]))
write("vault", "login_answer", fdp(json.dumps({"auth": {
    "client_token": "hvs.CAESIJ0EXAMPLEtokenGh4KHGh2cy5FWEFNUExF", "accessor": "hmac-accessor",
    "policies": ["default", "trousseau"], "token_policies": ["default", "trousseau"],
    "metadata": {"role_name": "trousseau"}, "lease_duration": 2764800, "renewable": True,
    "entity_id": "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9", "token_type": "service", "orphan": True}}), [3]))
write("vault", "lookup_answer", fdp(json.dumps({"data": {
    "accessor": "8609694a-cdbc-db9b-d345-e782dbb562ed", "creation_ttl": 2764800,
    "display_name": "token", "expire_time": "2026-12-30T07:00:00.000000Z",
    "explicit_max_ttl": 0, "id": "hvs.EXAMPLE", "renewable": True, "ttl": 2764790}}), [4]))
ints, strings, body = response(400, [("Content-Type", "application/json")],
                               json.dumps({"errors": ["cipher: message authentication failed"]}))
write("vault", "error_integrity", fdp(body, [5] + ints, strings))
ints, strings, body = response(403, [], json.dumps({"errors": ["1 error occurred:\n\t* permission denied\n\n"]}))
write("vault", "error_denied", fdp(body, [5] + ints, strings))
write("vault", "ciphertext", fdp("vault:v12:" + b64(bytes(range(44))), [6]))

# --- Azure Key Vault and Entra (azurekv_fuzz) ------------------------------
KID = "https://fuzz-vault.vault.azure.net/keys/trousseau/0123456789abcdef0123456789abcdef"
write("azurekv", "key_bundle_rsa", fdp(json.dumps({
    "key": {"kid": KID, "kty": "RSA",
            "key_ops": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
            "n": base64.urlsafe_b64encode(bytes(range(256))).decode().rstrip("="), "e": "AQAB"},
    "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000,
                   "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}), [0, 0]))
write("azurekv", "key_bundle_oct", fdp(json.dumps({
    "key": {"kid": KID, "kty": "oct-HSM", "key_ops": ["encrypt", "decrypt"]},
    "attributes": {"enabled": True}}), [0, 1]))
write("azurekv", "operation_result", fdp(json.dumps({
    "kid": KID, "value": base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")}), [1]))
write("azurekv", "operation_result_gcm", fdp(json.dumps({
    "kid": KID, "value": base64.urlsafe_b64encode(bytes(range(48))).decode().rstrip("="),
    "iv": base64.urlsafe_b64encode(bytes(12)).decode().rstrip("="),
    "tag": base64.urlsafe_b64encode(bytes(16)).decode().rstrip("=")}), [1]))
kv_error = json.dumps({"error": {"code": "Forbidden",
                                 "message": "Operation unwrapKey is not permitted on this key.",
                                 "innerError": {"code": "KeyDisabled"}}})
write("azurekv", "kv_error", fdp(kv_error, [2]))
ints, strings, body = response(401, [("WWW-Authenticate",
    'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", '
    'resource="https://vault.azure.net"')], json.dumps({"error": {"code": "Unauthorized",
                                                                  "message": "AKV10000: Request is missing a Bearer or PoP token."}}))
write("azurekv", "challenge", fdp(body, [3, 1] + ints, strings))
ints, strings, body = response(403, [], kv_error)
write("azurekv", "forbidden", fdp(body, [3, 0] + ints, strings))
write("azurekv", "kid", fdp(KID, [4]))
remote = bytes(range(256))
write("azurekv", "wrapped_rsa", fdp(bytes([1, 1]) + struct.pack(">H", len(remote)) + remote + bytes(12) + bytes(range(48)), [5]))
write("azurekv", "wrapped_gcm", fdp(bytes([1, 3]) + struct.pack(">H", 60) + bytes(60) + bytes(12) + bytes(range(48)), [5]))
write("azurekv", "algorithm", fdp("oct-HSM", [6], ["A256GCM"]))
write("azurekv", "scope", fdp("https://vault.azure.net/.default", [7]))

# --- Google Cloud KMS and Google auth (gcpkms_fuzz) ------------------------
VERSION = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
ct = bytes(range(60))
write("gcpkms", "encrypt_answer", fdp(json.dumps({
    "name": VERSION, "ciphertext": b64(ct), "ciphertextCrc32c": str(crc32c(ct)),
    "verifiedPlaintextCrc32c": True, "verifiedAdditionalAuthenticatedDataCrc32c": True,
    "protectionLevel": "SOFTWARE"}), [0]))
pt = bytes(range(32))
write("gcpkms", "decrypt_answer", fdp(json.dumps({
    "plaintext": b64(pt), "plaintextCrc32c": str(crc32c(pt)), "usedPrimary": True,
    "protectionLevel": "SOFTWARE"}), [1]))
write("gcpkms", "crypto_key", fdp(json.dumps({
    "name": "projects/p/locations/global/keyRings/r/cryptoKeys/k",
    "primary": {"name": VERSION, "state": "ENABLED", "createTime": "2026-01-01T00:00:00Z",
                "protectionLevel": "SOFTWARE", "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
                "generateTime": "2026-01-01T00:00:00Z"},
    "purpose": "ENCRYPT_DECRYPT", "createTime": "2026-01-01T00:00:00Z",
    "versionTemplate": {"protectionLevel": "SOFTWARE", "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
    "destroyScheduledDuration": "86400s"}), [2]))
g_error = json.dumps({"error": {"code": 400, "message": "Decryption failed: the ciphertext is invalid.",
                                "status": "INVALID_ARGUMENT"}})
write("gcpkms", "google_error", fdp(g_error, [3]))
ints, strings, body = response(400, [("Content-Type", "application/json; charset=UTF-8")], g_error)
write("gcpkms", "error_answer", fdp(body, [4, 1] + ints, strings))
write("gcpkms", "service_account_key", fdp(json.dumps({
    "type": "service_account", "project_id": "p", "private_key_id": "1f2e3d4c5b6a",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
    "client_email": "trousseau@p.iam.gserviceaccount.com", "client_id": "123456789",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": "https://oauth2.googleapis.com/token"}), [5]))
write("gcpkms", "external_account", fdp(json.dumps({
    "type": "external_account",
    "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    "token_url": "https://sts.googleapis.com/v1/token",
    "credential_source": {"file": "/var/run/secrets/tokens/gcp-ksa/token",
                          "format": {"type": "json", "subject_token_field_name": "id_token"}}}), [6]))

# --- OAuth 2.0 token answers (oauth2_fuzz) ---------------------------------
write("oauth2", "entra_token", fdp(json.dumps({
    "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
    "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.c2ln"}), [0]))
write("oauth2", "imds_token", fdp(json.dumps({
    "access_token": "eyJ0eXAiOiJKV1QifQ.e30.c2ln", "client_id": "11111111-2222-3333-4444-555555555555",
    "expires_in": "86399", "expires_on": "1700086399", "ext_expires_in": "86399",
    "not_before": "1699999699", "resource": "https://vault.azure.net", "token_type": "Bearer"}), [0]))
write("oauth2", "google_token", fdp(json.dumps({
    "access_token": "ya29.c.b0AXv0zTEXAMPLE", "expires_in": 3599, "token_type": "Bearer"}), [0]))
write("oauth2", "sts_token", fdp(json.dumps({
    "access_token": "ya29.d.EXAMPLE", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    "token_type": "Bearer", "expires_in": 3600}), [0]))
ints, strings, body = response(401, [("Content-Type", "application/json")], json.dumps({
    "error": "invalid_client",
    "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: 0a1b Correlation ID: 2c3d",
    "error_codes": [7000215], "timestamp": "2026-11-30 07:00:00Z"}))
write("oauth2", "token_error", fdp(body, [1] + ints, strings))
write("oauth2", "form_encode", fdp("urn:ietf:params:oauth:grant-type:jwt-bearer a+b/c=d&é", [2]))

# --- HTTP answers and URLs (http_response_fuzz) -------------------------------
aws_body = json.dumps({"KeyId": ARN, "CiphertextBlob": b64(bytes(40))})
write("http_response", "aws_200", fdp(
    "HTTP/1.1 200 OK\r\nx-amzn-RequestId: 8a4f0e1c\r\nContent-Type: application/x-amz-json-1.1\r\n"
    f"Content-Length: {len(aws_body)}\r\nDate: Mon, 30 Nov 2026 07:00:00 GMT\r\n\r\n{aws_body}", [0]))
write("http_response", "chunked_429", fdp(
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n"
    "Content-Type: application/json\r\n\r\n1a\r\n{\"errors\":[\"rate limit\"]}\r\n0\r\n\r\n", [0]))
write("http_response", "until_close", fdp(
    "HTTP/1.0 503 Service Unavailable\r\nConnection: close\r\n\r\nupstream down", [0]))
write("http_response", "url_https", fdp("https://kms.eu-west-1.amazonaws.com", [1]))
write("http_response", "url_ipv6", fdp("http://[::1]:8200/v1/transit/encrypt/trousseau?x=1", [1]))
write("http_response", "url_imds", fdp("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", [1]))


# --- KMIP (kmip_ttlv_fuzz, kmip_messages_fuzz) -----------------------------
def item(tag, typ, value):
    pad = (8 - len(value) % 8) % 8
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(value)) + value + bytes(pad)


def structure(tag, *children):
    return item(tag, 0x01, b"".join(children))


def integer(tag, v):
    return item(tag, 0x02, struct.pack(">i", v))


def enum(tag, v):
    return item(tag, 0x05, struct.pack(">I", v))


def text(tag, s):
    return item(tag, 0x07, s.encode())


def byte_string(tag, b):
    return item(tag, 0x08, b)


def version(major, minor):
    return structure(0x420069, integer(0x42006A, major), integer(0x42006B, minor))


def answer(major, minor, operation, payload, status=0, reason=None, message=None):
    header = structure(0x42007A, version(major, minor),
                       item(0x420092, 0x09, struct.pack(">q", 1700000000)), integer(0x42000D, 1))
    fields = [enum(0x42005C, operation), enum(0x42007F, status)]
    if reason is not None:
        fields.append(enum(0x42007E, reason))
    if message is not None:
        fields.append(text(0x42007D, message))
    if payload is not None:
        fields.append(structure(0x42007C, *payload))
    return structure(0x42007B, header, structure(0x42000F, *fields))


UID = "6b9ed6a8-3f2b-4d1e-9a51-1f5a7d3c2e10"
VERSIONS = [(2, 0), (1, 4), (1, 3), (1, 2)]  # our_versions, best first
discover = answer(1, 2, 0x1E, [version(2, 0), version(1, 4), version(1, 3), version(1, 2)])
locate = answer(1, 4, 0x08, [text(0x420094, UID)])
attrs_1x = answer(1, 4, 0x0B, [text(0x420094, UID)] + [
    structure(0x420008, text(0x42000A, name), value) for name, value in [
        ("Object Type", enum(0x42000B, 2)), ("Cryptographic Algorithm", enum(0x42000B, 3)),
        ("Cryptographic Length", integer(0x42000B, 256)),
        ("Cryptographic Usage Mask", integer(0x42000B, 12)), ("State", enum(0x42000B, 2)),
        ("Name", structure(0x42000B, text(0x420055, "trousseau"), enum(0x420054, 1)))]])
attrs_20 = answer(2, 0, 0x0B, [text(0x420094, UID), structure(0x420125,
    enum(0x420057, 2), enum(0x420028, 3), integer(0x42002A, 256), integer(0x42002C, 12),
    enum(0x42008D, 2), structure(0x420053, text(0x420055, "trousseau"), enum(0x420054, 1)))])
encrypt_gcm = answer(1, 4, 0x1F, [text(0x420094, UID), byte_string(0x4200C2, bytes(range(48))),
                                  byte_string(0x42003D, bytes(12)), byte_string(0x4200FF, bytes(16))])
encrypt_cbc = answer(1, 2, 0x1F, [text(0x420094, UID), byte_string(0x4200C2, bytes(range(48))),
                                  byte_string(0x42003D, bytes(16))])
decrypt = answer(2, 0, 0x20, [text(0x420094, UID), byte_string(0x4200C2, bytes(range(32)))])
failed = answer(1, 4, 0x20, None, status=1, reason=0x0B, message="Cryptographic Failure")

for name, msg in [("discover_versions", discover), ("locate", locate), ("attributes_1x", attrs_1x),
                  ("attributes_20", attrs_20), ("encrypt_gcm", encrypt_gcm), ("encrypt_cbc", encrypt_cbc),
                  ("decrypt", decrypt), ("failed", failed)]:
    write("kmip_ttlv", name, msg)
# kmip_messages: the version index, the reader, iv_sent (last byte first).
write("kmip_messages", "discover_versions", fdp(discover, [3, 0, 1]))
write("kmip_messages", "locate", fdp(locate, [1, 1, 1]))
write("kmip_messages", "attributes_1x", fdp(attrs_1x, [1, 2, 1]))
write("kmip_messages", "attributes_20", fdp(attrs_20, [0, 2, 1]))
write("kmip_messages", "encrypt_gcm", fdp(encrypt_gcm, [1, 3, 0]))
write("kmip_messages", "encrypt_cbc", fdp(encrypt_cbc, [3, 4, 0]))
write("kmip_messages", "decrypt", fdp(decrypt, [0, 5, 1]))
write("kmip_messages", "failed", fdp(failed, [1, 5, 1]))

# --- the configuration (config_fuzz): the shipped examples are seeds too ---
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
examples = os.path.join(root, "config")
for f in sorted(os.listdir(examples)):
    if f.endswith((".yaml", ".yml")):
        with open(os.path.join(examples, f), "rb") as src:
            write("config", f, src.read())
