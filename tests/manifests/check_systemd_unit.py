#!/usr/bin/env python3
"""Checks manifests/trousseau.service.

    check_systemd_unit.py --binary TROUSSEAU --pool-header SECRET_POOL_HPP UNIT
    check_systemd_unit.py --self-test --binary ... --pool-header ... UNIT

1. The hardening directives docs/deploy.md promises are there, with their
   values, and LimitMEMLOCK covers the secret pool's cap (read from
   src/common/secret_pool.hpp, so raising the cap fails this test).
2. `systemd-analyze verify` accepts the unit, with every path to the
   trousseau binary replaced by TROUSSEAU (the built one): any message it
   prints is a failure, as it reports unknown keys and bad values as
   warnings and still exits 0.
3. `systemd-analyze security --offline=yes` rates its exposure at most 2.0.

--self-test applies mutations to UNIT (a directive removed, misspelt or
weakened) and passes only if the check refuses each for the expected reason.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_EXPOSURE = 2.0
YES = {"yes", "true", "on", "1"}


def parse(text):
    """[(section, key, value)] of a unit file; continuation lines joined."""
    entries, section, pending = [], None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            key, value = line.split("=", 1)
            entries.append((section, key.strip(), value.strip()))
    return entries


def size_bytes(value):
    """systemd's Limit* sizes: a number with an optional K/M/G/T (1024-based) suffix."""
    if value == "infinity":
        return float("inf")
    m = re.fullmatch(r"(\d+)([KMGT]?)", value)
    if not m:
        return None
    return int(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " ")


def pool_cap(header_text):
    m = re.search(r"kMaxPoolBytes\s*=\s*([0-9*\s]+);", header_text)
    if not m:
        raise SystemExit("check_systemd_unit.py: kMaxPoolBytes not found in the pool header")
    cap = 1
    for factor in m.group(1).split("*"):
        cap *= int(factor)
    return cap


def directive_problems(text, cap):
    service = {}
    for section, key, value in parse(text):
        if section == "Service":
            service.setdefault(key, []).append(value)

    def last(key):
        return service.get(key, [None])[-1]

    def words(key):
        return set(" ".join(service.get(key, [])).split())

    rules = [
        ("NoNewPrivileges=yes", last("NoNewPrivileges") in YES),
        ("ProtectSystem=strict", last("ProtectSystem") == "strict"),
        ("ProtectHome=yes", last("ProtectHome") in YES),
        ("PrivateTmp=yes", last("PrivateTmp") in YES),
        ("MemoryDenyWriteExecute=yes", last("MemoryDenyWriteExecute") in YES),
        ("LockPersonality=yes", last("LockPersonality") in YES),
        ("RestrictNamespaces=yes", last("RestrictNamespaces") in YES),
        ("CapabilityBoundingSet= (empty)", "CapabilityBoundingSet" in service and last("CapabilityBoundingSet") == ""),
        ("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 and no other",
         words("RestrictAddressFamilies") == {"AF_UNIX", "AF_INET", "AF_INET6"}),
        ("SystemCallFilter=@system-service", "@system-service" in words("SystemCallFilter")),
        ("RuntimeDirectory=trousseau", last("RuntimeDirectory") == "trousseau"),
        ("RuntimeDirectoryPreserve=yes (a bind mount of it must survive restarts)",
         last("RuntimeDirectoryPreserve") in YES),
        ("StateDirectory=trousseau", last("StateDirectory") == "trousseau"),
        ("ExecReload=/bin/kill -HUP $MAINPID", last("ExecReload") == "/bin/kill -HUP $MAINPID"),
        ("a dedicated user: User= other than root, or DynamicUser=yes",
         last("DynamicUser") in YES or last("User") not in (None, "", "root", "0")),
    ]
    problems = [f"missing or wrong: {want}" for want, ok in rules if not ok]
    memlock = size_bytes(last("LimitMEMLOCK") or "")
    if memlock is None or memlock < cap:
        problems.append(f"LimitMEMLOCK={last('LimitMEMLOCK')} is below the secret pool's cap of {cap} bytes")
    return problems


def exec_path(text):
    for section, key, value in parse(text):
        if section == "Service" and key == "ExecStart":
            return value.lstrip("-@:+!").split()[0]
    return None


