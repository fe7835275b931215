#!/usr/bin/env python3
"""Checks the Containerfile without a container engine.

    check_containerfile.py [--binary TROUSSEAU] CONTAINERFILE
    check_containerfile.py --self-test [--binary TROUSSEAU] CONTAINERFILE

1. Multi-stage: a build stage FROM debian:bookworm that runs a release meson
   build without benchmarks, then a final stage FROM debian:bookworm-slim.
2. The final stage installs no compiler, build tool or -dev package, with
   --no-install-recommends, copies only from an earlier stage (no sources,
   no ADD), runs as a numeric non-root USER, and has
   ENTRYPOINT ["/usr/bin/trousseau"] and the serve CMD.
3. With --binary (the built trousseau): the packages of its DT_NEEDED
   libraries (readelf, ldd, dpkg -S) are exactly the library packages the
   final stage installs; nothing missing, nothing unused.

--self-test applies mutations to CONTAINERFILE and passes only if the check
refuses each for the expected reason. No image is built: no engine works on
the machines that run this, and CI reaches no image registry.
"""
import argparse
import json
import os
import re
import subprocess
import sys

FINAL_BASE = re.compile(r"debian:bookworm-slim(@sha256:[0-9a-f]{64})?")
BUILD_BASE = re.compile(r"debian:bookworm(@sha256:[0-9a-f]{64})?")
BUILD_TOOL = re.compile(
    r"(gcc|g\+\+|cpp|clang|llvm|lld|make|cmake|meson|ninja-build|pkgconf|pkg-config|build-essential|"
    r"binutils|protobuf-compiler|git|autoconf|automake|libtool|bison|flex)(-[0-9.]+)?(:\w+)?|.*-dev(:\w+)?")
# Installed for what they are, not linked: the reason is the value.
NOT_LINKED = {"ca-certificates": "the system CA store, for HTTPS to remote KMSes"}
# Runtimes a sanitizer build links; the image is built without sanitizers.
SANITIZER_RUNTIME = re.compile(r"lib(a|t|ub|l)san\.so")
ENTRYPOINT = ["/usr/bin/trousseau"]
CMD = ["serve", "--config", "/etc/trousseau/config.yaml"]


def instructions(text):
    """[(KEYWORD, arguments)], continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        out.append((keyword.upper(), args.strip()))
        current = ""
    return out


def stages(text):
    result = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = args.split()
            result.append({"base": words[0], "name": words[2] if len(words) > 2 else None, "steps": []})
        elif result:
            result[-1]["steps"].append((keyword, args))
    return result


def installed(steps):
    """(packages, whether every apt-get install had --no-install-recommends)."""
    packages, no_recommends = [], True
    for keyword, args in steps:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", args):
            words = command.split()
            if "apt-get" in words and "install" in words:
                rest = words[words.index("install") + 1:]
                no_recommends &= "--no-install-recommends" in rest
                packages += [w for w in rest if not w.startswith("-")]
    return packages, no_recommends


def json_form(args):
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def static_problems(text):
    found = []
    all_stages = stages(text)
    if len(all_stages) < 2:
        return ["not multi-stage: a build stage and a final stage are needed"]
    build, final = all_stages[0], all_stages[-1]
    if not BUILD_BASE.fullmatch(build["base"]):
        found.append(f"the build stage is FROM {build['base']}, not debian:bookworm")
    build_runs = " ".join(a for k, a in build["steps"] if k == "RUN")
    for needed in ("meson setup", "--buildtype=release", "-Dbench=false"):
        if needed not in build_runs:
            found.append(f"the build stage does not run {needed}")
    if not FINAL_BASE.fullmatch(final["base"]):
        found.append(f"the final stage is FROM {final['base']}, not debian:bookworm-slim")
    packages, no_recommends = installed(final["steps"])
    for p in packages:
        if BUILD_TOOL.fullmatch(p):
            found.append(f"the final stage installs the build tool or headers {p}")
    if packages and not no_recommends:
        found.append("the final stage installs without --no-install-recommends")
    earlier = {s["name"] for s in all_stages[:-1]} | {str(i) for i in range(len(all_stages) - 1)}
    for keyword, args in final["steps"]:
        if keyword == "ADD":
            found.append(f"the final stage uses ADD {args}")
        if keyword == "COPY":
            m = re.search(r"--from=(\S+)", args)
            if not m or m.group(1) not in earlier:
                found.append(f"the final stage copies from outside an earlier stage: COPY {args}")
        if keyword == "RUN" and "install-deps" in args:
            found.append("the final stage runs scripts/install-deps (the build packages)")
    users = [a for k, a in final["steps"] if k == "USER"]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
        found.append(f"the final stage must end as a numeric non-root USER, not {users[-1] if users else 'root'}")
    entrypoints = [a for k, a in final["steps"] if k == "ENTRYPOINT"]
    if not entrypoints or json_form(entrypoints[-1]) != ENTRYPOINT:
        found.append(f"ENTRYPOINT must be {json.dumps(ENTRYPOINT)}")
    cmds = [a for k, a in final["steps"] if k == "CMD"]
    if not cmds or json_form(cmds[-1]) != CMD:
        found.append(f"CMD must be {json.dumps(CMD)}")
    return found


def owners(paths):
    """{path: Debian package} for library paths, trying each path's /usr-merged twin too.

    One dpkg-query per round: it reads the whole package database each time."""
    found = {}
    for twin in (lambda p: p, os.path.realpath, lambda p: re.sub(r"^/usr", "", os.path.realpath(p)),
                 lambda p: "/usr" + os.path.realpath(p)):
        todo = {twin(p): p for p in paths if p not in found}
        if not todo:
            break
        run = subprocess.run(["dpkg-query", "-S", *todo], capture_output=True, text=True)
        for line in run.stdout.splitlines():
            package, _, owned = line.partition(": ")
            if owned in todo:
                found[todo[owned]] = package.split(":")[0]
    return found


def binary_packages(binary):
    """({package: [needed libraries]} of DT_NEEDED, {packages of every loaded library})."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    # The dynamic loader is listed by its path alone.
    paths.update({os.path.basename(p): p for p in re.findall(r"^\s*(/\S+) \(0x", ldd, re.M)})
    unresolved = [lib for lib in needed if lib not in paths]
    if unresolved:
        raise SystemExit(f"check_containerfile.py: ldd cannot resolve {', '.join(unresolved)} of {binary}")
    paths = {lib: path for lib, path in paths.items() if not SANITIZER_RUNTIME.search(lib)}
    packages = owners(paths.values())
    direct, closure = {}, set()
    for lib, path in paths.items():
        package = packages.get(path)
        if package is None:
            raise SystemExit(f"check_containerfile.py: no Debian package owns {path}")
        closure.add(package)
        if lib in needed:
            direct.setdefault(package, []).append(lib)
    return direct, closure


