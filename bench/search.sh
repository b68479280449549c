#!/usr/bin/env bash
# Measures search at scale: what a query downloads and how soon its results show.
#
#   bench/search.sh [--experts N] [--keep DIR] [--no-build]
#
# Generates a registry of N experts (default 100000, one version each) with
# bench/gen-registry.py (fixed seed), builds it with the site (release build, timed), and runs
# each query below in a fresh headless Chromium context (nothing cached) through
# tests/browser/check-search.mjs --measure, the site served on 127.0.0.1 by
# `perstack-registry serve`. It prints, per query: the results, the requests made, the bytes
# of the search files and of everything the page loaded (page, styles, script, icon) as gzip
# level 6 would send them, and the milliseconds to results on screen: from navigation, from
# the page's HTML arriving (leaving out the new browser context starting up), from the search
# starting, and for the same search again with its files cached (the script's own work).
# Then the size of the index. With --keep DIR the generated data, the built site and the raw
# measurements stay in DIR, and --no-build measures the site already built there.
# Results: bench/SITE-RESULTS.md. PERSTACK_REGISTRY_BIN=path uses that binary instead of
# building target/release/perstack-registry.
#
# Needs python3, node, Debian's chromium (or CHROMIUM=...) and `npm ci --prefix tests/browser`.
set -euo pipefail
cd "$(dirname "$0")/.."

experts=100000
keep=""
no_build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --experts) experts="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --no-build) no_build=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  work="$(cd "$keep" && pwd)"
else
  work="$(mktemp -d)"
fi
data="$work/registry-data"
site="$work/site"

if [ ! -d "$data" ]; then
  mkdir -p "$data"
  python3 bench/gen-registry.py "$data" --versions "$experts" --per-expert 1
fi

if [ -n "${PERSTACK_REGISTRY_BIN:-}" ]; then
  bin="$PERSTACK_REGISTRY_BIN"
else
  cargo build --release --quiet
  bin="$PWD/target/release/perstack-registry"
fi

seconds() {
  local TIMEFORMAT=%R
  { time "$@" >/dev/null; } 2>&1
}

if [ -z "$no_build" ]; then
  rm -rf "$site"
  echo "build, API and site, empty directory: $(seconds "$bin" build --quiet --data "$data" --out "$site/registry") s"
  echo "build again, nothing changed:          $(seconds "$bin" build --quiet --data "$data" --out "$site/registry") s"
fi

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
    {"q": "report", "env": "yes", "sort": "newest"},  # filters
]
json.dump({"queries": [urlencode(q) for q in queries]}, open(out, "w"))
PY

# The site is served by `perstack-registry serve` (hyper, keep-alive), as a person trying a
# registry locally would, in its own process so that serving does not compete with the
# browser driver for one event loop.
"$bin" serve "$site/registry" --listen 127.0.0.1:0 > "$work/serve.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; [ -n "$keep" ] || rm -rf "$work"' EXIT
for _ in $(seq 100); do
  url="$(sed -n 's/^serving .* at \(http:[^ ]*\)$/\1/p' "$work/serve.out")"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.out" >&2; exit 1; }

node tests/browser/check-search.mjs "$url/" "$work/queries.json" --measure > "$work/measured.json"

python3 - "$work/measured.json" "$site/registry" <<'PY'
import gzip, json, os, sys
from urllib.parse import unquote, unquote_plus
report = json.load(open(sys.argv[1]))
root = sys.argv[2]
if report["problems"]:
    print("problems:", *report["problems"], sep="\n  ")

def sizes(path):
    """Bytes of a served file, raw and as gzip level 6 (what a host compressing on the fly sends)."""
    relative = unquote(path).lstrip("/")
    file = os.path.join(root, relative)
    if relative == "" or os.path.isdir(file):
        file = os.path.join(file, "index.html")
    body = open(file, "rb").read()
    return len(body), len(gzip.compress(body, 6))

print()
print("| query | results | requests | search files, KB gzip | everything, KB gzip "
      "| ms to results | ms from the page's arrival | ms searching | ms again, cached |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for m in report["measured"]:
    query = unquote_plus(m["query"])
    status = m["status"].split(";")[0].rstrip(".")
    files = [(f["path"], *sizes(f["path"])) for f in m["files"]]
    search_gzip = sum(z for path, _, z in files if "/search/" in path)
    total_gzip = sum(z for _, _, z in files)
    # The page's own response ends the part a fresh browser context spends starting up.
    arrived = next(f["end"] for f in m["files"] if f["path"].endswith("/search.html"))
    print(f"| `{query}` | {status} | {len(files)} | {search_gzip / 1024:.1f} "
          f"| {total_gzip / 1024:.1f} | {m['ms']} | {m['ms'] - arrived} | {m['searchMs']} "
          f"| {m['warmMs']} |")
index_sizes = {}
manifest_doc = json.loads(open(os.path.join(root, "search/index.json"), "rb").read())
listed = {
    "t": manifest_doc["shards"],
    "d": manifest_doc["delta"]["shards"],
}
def stem(key):
    if all(c.islower() and c.isascii() or c.isdigit() for c in key):
        return key
    return "u-" + key.encode().hex()
for kind in ["t", "d", "k", "r"]:
    folder = os.path.join(root, "search", kind)
    # The term shards the manifest lists: an earlier build's delta shards may still be there.
    names = ([stem(key) + ".json" for key in listed[kind]] if kind in listed
             else os.listdir(folder))
    files = [os.path.join(folder, f) for f in names]
    if not files:
        index_sizes[kind] = (0, 0, 0, 0)
        continue
    raw = [os.path.getsize(f) for f in files]
    packed = [len(gzip.compress(open(f, "rb").read(), 6)) for f in files]
    index_sizes[kind] = (len(files), sum(raw), max(raw), max(packed))
manifest = open(os.path.join(root, "search/index.json"), "rb").read()
print()
print(f"manifest: {len(manifest) / 1024:.1f} KB, {len(gzip.compress(manifest, 6)) / 1024:.1f} KB gzip")
for kind, label in [("t", "base term shards"), ("d", "delta term shards"),
                    ("k", "exact-name files"), ("r", "record files")]:
    count, total, largest, largest_gz = index_sizes[kind]
    print(f"{label}: {count} files, {total / 1048576:.1f} MB, largest {largest / 1024:.1f} KB "
          f"({largest_gz / 1024:.1f} KB gzip)")
PY
