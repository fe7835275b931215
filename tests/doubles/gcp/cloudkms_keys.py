"""Cloud KMS v1 resources and methods of the test double (cloudkms_double.py):
key rings, keys, versions, encrypt and decrypt. A mixin of the double, which
provides now(), save_state(), args, key_rings, keys and corruptions; every
method here runs with the double's lock held. TEST DOUBLE, not Google."""
import base64
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloudkms_wire import (GoogleError, b64u, check_fields, check_query, crc32c, invalid,
                           parse_bytes, parse_enum, parse_int64, rfc3339, unb64u)

ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
DEFAULT_DESTROY_SCHEDULED = 30 * 24 * 3600
SOFTWARE_LIMIT = 64 * 1024
HSM_LIMIT = 8 * 1024
CIPHERTEXT_MAGIC = b"TDKMS1"  # the double's own format: magic, key uid, version, nonce, GCM


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



class KeyManagement:
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
        if self.corrupt("name"):
            # Another version of the key, or with only one, the key's own name.
            out["name"] = (f"{key.name}/cryptoKeyVersions/{v.number % len(key.versions) + 1}"
                           if len(key.versions) > 1 else key.name)
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
        elif self.corrupt(data_field + "AndCrc32c"):
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x01
            out[data_field] = base64.b64encode(bytes(flipped)).decode()
            out[crc_field] = str(crc32c(bytes(flipped)))
        if self.args.deviate == "crc32c-as-number":
            out[crc_field] = int(out[crc_field])
        return {k: v for k, v in out.items() if v not in (False, None, "")}
