#!/usr/bin/env python3
"""The deployment files agree with each other and keep their hardening.

    check_deployment.py [--self-test] ROOT

Reads ROOT/manifests (static-pod.yaml, daemonset.yaml,
encryption-configuration.yaml, tmpfiles.d/trousseau.conf), ROOT/config/*.yaml
and ROOT/Containerfile, and checks what a schema cannot:
1. One socket: the EncryptionConfiguration's endpoint is every config's
   `socket`, and each pod mounts that directory from the same host path.
2. The EncryptionConfiguration puts KMS v2 first; `identity`, if listed,
   comes last and its comment says to remove it after re-encrypting.
3. Each pod: host network and the node's resolver; /livez for liveness (and
   start-up), /readyz for readiness, on 127.0.0.1:8095 over HTTP; non-root,
   seccomp RuntimeDefault, no privilege escalation, read-only root file
   system, every capability dropped; configuration mounted read-only and the
   state directory writable; a memory limit above the secret pool's cap
   (kMaxPoolBytes, read from src/common/secret_pool.hpp).
4. The DaemonSet selects control-plane nodes and tolerates the control-plane
   and legacy master taints, NoSchedule and NoExecute.
5. One uid: the pods' runAsUser owns the tmpfiles.d directories and is the
   Containerfile's USER.

--self-test breaks the loaded files one way at a time and passes only if
each is refused for the expected reason.
"""
import copy
import pathlib
import re
import sys

from check_systemd_unit import pool_cap

try:
    import yaml
except ImportError:
    sys.exit(f"check_deployment.py: {sys.executable} has no yaml module: install python3-yaml "
             "(scripts/install-deps --test)")

TELEMETRY = {"host": "127.0.0.1", "port": 8095, "scheme": "HTTP"}
CONTROL_PLANE_TAINTS = [(key, effect)
                        for key in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
                        for effect in ("NoSchedule", "NoExecute")]


def load(root):
    root = pathlib.Path(root)
    m = root / "manifests"
    daemonset = next(d for d in yaml.safe_load_all((m / "daemonset.yaml").read_text()) if d and d["kind"] == "DaemonSet")
    return {
        "ec_text": (m / "encryption-configuration.yaml").read_text(),
        "ec": yaml.safe_load((m / "encryption-configuration.yaml").read_text()),
        "configs": {p.name: yaml.safe_load(p.read_text()) for p in sorted((root / "config").glob("*.yaml"))},
        "pods": {"static-pod.yaml": yaml.safe_load((m / "static-pod.yaml").read_text())["spec"],
                 "daemonset.yaml": daemonset["spec"]["template"]["spec"]},
        "daemonset": daemonset,
        "tmpfiles": (m / "tmpfiles.d" / "trousseau.conf").read_text(),
        "containerfile": (root / "Containerfile").read_text(),
        "pool_cap": pool_cap((root / "src" / "common" / "secret_pool.hpp").read_text()),
    }


def quantity_bytes(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G)?", str(q))
    if not m:
        return None
    scale = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    return int(m.group(1)) * scale.get(m.group(2), 1)


def tolerates(tolerations, key, effect):
    for t in tolerations or []:
        key_ok = (not t.get("key") and t.get("operator") == "Exists") or t.get("key") == key
        if key_ok and t.get("operator", "Equal") in ("Exists", "Equal") and t.get("effect") in (None, "", effect):
            if t.get("operator") == "Exists" or t.get("value", "") == "":
                return True
    return False


