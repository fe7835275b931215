#!/usr/bin/env python3
"""Every YAML file under the given directories parses and holds something.

    check_yaml.py DIR...

Fails naming each file that does not parse or is empty, and when a
directory holds no YAML file at all (a moved directory must not pass).
"""
import pathlib
import sys

try:
    import yaml
except ImportError:
    sys.exit(f"check_yaml.py: {sys.executable} has no yaml module: install python3-yaml "
             "(scripts/install-deps --test)")


def problems(path):
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        return [str(e)]
    return [] if docs else ["holds no document"]


def main(dirs):
    if not dirs:
        sys.exit("usage: check_yaml.py DIR...")
    failed = 0
    for d in map(pathlib.Path, dirs):
        files = sorted(p for p in d.rglob("*") if p.suffix in (".yaml", ".yml"))
        if not files:
            print(f"FAIL {d}: no YAML file")
            failed += 1
        for f in files:
            why = problems(f)
            print(f"{'FAIL' if why else 'ok  '} {f}" + "".join(f"\n     {w}" for w in why))
            failed += bool(why)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
