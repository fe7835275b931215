#!/usr/bin/env python3
"""Every example in config/ passes `trousseau check-config` (exit 0), so
that an example never drifts from the settings the providers accept.

usage: check_examples.py TROUSSEAU CONFIG_DIR
"""
import glob
import os
import subprocess
import sys


def main():
    trousseau, config_dir = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(config_dir, "*.yaml")))
    if not files:
        print(f"FAIL no examples in {config_dir}")
        return 1
    failed = 0
    for path in files:
        r = subprocess.run([trousseau, "check-config", path], capture_output=True, text=True)
        if r.returncode == 0:
            print(f"ok   {os.path.basename(path)}: {r.stdout.strip()}")
        else:
            failed += 1
            print(f"FAIL {os.path.basename(path)} (exit {r.returncode}):\n{r.stderr}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
