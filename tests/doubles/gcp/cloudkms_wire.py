"""The wire format of Google's REST APIs as the Cloud KMS double speaks it
(cloudkms_double.py): google.rpc.Status and OAuth errors, proto3 JSON values
(bytes, int64, enums, unknown fields, system query parameters), timestamps
and CRC32C. TEST DOUBLE material, not Google's code."""
import base64
import datetime
import json

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