def selects_control_plane(pod):
    if "node-role.kubernetes.io/control-plane" in (pod.get("nodeSelector") or {}):
        return True
    terms = (pod.get("affinity", {}).get("nodeAffinity", {})
             .get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", []))
    return any(e.get("key") == "node-role.kubernetes.io/control-plane" and e.get("operator") in ("Exists", "In")
               for term in terms for e in term.get("matchExpressions", []))


def probe_problems(name, container):
    found = []
    wanted = [("livenessProbe", "/livez"), ("readinessProbe", "/readyz")]
    if "startupProbe" in container:
        wanted.append(("startupProbe", "/livez"))
    for probe, path in wanted:
        get = container.get(probe, {}).get("httpGet")
        if not get:
            found.append(f"{name}: no {probe} over HTTP")
            continue
        if get.get("path") != path:
            found.append(f"{name}: {probe} asks {get.get('path')}, not {path}")
        for k, v in TELEMETRY.items():
            if get.get(k) != v:
                found.append(f"{name}: {probe} {k} is {get.get(k)}, not {v} (the telemetry listener)")
    return found


def pod_problems(name, pod, socket_dir, state_dirs, pool_cap):
    found = []
    if pod.get("hostNetwork") is not True:
        found.append(f"{name}: no hostNetwork (the probes and telemetry are on the node's 127.0.0.1)")
    if pod.get("dnsPolicy") != "Default":
        found.append(f"{name}: dnsPolicy is not Default (cluster DNS needs kube-apiserver, which needs the plugin)")
    sc = pod.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True or not isinstance(sc.get("runAsUser"), int) or sc["runAsUser"] <= 0:
        found.append(f"{name}: must run as non-root (runAsNonRoot and a runAsUser above 0)")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        found.append(f"{name}: seccompProfile is not RuntimeDefault")
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod.get("volumes", []) if "hostPath" in v}
    for c in pod.get("containers", []):
        cname = f"{name} {c['name']}"
        csc = c.get("securityContext", {})
        if csc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{cname}: allowPrivilegeEscalation is not false")
        if csc.get("readOnlyRootFilesystem") is not True:
            found.append(f"{cname}: readOnlyRootFilesystem is not true")
        if csc.get("privileged"):
            found.append(f"{cname}: privileged")
        caps = csc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or caps.get("add"):
            found.append(f"{cname}: capabilities must drop ALL and add none")
        found += probe_problems(cname, c)
        limit = quantity_bytes(c.get("resources", {}).get("limits", {}).get("memory", ""))
        if limit is None or limit <= pool_cap:
            found.append(f"{cname}: memory limit {c.get('resources', {}).get('limits', {}).get('memory')} "
                         f"is not above the secret pool's cap of {pool_cap} bytes")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        socket_mount = mounts.get(socket_dir)
        if not socket_mount or host_paths.get(socket_mount["name"]) != socket_dir:
            found.append(f"{cname}: the socket directory {socket_dir} is not mounted from the host's {socket_dir}")
        config = c.get("args", [])[c.get("args", []).index("--config") + 1] if "--config" in c.get("args", []) else None
        config_mount = mounts.get(str(pathlib.PurePath(config).parent)) if config else None
        if not config_mount or config_mount.get("readOnly") is not True:
            found.append(f"{cname}: the configuration directory of {config} is not mounted read-only")
        for state in state_dirs:
            m = mounts.get(state)
            if not m or m.get("readOnly") or host_paths.get(m["name"]) != state:
                found.append(f"{cname}: the state directory {state} is not a writable host mount")
    return found


def problems(d):
    found = []
    providers = d["ec"]["resources"][0]["providers"]
    kms = providers[0].get("kms", {})
    if kms.get("apiVersion") != "v2":
        found.append("encryption-configuration.yaml: the first provider is not KMS v2")
    socket = kms.get("endpoint", "").removeprefix("unix://")
    socket_dir = str(pathlib.PurePath(socket).parent)
    for name, cfg in d["configs"].items():
        if cfg.get("socket") != socket:
            found.append(f"config/{name}: socket {cfg.get('socket')} is not the EncryptionConfiguration's {socket}")
    identity = [i for i, p in enumerate(providers) if "identity" in p]
    if identity:
        if identity != [len(providers) - 1]:
            found.append("encryption-configuration.yaml: identity is not the last provider")
        text = d["ec_text"]
        if not all(s in text for s in ("REMOVE IT", "kubectl get secrets", "kubectl replace -f -", "etcd")):
            found.append("encryption-configuration.yaml: the comment on identity does not say to remove it after "
                         "re-encrypting (kubectl get secrets ... | kubectl replace -f -) and why (etcd)")
    state_dirs = sorted({cfg.get("state_dir") for cfg in d["configs"].values() if cfg.get("state_dir")})
    for name, pod in d["pods"].items():
        found += pod_problems(name, pod, socket_dir, state_dirs, d["pool_cap"])
    ds_pod = d["daemonset"]["spec"]["template"]["spec"]
    if not selects_control_plane(ds_pod):
        found.append("daemonset.yaml: does not select node-role.kubernetes.io/control-plane nodes")
    for key, effect in CONTROL_PLANE_TAINTS:
        if not tolerates(ds_pod.get("tolerations"), key, effect):
            found.append(f"daemonset.yaml: does not tolerate {key}:{effect}")
    uids = {pod.get("securityContext", {}).get("runAsUser") for pod in d["pods"].values()}
    owners = {int(line.split()[3]) for line in d["tmpfiles"].splitlines()
              if line.strip() and not line.startswith("#")}
    user = re.findall(r"(?m)^USER\s+(\d+)", d["containerfile"])
    if len(uids | owners | {int(u) for u in user[-1:]}) != 1:
        found.append(f"one uid everywhere: pods run as {sorted(uids, key=str)}, tmpfiles.d owners {sorted(owners)}, "
                     f"Containerfile USER {user[-1:] or 'none'}")
    return found


