#!/usr/bin/env python3
"""Passes when a check fails for the expected reason.

    expect_failure.py --expect TEXT -- COMMAND [ARG...]

COMMAND must exit with status 1 (the checks' "found a problem"; 2 is a
usage error, a signal is a crash) and print TEXT. This is how the negative
tests show that each check can fail, and fails for the reason it names.
"""
import subprocess
import sys


def main(argv):
    if len(argv) < 4 or argv[0] != "--expect" or argv[2] != "--":
        sys.exit("usage: expect_failure.py --expect TEXT -- COMMAND [ARG...]")
    expected, command = argv[1], argv[3:]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(run.stdout, end="")
    if run.returncode != 1:
        print(f"expect_failure: exit status {run.returncode}, expected 1 (a problem found)")
        return 1
    if expected not in run.stdout:
        print(f"expect_failure: failed, but did not say {expected!r}")
        return 1
    print(f"expect_failure: failed as expected ({expected!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
