#!/usr/bin/env bash
# What a one-version publish costs the build itself, apart from git, in a git checkout.
#
#   bench/one-version.sh CHECKOUT OUT [RUNS]
#
# CHECKOUT is a git repository whose registry-data/ is committed (for example bench/run.sh's,
# or `bench/gen-registry.py CHECKOUT/registry-data ...` then `git init`, `git add`, `git commit`)
# and OUT a `build --no-site` of it made from a clean checkout (so the build recorded its
# commit). Each run adds one version with bench/add-version.py, commits it (untimed), and runs
# `build --no-site` with every git command it starts timed by a wrapper on PATH. It prints the
# build's wall time, the time of its git commands, the difference (the build's own work), and
# the build process's own peak RSS (VmHWM of that process alone: GNU time's %M would report
# git status's, the largest child). The build must say it read only the changed expert.
#
# Environment: PERSTACK_REGISTRY_BIN (default target/release/perstack-registry); WATCHMAN_SOCK
# to have the builds ask a Watchman daemon watching CHECKOUT (README: Watchman).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHECKOUT=$(cd "$1" && pwd)
OUT=$2
RUNS=${3:-3}
BIN=${PERSTACK_REGISTRY_BIN:-$ROOT/target/release/perstack-registry}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

REAL_GIT=$(command -v git)
cat >"$WORK/git" <<WRAP
#!/usr/bin/env bash
start=\$(date +%s%N)
"$REAL_GIT" "\$@"
code=\$?
echo "\$(( \$(date +%s%N) - start )) \$1" >>"$WORK/git.log"
exit \$code
WRAP
chmod +x "$WORK/git"

git_commit() {
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com \
    GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com \
    git -c gc.auto=0 -c maintenance.auto=false -C "$CHECKOUT" "$@"
}

echo "| run | build s | git s (status s) | build without git s | own peak MiB | read |"
echo "| ---: | ---: | ---: | ---: | ---: | --- |"
for run in $(seq "$RUNS"); do
  added=$(python3 "$ROOT/bench/add-version.py" "$CHECKOUT/registry-data")
  git_commit add -- "$added"
  git_commit commit -q -m "one version"
  sync
  : >"$WORK/git.log"
  PATH="$WORK:$PATH" python3 - "$BIN" "$CHECKOUT/registry-data" "$OUT" "$WORK" "$run" <<'PY'
import subprocess, sys, time
binary, data, out, work, run = sys.argv[1:]
started = time.monotonic()
child = subprocess.Popen([binary, "build", "--no-site", "--data", data, "--out", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak = 0
while child.poll() is None:
    try:
        with open(f"/proc/{child.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.002)
wall = time.monotonic() - started
stderr = child.stderr.read().decode()
if child.returncode != 0:
    sys.exit(f"build failed:\n{stderr}")
git_ns = status_ns = 0
for line in open(f"{work}/git.log"):
    ns, command = line.split()
    git_ns += int(ns)
    if command == "status":
        status_ns += int(ns)
read = "changed experts only" if "read only the" in stderr else "everything"
print(f"| {run} | {wall:.2f} | {git_ns/1e9:.2f} ({status_ns/1e9:.2f}) | {wall - git_ns/1e9:.2f} | {peak/1024:.1f} | {read} |")
PY
done
