#!/usr/bin/env bash
# Measures how long `build` spends on the website, for a registry of many experts.
#
#   bench/site.sh [--experts N] [DATA_DIR]
#
# With DATA_DIR (a registry-data/ tree, e.g. one made by bench/gen-registry.py) it measures that
# registry; otherwise it generates a synthetic one of N experts (default 10000) in a temporary
# directory, deterministically (fixed seed). It reports, in seconds:
#   api        a full build without the site (--no-site) into an empty directory
#   noop-api   the same build again, nothing to write (the fixed cost of loading and checking)
#   site-full  a build that adds the site to that registry: every page rendered and written
#   site-noop  the same build again: every page rendered, none written
#   site-incr  after adding one version to one expert: pages rendered, the changed ones written
#   site-new   after adding a new expert published after all others; then the site files the
#              deploy plan rewrites, in all, under search/, and by kind (search/d: delta term
#              shards, search/t: base term shards)
#   manifest   the website manifest (v1/site/) after site-full: documents, bytes, depth, files;
#              after site-incr and site-new, the documents and bytes that build added (its
#              plan's site-manifest), the largest of them, and the site files beside them
# The site's own cost is site-full (or site-noop) minus noop-api. After site-full it lists the
# largest page of each kind (expert, version, scope, ...), in bytes and gzipped.
# Results: bench/SITE-RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

experts=10000
data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --experts) experts="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) data="$1"; shift ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "$data" ]; then
  # Work on a copy: the incremental step adds a version file.
  cp -r "$data" "$work/registry-data"
  data="$work/registry-data"
else
  data="$work/registry-data"
  python3 - "$data" "$experts" <<'PY'
import os, random, sys

root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = ("research summarise report email calendar review code test deploy search web "
         "data analyse chart slack notify issue triage answer draft translate plan write "
         "invoice budget forecast schedule meeting ticket support docs index crawl fetch "
         "extract classify label monitor alert security audit compliance refactor migrate").split()
