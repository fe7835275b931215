#!/usr/bin/python3
"""Key administration on a PyKMIP server through PyKMIP's own client, so
that the keys the kmip provider's tests use are made by another KMIP
implementation than ours.

    pykmip_admin.py --port P --cert C --key K --ca CA COMMAND ARGS...

Commands (each prints its result on one line):
    create NAME [--no-activate]   an AES-256 key with usage Encrypt|Decrypt; prints its uid
    activate UID
    revoke UID                    Revoke with reason Cessation of Operation: the key is Deactivated
    destroy UID                   revokes it first if it is Active
    decrypt-cbc UID IV CT         AES-CBC/PKCS#5 decrypt; IV and CT in hex; prints the plaintext in hex
    state UID                     prints the key's State, as PyKMIP names it
Runs with Debian's python3 (python3-pykmip).
"""
import argparse
import sys
import warnings

warnings.simplefilter("ignore")  # PyKMIP's crypto engine imports deprecated ciphers

from kmip.core import enums  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("command")
    p.add_argument("args", nargs="*")
    p.add_argument("--no-activate", action="store_true")
    a = p.parse_args()
    client = ProxyKmipClient(hostname="127.0.0.1", port=a.port, cert=a.cert, key=a.key, ca=a.ca,
                             config_file="/dev/null", kmip_version=enums.KMIPVersion.KMIP_1_2)
    with client:
        if a.command == "create":
            uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=a.args[0],
                                cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                                          enums.CryptographicUsageMask.DECRYPT])
            if not a.no_activate:
                client.activate(uid)
            print(uid)
        elif a.command == "activate":
            client.activate(a.args[0])
            print("ok")
        elif a.command == "revoke":
            client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, a.args[0])
            print("ok")
        elif a.command == "destroy":
            uid = a.args[0]
            if state(client, uid) == enums.State.ACTIVE:
                client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
            client.destroy(uid)
            print("ok")
        elif a.command == "decrypt-cbc":
            uid, iv, ct = a.args
            plain = client.decrypt(bytes.fromhex(ct), uid=uid, iv_counter_nonce=bytes.fromhex(iv),
                                   cryptographic_parameters={
                                       "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
                                       "block_cipher_mode": enums.BlockCipherMode.CBC,
                                       "padding_method": enums.PaddingMethod.PKCS5})
            print(plain.hex())
        elif a.command == "state":
            print(state(client, a.args[0]).name)
        else:
            sys.exit(f"unknown command {a.command}")


def state(client, uid):
    _, attributes = client.get_attributes(uid, ["State"])
    return attributes[0].attribute_value.value


if __name__ == "__main__":
    main()
