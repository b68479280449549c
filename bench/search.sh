#!/usr/bin/env bash
# Measures search at scale: what a query downloads and how soon its results show.
#
#   bench/search.sh [--experts N] [--keep DIR]
#
# Generates a registry of N experts (default 100000, one version each) with
# bench/gen-registry.py (fixed seed), builds it with the site (release build, timed), and runs
# each query below in a fresh headless Chromium context (nothing cached) through
# tests/browser/check-search.mjs --measure, which serves the site on 127.0.0.1 itself. It
# prints, per query: the results, the requests made, the bytes of the search files and of
# everything the page loaded (page, styles, script, icon) as gzip level 6 would send them,
# the milliseconds from navigation to results on screen, from the search starting to results
# on screen, and for the same search again with its files cached (the script's own work).
# Then the size of the index. With --keep DIR the generated data, the built site and the raw
# measurements stay in DIR. Results: bench/SITE-RESULTS.md.
#
# Needs python3, node, Debian's chromium (or CHROMIUM=...) and `npm ci --prefix tests/browser`.
set -euo pipefail
cd "$(dirname "$0")/.."

experts=100000
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --experts) experts="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  work="$(cd "$keep" && pwd)"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
data="$work/registry-data"
site="$work/site"

if [ ! -d "$data" ]; then
  mkdir -p "$data"
  python3 bench/gen-registry.py "$data" --versions "$experts" --per-expert 1
fi

cargo build --release --quiet
bin="$PWD/target/release/perstack-registry"

seconds() {
  local TIMEFORMAT=%R
  { time "$@" >/dev/null; } 2>&1
}

rm -rf "$site"
echo "build, API and site, empty directory: $(seconds "$bin" build --quiet --data "$data" --out "$site/registry") s"
echo "build again, nothing changed:          $(seconds "$bin" build --quiet --data "$data" --out "$site/registry") s"

# Real names from the generated data: one unscoped, one scoped, and a scope.
unscoped="$(find "$data" -mindepth 1 -maxdepth 1 -type d -name 'expert-*' | sort | awk 'NR == 1' | xargs basename)"
scoped_dir="$(find "$data" -mindepth 2 -maxdepth 2 -type d -path '*/@org-*' | sort | awk 'NR == 1')"
scope="$(basename "$(dirname "$scoped_dir")")"
scoped="$scope/$(basename "$scoped_dir")"

python3 - "$work/queries.json" "$unscoped" "$scoped" "$scope" <<'PY'
import json, sys
from urllib.parse import urlencode
out, unscoped, scoped, scope = sys.argv[1:]
queries = [
    {"q": unscoped},                    # exact name, unscoped
    {"q": scoped},                      # exact name, scoped
    {"q": scope},                       # a scope's experts
    {"q": "release"},                   # in every description
    {"q": "invoice"},                   # a common word
    {"q": "reserch"},                   # one typo
    {"q": "summ"},                      # a prefix
    {"q": "re"},                        # a two-letter prefix
    {"q": "coding"},                    # a category
    {"q": "GITHUB_TOKEN"},              # an environment variable
    {"q": "find the research"},         # stop words
    {"q": "invoice budget"},            # two words
    {"q": "report", "env": "yes", "sort": "name"},  # filters
]
json.dump({"queries": [urlencode(q) for q in queries]}, open(out, "w"))
PY

node tests/browser/check-search.mjs --serve "$site" /registry/ "$work/queries.json" --measure \
  > "$work/measured.json"

python3 - "$work/measured.json" "$site/registry" <<'PY'
import gzip, json, os, sys
from urllib.parse import unquote_plus
report = json.load(open(sys.argv[1]))
if report["problems"]:
    print("problems:", *report["problems"], sep="\n  ")
print()
print("| query | results | requests | search files, KB gzip | everything, KB gzip "
      "| ms to results | ms searching | ms again, cached |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m in report["measured"]:
    query = unquote_plus(m["query"])
    status = m["status"].split(";")[0].rstrip(".")
    print(f"| `{query}` | {status} | {m['requests']} | {m['searchGzip'] / 1024:.1f} "
          f"| {m['totalGzip'] / 1024:.1f} | {m['ms']} | {m['searchMs']} | {m['warmMs']} |")
root = sys.argv[2]
sizes = {}
for kind in ["t", "k", "r"]:
    folder = os.path.join(root, "search", kind)
    files = [os.path.join(folder, f) for f in os.listdir(folder)]
    raw = [os.path.getsize(f) for f in files]
    packed = [len(gzip.compress(open(f, "rb").read(), 6)) for f in files]
    sizes[kind] = (len(files), sum(raw), max(raw), max(packed))
manifest = open(os.path.join(root, "search/index.json"), "rb").read()
print()
print(f"manifest: {len(manifest) / 1024:.1f} KB, {len(gzip.compress(manifest, 6)) / 1024:.1f} KB gzip")
for kind, label in [("t", "term shards"), ("k", "exact-name files"), ("r", "record files")]:
    count, total, largest, largest_gz = sizes[kind]
    print(f"{label}: {count} files, {total / 1048576:.1f} MB, largest {largest / 1024:.1f} KB "
          f"({largest_gz / 1024:.1f} KB gzip)")
PY
