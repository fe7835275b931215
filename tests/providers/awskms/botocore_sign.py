"""Signs requests with botocore's SigV4Auth, as an independent check of ours.

Usage: botocore_sign.py CASES.json  -> prints a JSON list of Authorization values.
A missing botocore is an error (exit status 2), never a skip.
"""
import base64
import datetime
import json
import sys

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # the C++ test fails on any non-zero status
    print(f"botocore is not importable: {e}", file=sys.stderr)
    sys.exit(2)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    stamp = datetime.datetime.strptime(doc["timestamp"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda: stamp
    out = []
    for case in doc["cases"]:
        creds = Credentials(case["access_key"], case["secret_key"], case.get("token") or None)
        req = AWSRequest(
            method=case["method"],
            url=case["url"],
            data=base64.b64decode(case["body"]),
            params=[tuple(p) for p in case["params"]],
        )
        for name, value in case["headers"]:
            req.headers[name] = value  # appends: repeated headers stay repeated
        botocore.auth.SigV4Auth(creds, case["service"], case["region"]).add_auth(req)
        out.append(req.headers["Authorization"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
