#!/usr/bin/python3
"""Answers KMIP requests with PyKMIP's own server engine, in process.

The independent cross-check of messages.cpp: PyKMIP reads the requests our
builders wrote (kmip.core.messages.RequestMessage) and its engine answers
them as its TLS server would, and our parsers read those answers. No
network, no TLS: the session's framing is not what is under test.

Usage: pykmip_answer.py DATABASE
  DATABASE  a SQLite file; the first run creates in it one active AES-256
            key named "trousseau-kek", usable to encrypt and decrypt.
Standard input: one hex-encoded request per line. Standard output: one
hex-encoded response per line, in order.
"""
import logging
import os
import sys

from kmip.core import enums
from kmip.core import policy as operation_policy
from kmip.core import utils
from kmip.core.messages import contents
from kmip.core.messages import messages
from kmip.pie import objects
from kmip.services.server import engine as kmip_engine

OWNER = "trousseau-test"


def make_engine(database):
    engine = kmip_engine.KmipEngine(
        policies=dict(operation_policy.policies), database_path=database)
    session = engine._data_store_session_factory()
    if session.query(objects.ManagedObject).count() == 0:
        key = objects.SymmetricKey(
            enums.CryptographicAlgorithm.AES, 256, os.urandom(32),
            masks=[enums.CryptographicUsageMask.ENCRYPT,
                   enums.CryptographicUsageMask.DECRYPT],
            name="trousseau-kek")
        key.state = enums.State.ACTIVE
        key.operation_policy_name = "default"
        key._owner = OWNER
        session.add(key)
        session.commit()
    session.close()
    return engine


def answer(engine, request_bytes):
    # As kmip.services.server.session does it, less TLS and framing.
    request = messages.RequestMessage()
    request.read(utils.BytearrayStream(request_bytes),
                 kmip_version=enums.KMIPVersion.KMIP_1_2)
    response, _, version = engine.process_request(request, [OWNER, None])
    out = utils.BytearrayStream()
    response.write(out, kmip_version=contents.protocol_version_to_kmip_version(version))
    return bytes(out.buffer)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    logging.disable(logging.CRITICAL)
    engine = make_engine(sys.argv[1])
    for line in sys.stdin:
        line = line.strip()
        if line:
            print(answer(engine, bytes.fromhex(line)).hex(), flush=True)


if __name__ == "__main__":
    main()
