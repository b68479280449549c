#!/usr/bin/env python3
"""Add exactly one new, valid version file to a tree made by gen-registry.py.

    add-version.py DATA_DIR [--expert NAME]

Takes one expert (by default the one in the middle of the byte-ordered list of experts),
copies its highest version file and publishes it as the next patch version
(`1.4.2` -> `1.4.3`, `2.0.0-rc.1` -> `2.0.1`), changing only the `version` line and the
release note in the instruction, so its delegates and skills stay valid. Each run adds
another version. Prints the path of the new file. Standard library only.
"""

import argparse
import os
import re
import sys

SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?"
)


def precedence(v):
    m = SEMVER.fullmatch(v)
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    ids = tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in pre.split("."))
    return (major, minor, patch, 0, ids)


def experts(data_dir):
    out = []
    for entry in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, entry)
        if not os.path.isdir(path):
            continue
        if entry.startswith("@"):
            out.extend(f"{entry}/{e}" for e in sorted(os.listdir(path)))
        else:
            out.append(entry)
    return sorted(out, key=lambda n: n.encode())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--expert", metavar="NAME", help="expert to publish a new version of")
    a = p.parse_args()
    names = experts(a.data_dir)
    if not names:
        p.error(f"no experts in {a.data_dir}")
    name = a.expert or names[len(names) // 2]
    if name not in names:
        p.error(f"no expert {name} in {a.data_dir}")
    expert_dir = os.path.join(a.data_dir, *name.split("/"))
    versions = [f[:-5] for f in os.listdir(expert_dir)
                if f.endswith(".toml") and f != "expert.toml" and SEMVER.fullmatch(f[:-5])]
    if not versions:
        p.error(f"{name} has no versions")
    top = max(versions, key=precedence)
    m = SEMVER.fullmatch(top)
    new = f"{m[1]}.{m[2]}.{int(m[3]) + 1}"
    new_path = os.path.join(expert_dir, new + ".toml")
    if os.path.exists(new_path):
        p.error(f"{new_path} already exists")
    with open(os.path.join(expert_dir, top + ".toml"), encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r'^version = "[^"]*"$', f'version = "{new}"', text, count=1, flags=re.M)
    if n != 1:
        p.error(f"no version line in {name}/{top}.toml")
    text = text.replace(f"version {top}.", f"version {new}.", 1)
    text = text.replace(f"Release {top}.", f"Release {new}.", 1)
    text = re.sub(r"^Changes in [^:\n]*:.*$", f"Changes in {new}: a benchmark patch release.",
                  text, count=1, flags=re.M)
    with open(new_path, "x", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(new_path)


if __name__ == "__main__":
    sys.exit(main())