def library_problems(text, direct, closure):
    final = stages(text)[-1]
    packages = set(installed(final["steps"])[0])
    found = [f"the final stage does not install {p}, which provides {', '.join(libs)}"
             for p, libs in sorted(direct.items()) if p not in packages]
    found += [f"the final stage installs {p}, which the binary does not load"
              for p in sorted(packages - closure - set(NOT_LINKED))]
    return found


def check(text, libraries):
    found = static_problems(text)
    if libraries is not None and not found:
        found += library_problems(text, *libraries)
    return found


def mutations(libraries):
    """(what, mutation, expected message)"""
    result = [
        ("single stage", lambda t: t[t.index("FROM debian:bookworm-slim"):], "not multi-stage"),
        ("a fat final base", lambda t: t.replace("FROM debian:bookworm-slim", "FROM debian:bookworm"),
         "the final stage is FROM debian:bookworm,"),
        ("a compiler in the final stage", lambda t: t.replace("      ca-certificates \\", "      ca-certificates g++ \\"),
         "installs the build tool or headers g++"),
        ("headers in the final stage", lambda t: t.replace("      libssl3 \\", "      libssl3 libssl-dev \\"),
         "installs the build tool or headers libssl-dev"),
        ("recommends pulled in", lambda t: re.sub(r"(FROM debian:bookworm-slim[\s\S]*?)--no-install-recommends", r"\1", t),
         "without --no-install-recommends"),
        ("sources in the final stage", lambda t: t.replace("COPY --from=build ", "COPY src /src\nCOPY --from=build "),
         "copies from outside an earlier stage: COPY src /src"),
        ("runs as root", lambda t: re.sub(r"(?m)^USER .*$", "USER root", t), "numeric non-root USER, not root"),
        ("runs as uid 0", lambda t: re.sub(r"(?m)^USER .*$", "USER 0:0", t), "numeric non-root USER, not 0:0"),
        ("no USER", lambda t: re.sub(r"(?m)^USER .*\n", "", t), "numeric non-root USER, not root"),
        ("a shell-form ENTRYPOINT", lambda t: re.sub(r"(?m)^ENTRYPOINT .*$", "ENTRYPOINT /usr/bin/trousseau", t),
         "ENTRYPOINT must be"),
        ("a debug build", lambda t: t.replace("--buildtype=release", "--buildtype=debug"),
         "does not run --buildtype=release"),
    ]
    if libraries is not None:
        result += [
            ("a library missing", lambda t: t.replace("      libsodium23 \\\n", ""),
             "does not install libsodium23"),
            ("an unused library", lambda t: t.replace("      libssl3 \\", "      libssl3 libcurl4 \\"),
             "installs libcurl4, which the binary does not load"),
        ]
    return result


def self_test(text, libraries):
    baseline = check(text, libraries)
    if baseline:
        print("FAIL the unmutated Containerfile must pass first:\n  " + "\n  ".join(baseline))
        return 1
    failed = 0
    for what, mutate, expected in mutations(libraries):
        mutated = mutate(text)
        found = check(mutated, libraries) if mutated != text else ["(the mutation changed nothing)"]
        if any(expected in p for p in found):
            print(f"ok   {what}: refused ({next(p for p in found if expected in p)})")
        else:
            print(f"FAIL {what}: expected a problem with {expected!r}, got {found}")
            failed += 1
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="the built trousseau, to check the runtime packages against")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("containerfile")
    args = ap.parse_args()
    text = open(args.containerfile).read()
    libraries = binary_packages(args.binary) if args.binary else None
    if args.self_test:
        return self_test(text, libraries)
    found = check(text, libraries)
    for p in found:
        print(f"FAIL {args.containerfile}: {p}")
    if not found:
        extra = f"; runtime packages match {args.binary}: {', '.join(sorted(libraries[0]))}" if libraries else ""
        print(f"ok   {args.containerfile}: multi-stage, slim non-root final stage without build tools{extra}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