def mutate(d, path, value):
    """Sets (or, with value None, deletes) d[path...] in a copy of d."""
    d = copy.deepcopy(d)
    node = d
    for step in path[:-1]:
        node = node[step]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


SP = ["pods", "static-pod.yaml"]
DS = ["pods", "daemonset.yaml"]
MUTATIONS = [
    ("no readiness probe", lambda d: mutate(d, SP + ["containers", 0, "readinessProbe"], None), "no readinessProbe"),
    ("liveness on /readyz", lambda d: mutate(d, DS + ["containers", 0, "livenessProbe", "httpGet", "path"], "/readyz"),
     "livenessProbe asks /readyz, not /livez"),
    ("probe on the pod IP", lambda d: mutate(d, SP + ["containers", 0, "livenessProbe", "httpGet", "host"], None),
     "livenessProbe host is None"),
    ("root", lambda d: mutate(d, SP + ["securityContext", "runAsUser"], 0), "must run as non-root"),
    ("no seccomp", lambda d: mutate(d, DS + ["securityContext", "seccompProfile"], None), "seccompProfile"),
    ("writable root", lambda d: mutate(d, SP + ["containers", 0, "securityContext", "readOnlyRootFilesystem"], False),
     "readOnlyRootFilesystem"),
    ("a capability added", lambda d: mutate(d, DS + ["containers", 0, "securityContext", "capabilities", "add"], ["IPC_LOCK"]),
     "capabilities must drop ALL"),
    ("writable configuration", lambda d: mutate(d, SP + ["containers", 0, "volumeMounts", 1, "readOnly"], False),
     "is not mounted read-only"),
    ("cluster DNS", lambda d: mutate(d, DS + ["dnsPolicy"], "ClusterFirstWithHostNet"), "dnsPolicy"),
    ("memory limit at the pool's cap", lambda d: mutate(d, SP + ["containers", 0, "resources", "limits", "memory"], "256Mi"),
     "memory limit 256Mi"),
    ("another socket in the EncryptionConfiguration",
     lambda d: mutate(d, ["ec", "resources", 0, "providers", 0, "kms", "endpoint"], "unix:///var/run/kms/kms.sock"),
     "is not the EncryptionConfiguration's /var/run/kms/kms.sock"),
    ("another socket in a config", lambda d: mutate(d, ["configs", "local.yaml", "socket"], "/tmp/trousseau/kms.sock"),
     "config/local.yaml: socket /tmp/trousseau/kms.sock"),
    ("identity first", lambda d: mutate(d, ["ec", "resources", 0, "providers"],
                                        list(reversed(d["ec"]["resources"][0]["providers"]))),
     "the first provider is not KMS v2"),
    ("identity without its warning", lambda d: mutate(d, ["ec_text"], d["ec_text"].replace("REMOVE IT", "Keep it")),
     "the comment on identity"),
    ("the master NoExecute taint untolerated",
     lambda d: mutate(d, ["daemonset", "spec", "template", "spec", "tolerations"],
                      [t for t in d["daemonset"]["spec"]["template"]["spec"]["tolerations"]
                       if t.get("key") and (t["key"], t["effect"]) != ("node-role.kubernetes.io/master", "NoExecute")]),
     "does not tolerate node-role.kubernetes.io/master:NoExecute"),
    ("any node", lambda d: mutate(d, ["daemonset", "spec", "template", "spec", "affinity"], None),
     "does not select node-role.kubernetes.io/control-plane"),
    ("another uid in tmpfiles.d", lambda d: mutate(d, ["tmpfiles"], d["tmpfiles"].replace("65532 65532", "1000 1000")),
     "one uid everywhere"),
]


def main(argv):
    self_test = argv[:1] == ["--self-test"]
    args = argv[1:] if self_test else argv
    if len(args) != 1:
        sys.exit("usage: check_deployment.py [--self-test] ROOT")
    d = load(args[0])
    found = problems(d)
    if not self_test or found:
        for p in found:
            print(f"FAIL {p}")
        print("FAIL the unmutated files must pass first" if self_test and found else
              "" if found else "ok   one socket, one uid, probes and hardening in every pod, taints tolerated")
        return 1 if found else 0
    failed = 0
    for what, change, expected in MUTATIONS:
        got = problems(change(d))
        if any(expected in p for p in got):
            print(f"ok   {what}: refused ({next(p for p in got if expected in p)})")
        else:
            print(f"FAIL {what}: expected a problem with {expected!r}, got {got}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
