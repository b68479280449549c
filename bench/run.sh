#!/usr/bin/env bash
# Benchmark `perstack-registry build` against the floor of the same machine.
#
#   bench/run.sh > table.md          progress goes to stderr, the Markdown tables to stdout
#
# For each size (number of version files) it generates a synthetic registry-data/ tree with
# bench/gen-registry.py and measures, with warm caches:
#   floor          cp -r of the input tree, plus b3sum of every input file (xargs, one b3sum
#                  per core); the two are timed separately and their best times added
#   full           build into an empty out dir
#   no-change      rebuild into that out dir with no input change
#   one-version    rebuild after bench/add-version.py added one new patch version (untimed;
#                  each run adds another version, so every run has exactly one new one)
# and then, with GIT=1 (the default), the same two in a git checkout: the data directory is
# made a repository and committed (untimed), one untimed build records the commit, then
#   git no-change    rebuild with nothing changed since that commit
#   git one-version  rebuild after add-version.py and `git commit` of the new file (untimed),
#                    so the build finds it from the diff since the commit it recorded
# and then, with WATCHMAN=1, once more in that checkout with a Watchman daemon of the script's
# own watching it (its socket in the temporary directory; stopped on exit): one untimed build
# records the daemon's clock, then
#   watchman no-change  rebuild with nothing changed, answered by Watchman instead of git
# (at a million versions the watch needs fs.inotify.max_user_watches above ~225,000).
# Timings are the best of RUNS runs; peak RSS (GNU time's %M) is the highest of those runs.
#
# A million versions: SIZES=1000000 PER_EXPERT=5 RUNS=1 bench/run.sh. The input is about
# 4 GiB on ext4 and a full build with the website writes 25 GiB or more (a page per version),
# so put TMPDIR on a file system with room for input, copy and output.
# BUILD_ARGS=--no-site measures the static API alone.
#
# Fairness on ext4: every measured run starts after `sync`, so no run pays for the write-back
# of the one before, and every copy and full build goes into a fresh directory, with all
# deletions left to the end of a size. On an ext4 file system without a journal, inodes freed
# in the last minutes are skipped one by one when new files are created (`recently_deleted` in
# the kernel), so a run made right after `rm -rf` of a large tree is much slower (we saw a
# full build go from 18 s to 30 s) than the same run on a quiet file system.
#
# Environment:
#   SIZES="10000 100000"    sizes to run
#   RUNS=3                  runs per measurement (best time is kept)
#   PER_EXPERT=10           versions per expert in the generated data
#   SEED=1                  generator seed
#   PERSTACK_REGISTRY_BIN   use this binary instead of building target/release/perstack-registry
#   GIT=1                   also measure the rebuilds in a git checkout (0 to skip; needs git)
#   WATCHMAN=0              1 also measures the git no-change rebuild with Watchman (needs GIT=1
#                           and watchman)
#   BUILD_ARGS=             extra arguments for every build (e.g. --no-site)
#
# Needs: python3 (stdlib only), GNU time at /usr/bin/time, and b3sum. Debian's b3sum package
# is too old; if b3sum is not on PATH this script runs `cargo install b3sum --locked`.
# Data is generated under a temporary directory (mktemp -d) that is removed on exit; the
# 100k tree takes ~450 MiB on disk, and each of the RUNS copies and full builds keeps its own
# directory until then (about 5 GiB in all at 100k with RUNS=3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=${SIZES:-"10000 100000"}
RUNS=${RUNS:-3}
PER_EXPERT=${PER_EXPERT:-10}
SEED=${SEED:-1}
GIT=${GIT:-1}
WATCHMAN=${WATCHMAN:-0}
read -r -a BUILD_ARGS <<<"${BUILD_ARGS:-}"
TIME=/usr/bin/time

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