def systemd_problems(text, binary):
    """What systemd-analyze says about the unit, with the binary substituted."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return ["systemd-analyze not found: install the systemd package (scripts/install-deps --test)"]
    target = exec_path(text)
    if target is None:
        return ["no ExecStart="]
    with tempfile.TemporaryDirectory() as d:
        unit = os.path.join(d, "trousseau.service")
        with open(unit, "w") as f:
            f.write(text.replace(target, binary))
        env = dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_COLORS="0")
        verify = subprocess.run([tool, "verify", unit], capture_output=True, text=True, env=env)
        problems = [f"systemd-analyze verify: {line}"
                    for line in (verify.stdout + verify.stderr).splitlines() if line.strip()]
        if verify.returncode != 0 and not problems:
            problems.append(f"systemd-analyze verify exited {verify.returncode}")
        security = subprocess.run([tool, "security", "--offline=yes", "--no-pager", unit],
                                  capture_output=True, text=True, env=env)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
        if not m:
            problems.append(f"systemd-analyze security gave no exposure level: {security.stderr.strip()}")
        elif float(m.group(1)) > MAX_EXPOSURE:
            problems.append(f"systemd-analyze security: exposure {m.group(1)} is above {MAX_EXPOSURE}")
    return problems


def check(text, binary, cap):
    return directive_problems(text, cap) + systemd_problems(text, binary)


# (what the mutation does, the mutation, the message the check must give)
MUTATIONS = [
    ("NoNewPrivileges removed", lambda t: re.sub(r"(?m)^NoNewPrivileges=.*\n", "", t),
     "missing or wrong: NoNewPrivileges=yes"),
    ("ProtectSystem misspelt", lambda t: t.replace("ProtectSystem=", "ProtectSytem="),
     "Unknown key 'ProtectSytem'"),
    ("ProtectSystem weakened", lambda t: t.replace("ProtectSystem=strict", "ProtectSystem=full"),
     "missing or wrong: ProtectSystem=strict"),
    ("AF_NETLINK allowed", lambda t: t.replace("AF_INET6\n", "AF_INET6 AF_NETLINK\n"),
     "RestrictAddressFamilies"),
    ("capabilities kept", lambda t: re.sub(r"(?m)^CapabilityBoundingSet=$", "CapabilityBoundingSet=CAP_IPC_LOCK", t),
     "CapabilityBoundingSet="),
    ("runs as root", lambda t: t.replace("User=trousseau", "User=root"), "a dedicated user"),
    ("memlock below the pool", lambda t: re.sub(r"(?m)^LimitMEMLOCK=.*$", "LimitMEMLOCK=64M", t),
     "LimitMEMLOCK=64M is below"),
    ("socket directory recreated on restart", lambda t: re.sub(r"(?m)^RuntimeDirectoryPreserve=.*\n", "", t),
     "RuntimeDirectoryPreserve=yes"),
    ("no reload", lambda t: re.sub(r"(?m)^ExecReload=.*\n", "", t), "ExecReload"),
    ("bad value", lambda t: t.replace("PrivateTmp=yes", "PrivateTmp=maybe"), "PrivateTmp"),
    ("exposure raised", lambda t: re.sub(r"(?m)^(SystemCallFilter|RestrictNamespaces|ProtectKernel\w+|"
                                         r"ProtectControlGroups|PrivateDevices|ProtectClock)=.*\n", "", t),
     "systemd-analyze security: exposure"),
]


def self_test(text, binary, cap):
    failed = 0
    baseline = check(text, binary, cap)
    if baseline:
        print("FAIL the unmutated unit must pass first:\n  " + "\n  ".join(baseline))
        return 1
    for what, mutate, expected in MUTATIONS:
        mutated = mutate(text)
        if mutated == text:
            print(f"FAIL {what}: the mutation changed nothing (the unit changed?)")
            failed += 1
            continue
        problems = check(mutated, binary, cap)
        if any(expected in p for p in problems):
            print(f"ok   {what}: refused ({next(p for p in problems if expected in p)})")
        else:
            print(f"FAIL {what}: expected a problem with {expected!r}, got {problems}")
            failed += 1
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the built trousseau, put in place of the unit's")
    ap.add_argument("--pool-header", required=True, help="src/common/secret_pool.hpp")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("unit")
    args = ap.parse_args()
    text = open(args.unit).read()
    cap = pool_cap(open(args.pool_header).read())
    if args.self_test:
        return self_test(text, args.binary, cap)
    problems = check(text, args.binary, cap)
    for p in problems:
        print(f"FAIL {args.unit}: {p}")
    if not problems:
        print(f"ok   {args.unit}: hardening directives present, systemd-analyze verify and security pass")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