scopes = [f"org{n:03d}" for n in range(count // 20 or 1)]
names = []
for n in range(count):
    local = f"{rng.choice(words)}-{rng.choice(words)}-{n}"
    name = local if n % 10 == 0 else f"@{rng.choice(scopes)}/{local}"
    names.append(name)
    versions = [f"1.{minor}.0" for minor in range(rng.randint(1, 4))]
    for version in versions:
        description = " ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize()
        delegates = sorted({names[rng.randrange(len(names) - 1)] for _ in range(rng.randint(0, 3))} - {name}) if n else []
        body = "\n".join(" ".join(rng.choice(words) for _ in range(14)) for _ in range(30))
        env = rng.choice(["", "GH_TOKEN", "SLACK_TOKEN", "API_KEY"])
        text = (
            f'[experts."{name}"]\nversion = "{version}"\ndescription = "{description}"\n'
            f'tags = ["{rng.choice(words)}"]\ninstruction = """\n{body}\n"""\n'
            f'delegates = [{", ".join(repr(d).replace(chr(39), chr(34)) for d in delegates)}]\n\n'
            f'[experts."{name}".skills."@perstack/base"]\ntype = "mcpStdioSkill"\ncommand = "npx"\n'
            f'packageName = "@perstack/base"\npick = ["readTextFile", "think", "attemptCompletion"]\n'
            + (f'requiredEnv = ["{env}"]\n' if env else "")
        )
        path = os.path.join(root, *name.split("/"), f"{version}.toml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
PY
fi

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/perstack-registry"
out="$work/out"

seconds() {
  local TIMEFORMAT=%R
  { time "$@" >/dev/null; } 2>&1
}

pages() { find "$out" -name '*.html' | wc -l; }

echo "data: $data ($(find "$data" -name '*.toml' ! -name expert.toml ! -name registry.toml | wc -l) version files)"
echo "api        $(seconds "$bin" build --quiet --no-site --data "$data" --out "$out")"
echo "noop-api   $(seconds "$bin" build --quiet --no-site --data "$data" --out "$out")"
echo "site-full  $(seconds "$bin" build --quiet --data "$data" --out "$out")  ($(pages) pages, $(du -sh --apparent-size --exclude=v1 --exclude=.perstack-build "$out" | cut -f1) of site)"
# The largest page of each kind: the first directory of its path, expert and version pages
# apart; the Perstack API documents under api/ are JSON, not pages.
find "$out" -name '*.html' ! -path "$out/api/*" -printf '%s %P\n' | awk '
  { kind = $2; sub(/\/.*/, "", kind)
    if (kind == "experts") kind = ($2 ~ /\/index\.html$/) ? "expert" : "version"
    if ($1 > max[kind]) { max[kind] = $1; at[kind] = $2 } }
  END { for (k in max) print k, max[k], at[k] }' | sort | while read -r kind bytes path; do
  printf 'largest    %-8s %9d bytes, %7d gzipped  %s\n' "$kind" "$bytes" "$(gzip -9c "$out/$path" | wc -c)" "$path"
done
manifest() {
  local docs bytes
  docs="$(find "$out/v1/site" -type f | wc -l)"
  bytes="$(find "$out/v1/site" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')"
  python3 - "$out/v1/root.json" "$docs" "$bytes" <<'PY'
import json, sys
site = json.load(open(sys.argv[1]))["site"]
print(f"manifest   {sys.argv[2]} documents, {sys.argv[3]} bytes, depth {site['depth']}, "
      f"{site['files']} files, top {site['size']} bytes")
PY
}
manifest
echo "site-noop  $(seconds "$bin" build --quiet --data "$data" --out "$out")"
first="$(find "$data" -name 1.0.0.toml | sort | awk "NR == 1")"
sed 's/^version = "1.0.0"/version = "9.0.0"/' "$first" > "$(dirname "$first")/9.0.0.toml"
echo "site-incr  $(seconds "$bin" build --quiet --data "$data" --out "$out")"
# The manifest documents the last build added (its plan's site-manifest), after site-incr and
# after site-new.
manifest_added() {
  python3 - "$out" "$1" <<'PY'
import json, os, sys
out = sys.argv[1]
plan = json.load(open(os.path.join(out, ".perstack-build", "plan.json")))
new = [os.path.getsize(os.path.join(out, f["path"])) for f in plan["files"] if f["kind"] == "site-manifest"]
site = [f["path"] for f in plan["files"] if f["kind"] == "site"]
print(f"{sys.argv[2]} {len(new)} new documents, {sum(new)} bytes, largest {max(new, default=0)} "
      f"(beside {len(site)} site files rewritten)")
PY
}
manifest_added manifest-incr
# A new expert, published after every other (a `published` time later than any the data
# holds), in the scope of an existing one: what the deploy plan rewrites on the website, by
# kind of file. Experts are numbered in publish order and listings cut where names say, so
# this is a few files, not every record file, bucket and listing page after its name.
src="$(find "$data" -mindepth 3 -name '*.toml' ! -name expert.toml -path "$data/@*" | sort | awk 'NR == 1')"
scope_dir="$(dirname "$(dirname "$src")")"
old_name="$(basename "$scope_dir")/$(basename "$(dirname "$src")")"
new_name="$(basename "$scope_dir")/newcomer"
mkdir -p "$scope_dir/newcomer"
sed -e "s#$old_name#$new_name#g" -e 's/^version = ".*"/version = "1.0.0"/' "$src" > "$scope_dir/newcomer/1.0.0.toml"
printf '[versions."1.0.0"]\npublished = "2099-01-01T00:00:00Z"\n' > "$scope_dir/newcomer/expert.toml"
echo "site-new   $(seconds "$bin" build --quiet --data "$data" --out "$out")  ($new_name)"
python3 - "$out" <<'PY'
import collections, json, os, sys
out = sys.argv[1]
plan = json.load(open(os.path.join(out, ".perstack-build", "plan.json")))
by = collections.defaultdict(lambda: [0, 0])
for f in plan["files"]:
    if f["kind"] != "site":
        continue
    path = f["path"]
    kind = "/".join(path.split("/")[:2]) if path.startswith(("search/", "scopes/")) else path.split("/")[0]
    if path.startswith("scopes/"):
        kind = "scopes"
    by[kind][0] += 1
    by[kind][1] += os.path.getsize(os.path.join(out, path))
files = sum(n for n, _ in by.values())
size = sum(b for _, b in by.values())
search = [(n, b) for k, (n, b) in by.items() if k.startswith("search/")]
print(f"new-expert {files} site files rewritten, {size} bytes "
      f"(search/: {sum(n for n, _ in search)} files, {sum(b for _, b in search)} bytes): " +
      ", ".join(f"{k} {n} ({b} B)" for k, (n, b) in sorted(by.items())))
PY
manifest_added manifest-new