[[ -x $TIME ]] || die "GNU time not found at $TIME (apt-get install time)"
"$TIME" -f '%e %M' true 2>/dev/null || die "$TIME does not accept -f: GNU time is needed"
command -v python3 >/dev/null || die "python3 not found"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
if [[ $GIT == 1 ]]; then command -v git >/dev/null || die "git not found (GIT=0 skips the git rows)"; fi
if [[ $WATCHMAN == 1 ]]; then
  [[ $GIT == 1 ]] || die "WATCHMAN=1 needs GIT=1"
  command -v watchman >/dev/null || die "watchman not found (apt-get install watchman)"
fi

# b3sum: prefer the one cargo installs (recent, multi-threaded); Debian's is too old.
if ! command -v b3sum >/dev/null; then
  if [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/b3sum ]]; then
    PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
  else
    log "b3sum not on PATH: cargo install b3sum --locked"
    cargo install b3sum --locked >&2
    PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
  fi
fi

if [[ -n ${PERSTACK_REGISTRY_BIN:-} ]]; then
  BIN=$PERSTACK_REGISTRY_BIN
else
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release >&2)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/perstack-registry
fi
[[ -x $BIN ]] || die "no binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/perstack-bench.XXXXXX")
# Whatever the tools leave in the temporary directory goes with the rest (the build asks
# `watchman --no-spawn`, which makes its state directory there even when no daemon runs).
export TMPDIR=$WORK
WATCHMAN_PID=
stop_watchman() { if [[ -n $WATCHMAN_PID ]]; then kill "$WATCHMAN_PID" 2>/dev/null || true; wait "$WATCHMAN_PID" 2>/dev/null || true; WATCHMAN_PID=; fi; }
trap 'stop_watchman; rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# measure CMD...: runs CMD under GNU time; sets NS (wall time in ns, from date +%s%N, finer
# than %e) and KB (peak RSS in KiB, GNU time's %M). A failing command stops the benchmark.
NS=0
KB=0
measure() {
  local start end
  start=$(date +%s%N)
  if ! "$TIME" -f '%e %M' -o "$WORK/time" "$@" >"$WORK/stdout" 2>"$WORK/stderr"; then
    log "command failed: $*"
    cat "$WORK/stderr" >&2
    exit 1
  fi
  end=$(date +%s%N)
  NS=$((end - start))
  KB=$(awk 'END { print $2 }' "$WORK/time")
}

# best N PREP CMD...: N times, runs PREP (untimed; `:` for nothing; it may set RUN_DIR, which
# CMD can name as '{}'), syncs, then measures CMD. RUN is the run number (0-based).
# BEST_NS is the fastest run, MAX_KB the highest peak RSS.
RUN=0
RUN_DIR=
best() {
  local n=$1 prep=$2 i arg
  shift 2
  BEST_NS=
  MAX_KB=0
  for ((i = 0; i < n; i++)); do
    RUN=$i
    $prep
    local cmd=()
    for arg in "$@"; do cmd+=("${arg//\{\}/$RUN_DIR}"); done
    sync
    measure "${cmd[@]}"
    if [[ -z $BEST_NS ]] || ((NS < BEST_NS)); then BEST_NS=$NS; fi
    if ((KB > MAX_KB)); then MAX_KB=$KB; fi
  done
}

secs() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e9 }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.0f", kb / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
label() { if (($1 % 1000 == 0)); then echo "$(($1 / 1000))k"; else echo "$1"; fi; }
serial() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["serial"])' "$1/v1/root.json" 2>/dev/null || echo "?"; }

# Untimed steps run before each measured run; they read $data, $out, $copy and $RUN.
fresh_copy() { RUN_DIR=$copy-$RUN; }
fresh_out() { RUN_DIR=$out-$RUN && mkdir "$RUN_DIR"; }
add_one() { python3 "$ROOT/bench/add-version.py" "$data" >/dev/null; }
# git in the repository holding the data directory (its parent: a .git inside registry-data/
# would be refused as not part of the format), with no user or system configuration, and
# without automatic gc: committing 100k loose objects starts a detached `git gc --auto` that
# competed with the timed builds for the two cores (and with the removal of the tree).
git_data() {
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com \
    GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com git -c gc.auto=0 -c maintenance.auto=false -C "$(dirname "$data")" "$@"
}
add_one_committed() { add_one && git_data add -A registry-data && git_data commit -q -m "one version"; }
hash_all() { find "$1" -type f -print0 | xargs -0 -P "$(nproc)" -n 2000 b3sum >/dev/null; }
export -f hash_all

