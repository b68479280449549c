#!/bin/sh
# What format 2's hashed bins cost at a large registry: the bytes and requests of a cold resolve,
# of the same client's resolve after one publish elsewhere, of a mirror brought up to date after
# that publish, and the metadata a one-version publish adds to the deploy plan.
#
#   bench/bins.sh                       # 200,000 experts, one version each
#   EXPERTS=20000 bench/bins.sh         # a smaller registry
#   MIRROR=1 bench/bins.sh              # also mirror it (needs room for a second copy)
#
# Bins depend on the number of experts only (a leaf lists index documents by hash and size), so
# one version per expert measures them at a fraction of the build time. The registry is served
# by a small Python server that logs each file it sends and its size; every client run has a
# cache of its own. Needs python3, a release build (cargo build --release), and room in $WORK
# for the data and the built registry (about 6 GB at 200,000 experts; 12 GB with MIRROR=1).
#
# Without MIRROR=1, what a full mirror would transfer after the publish is printed from the
# plan: the files a mirror lacks are exactly the new blob, index document, bins and root
# (tests/bins.rs, mirroring_after_one_publish_transfers_only_what_changed, checks that).
set -eu

EXPERTS=${EXPERTS:-200000}
WORK=${WORK:-/tmp/perstack-bins-bench}
BIN=${BIN:-$(pwd)/target/release/perstack-registry}
PORT=${PORT:-8719}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ ! -d "$WORK/data" ]; then
    python3 "$HERE/gen-registry.py" "$WORK/data" --versions "$EXPERTS" --per-expert 1 --seed 1 >/dev/null
fi
rm -rf "$WORK/cache" "$WORK/mirror" "$WORK/served.log"
if [ -z "${REUSE:-}" ] || [ ! -f "$WORK/dist/v1/root.json" ]; then
    rm -rf "$WORK/dist"
    "$BIN" build --quiet --no-site --data "$WORK/data" --out "$WORK/dist"
fi

python3 - "$WORK/dist" "$PORT" "$WORK/served.log" <<'EOF' &
import http.server, os, sys
root, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)
    def log_message(self, *args):
        pass
    def send_head(self):
        head = super().send_head()
        if head is not None:
            path = self.translate_path(self.path)
            with open(log, "a") as f:
                f.write(f"{self.path.lstrip('/')}\t{os.path.getsize(path)}\n")
        return head
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
EOF
SERVER=$!
trap 'kill $SERVER' EXIT
sleep 1
URL="http://127.0.0.1:$PORT/"

# Prints "<requests> requests, <bytes> bytes" for what the server sent since the last call.
sent() {
    touch "$WORK/served.log"
    awk -F'\t' '{ n++; b += $2 } END { printf "%d requests, %d bytes\n", n, b }' "$WORK/served.log"
    cat "$WORK/served.log" | sed 's/^/    /'
    : >"$WORK/served.log"
}

# The first expert of the first leaf: any expert will do (the publish below adds a version to
# the expert in the middle of the name order, which with 63 chances in 64 sits under another
# top-level slot).
KEY=$(python3 - "$WORK/dist" <<'EOF'
import json, os, sys
out = sys.argv[1]
read = lambda h: json.load(open(os.path.join(out, "v1/bins", h + ".json")))
bin = read(json.load(open(os.path.join(out, "v1/root.json")))["bins"]["blake3"])
while "bins" in bin:
    bin = read(next(iter(bin["bins"].values()))["blake3"])
print(next(iter(bin["experts"])))
EOF
)
echo "registry: $EXPERTS experts; root: $(tr -d '\n ' <"$WORK/dist/v1/root.json" | sed 's/"generator.*//')"
echo "bins: $(ls "$WORK/dist/v1/bins" | wc -l) files, $(du -sb "$WORK/dist/v1/bins" | cut -f1) bytes"
echo "key: $KEY"

echo "== cold resolve"
"$BIN" resolve "$KEY" --registry "$URL" --cache "$WORK/cache" >/dev/null
sent

if [ -n "${MIRROR:-}" ]; then
    echo "== mirror (full, cold)"
    "$BIN" mirror "$URL" "$WORK/mirror" --quiet
    : >"$WORK/served.log"
fi

echo "== one publish elsewhere"
python3 "$HERE/add-version.py" "$WORK/data"
"$BIN" build --quiet --no-site --data "$WORK/data" --out "$WORK/dist"
"$BIN" plan --out "$WORK/dist" --format json | python3 -c '
import json, os, sys
plan = json.load(sys.stdin)
out = sys.argv[1]
size = lambda p: os.path.getsize(os.path.join(out, p))
meta = [f["path"] for f in plan["files"] if f["kind"] in ("index", "bin", "readable", "root")]
print("plan: %d files; metadata (index, bins, readable, root): %d files, %d bytes" % (
    len(plan["files"]), len(meta), sum(size(p) for p in meta)))
for p in meta:
    print("    %s\t%d" % (p, size(p)))
lacks = [f["path"] for f in plan["files"] if f["kind"] in ("blob", "index", "bin", "root")]
print("a full mirror lacks: %d files, %d bytes (%d without the blob)" % (
    len(lacks), sum(size(p) for p in lacks),
    sum(size(p) for p in lacks if not p.startswith("v1/blobs/"))))
' "$WORK/dist"

echo "== resolve again after the publish"
"$BIN" resolve "$KEY" --registry "$URL" --cache "$WORK/cache" >/dev/null
sent

if [ -n "${MIRROR:-}" ]; then
    echo "== mirror after the publish"
    "$BIN" mirror "$URL" "$WORK/mirror"
    sent
fi