MAIN_ROWS=()
DETAIL_ROWS=()
GIT_ROWS=()
WATCHMAN_ROWS=()
for n in $SIZES; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad size '$n' in SIZES"
  data=$WORK/data-$n/registry-data
  out=$WORK/out-$n
  copy=$WORK/copy-$n

  log "== $(label "$n"): generating $n versions"
  measure python3 "$ROOT/bench/gen-registry.py" "$data" --versions "$n" --per-expert "$PER_EXPERT" --seed "$SEED"
  gen_ns=$NS
  experts=$(( (n + PER_EXPERT - 1) / PER_EXPERT ))
  input_mib=$(du -sm "$data" | cut -f1)

  log "   floor: cp -r, b3sum (best of $RUNS)"
  best "$RUNS" fresh_copy cp -r "$data" {}
  cp_ns=$BEST_NS
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  best "$RUNS" : bash -c 'hash_all "$1"' _ "$data"
  hash_ns=$BEST_NS
  floor_ns=$((cp_ns + hash_ns))

  log "   full build into an empty out dir (best of $RUNS)"
  best "$RUNS" fresh_out "$BIN" build --data "$data" --out {} --quiet "${BUILD_ARGS[@]}"
  full_ns=$BEST_NS full_kb=$MAX_KB
  out=$RUN_DIR # the rebuilds go to the last full build's directory
  serial_before=$(serial "$out")

  log "   no-change rebuild (best of $RUNS)"
  best "$RUNS" : "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}"
  same_ns=$BEST_NS same_kb=$MAX_KB
  serial_after=$(serial "$out")
  if [[ $serial_before != "$serial_after" ]]; then
    log "   warning: serial moved from $serial_before to $serial_after on a no-change rebuild"
  fi

  log "   one-version rebuild (best of $RUNS, one new version each)"
  best "$RUNS" add_one "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}"
  one_ns=$BEST_NS one_kb=$MAX_KB
  serial_one=$(serial "$out")
  if [[ $serial_one != "?" && $serial_after != "?" && $serial_one != $((serial_after + RUNS)) ]]; then
    log "   warning: serial went from $serial_after to $serial_one over $RUNS one-version rebuilds"
  fi

  git_same_ns= git_one_ns= git_same_kb=0 git_one_kb=0
  if [[ $GIT == 1 ]]; then
    log "   git checkout: git init and commit the data (untimed), one build to record the commit"
    git_data init -q
    git_data add -A registry-data
    git_data commit -q -m "generated registry"
    "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}" >/dev/null
    log "   git no-change rebuild (best of $RUNS)"
    best "$RUNS" : "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}"
    git_same_ns=$BEST_NS git_same_kb=$MAX_KB
    log "   git one-version rebuild, committed (best of $RUNS)"
    best "$RUNS" add_one_committed "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}"
    git_one_ns=$BEST_NS git_one_kb=$MAX_KB
    if [[ $WATCHMAN == 1 ]]; then
      log "   watchman: a daemon of our own watches the checkout (untimed), one build records its clock"
      export WATCHMAN_SOCK=$WORK/watchman.sock
      watchman --foreground --no-save-state --sockname="$WATCHMAN_SOCK" --logfile="$WORK/watchman.log" \
        --pidfile="$WORK/watchman.pid" --statefile="$WORK/watchman.state" </dev/null >/dev/null 2>&1 &
      WATCHMAN_PID=$!
      for _ in $(seq 100); do watchman --no-spawn --no-local --sockname="$WATCHMAN_SOCK" get-pid >/dev/null 2>&1 && break; sleep 0.1; done
      watchman --no-spawn --no-local --sockname="$WATCHMAN_SOCK" watch-project "$(dirname "$data")" >/dev/null
      # The one-version rebuilds' files are too recent for their stamps to be trusted (3 s), so
      # the build right after them leaves no record to skip to: wait, then build twice.
      sleep 4
      "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}" >/dev/null
      "$BIN" build --data "$data" --out "$out" --quiet "${BUILD_ARGS[@]}" >/dev/null
      log "   watchman no-change rebuild (best of $RUNS)"
      best "$RUNS" : "$BIN" build --data "$data" --out "$out" "${BUILD_ARGS[@]}"
      grep -q "nothing changed since the last build" "$WORK/stderr" || die "the no-change rebuild with watchman did not take the shortcut: $(cat "$WORK/stderr")"
      WATCHMAN_ROWS+=("| $(label "$n") | $(secs "$git_same_ns") | $(mib "$git_same_kb") | $(secs "$BEST_NS") | $(mib "$MAX_KB") |")
      stop_watchman
      unset WATCHMAN_SOCK
    fi
  fi

  peak_kb=$full_kb
  if ((same_kb > peak_kb)); then peak_kb=$same_kb; fi
  if ((one_kb > peak_kb)); then peak_kb=$one_kb; fi

  MAIN_ROWS+=("| $(label "$n") | $(secs "$floor_ns") | $(secs "$full_ns") | $(secs "$same_ns") | $(secs "$one_ns") | $(mib "$peak_kb") | $(ratio "$full_ns" "$floor_ns") | $(ratio "$same_ns" "$full_ns") | $(ratio "$one_ns" "$full_ns") |")
  if [[ $GIT == 1 ]]; then
    GIT_ROWS+=("| $(label "$n") | $(secs "$floor_ns") | $(secs "$full_ns") | $(secs "$git_same_ns") | $(secs "$git_one_ns") | $(mib "$git_same_kb") | $(mib "$git_one_kb") | $(ratio "$git_same_ns" "$full_ns") | $(ratio "$git_one_ns" "$full_ns") |")
  fi
  DETAIL_ROWS+=("| $(label "$n") | $n | $experts | $input_mib | $(secs "$gen_ns") | $(secs "$cp_ns") | $(secs "$hash_ns") | $(mib "$full_kb") | $(mib "$same_kb") | $(mib "$one_kb") |")
  # Nothing is deleted until the script exits (the EXIT trap), so no size is measured on a
  # file system still skipping the inodes the last one freed.
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
echo "Machine: $(nproc) cores${cpu:+, $cpu}${mem:+, $mem}; $(b3sum --version); $("$BIN" --version 2>/dev/null || echo perstack-registry); $(git --version 2>/dev/null || true); best of $RUNS runs, warm caches${BUILD_ARGS[*]:+, builds with ${BUILD_ARGS[*]}}."
echo
echo "| versions | floor copy+b3sum s | full build s | no-change rebuild s | one-version rebuild s | peak MiB | full/floor | no-change/full | one-version/full |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${MAIN_ROWS[@]}"
echo
echo "| versions | version files | experts | input MiB (du) | generate s | floor cp -r s | floor b3sum s | peak MiB full | peak MiB no-change | peak MiB one-version |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${DETAIL_ROWS[@]}"
if [[ $GIT == 1 ]]; then
  echo
  echo "In a git checkout (the one-version rebuild's new file committed before the build):"
  echo
  echo "| versions | floor copy+b3sum s | full build s | git no-change rebuild s | git one-version rebuild s | peak MiB git no-change | peak MiB git one-version | git no-change/full | git one-version/full |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${GIT_ROWS[@]}"
fi
if [[ $WATCHMAN == 1 ]]; then
  echo
  echo "The no-change rebuild in that checkout, answered by git and by Watchman (its daemon's memory not counted):"
  echo
  echo "| versions | git no-change rebuild s | peak MiB | watchman no-change rebuild s | peak MiB |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${WATCHMAN_ROWS[@]}"
fi
