#!/usr/bin/env python3
"""A model of the website manifest's shapes, for choosing one (bench/SITE-RESULTS.md, "The
website manifest at 10,000 and 100,000 experts").

    bench/manifest-model.py list OUT > files.json
        every file the manifest of the built registry OUT lists: {path: [blake3, size]}
    bench/manifest-model.py model FILES.json FILES.json ...
        for each shape, the whole manifest over the first list, then the documents and bytes
        each next list adds to the one before (a publish between two builds)

The shapes are rendered as the build renders documents (two-space JSON), but ranks and slots
come from SHA-256 (Python has no BLAKE3), so a modelled tree is cut elsewhere than the build's:
the figures are statistically, not byte for byte, the build's. Format 1 is the tree slotted by
path hash (64 ways, leaves of about 9 files at 10,000 experts); format 2 the tree ordered by
path (docs/format.md, "Website manifest"), here with its cut parameters varied.
"""
import hashlib
import json
import os
import sys


def render(document):
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def pointer(data):
    return {"blake3": hashlib.sha256(data).hexdigest(), "size": len(data)}


def entry(files, path):
    return {"blake3": files[path][0], "size": files[path][1]}


def slotted(files, fanout=64, leaf_target=64):
    """Format 1: each path slotted by its hash, `fanout` ways per level."""
    bits = fanout.bit_length() - 1
    depth, capacity = 1, leaf_target
    while len(files) > capacity:
        depth, capacity = depth + 1, capacity * fanout
    documents = []

    def build(paths, level):
        if level + 1 >= depth:
            data = render({"format": 1, "level": level, "files": {p: entry(files, p) for p in sorted(paths)}})
        else:
            groups = {}
            for path in paths:
                high = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
                groups.setdefault((high >> (64 - bits * (level + 1))) & (fanout - 1), []).append(path)
            children = {f"{slot:02x}": pointer(build(groups[slot], level + 1)) for slot in sorted(groups)}
            data = render({"format": 1, "level": level, "bins": children})
        documents.append(data)
        return data

    build(list(files), 0)
    return documents


def ranks(height, key):
    digest = hashlib.sha256(height.to_bytes(4, "little") + key.encode()).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")


def starts(keys, height, one_in, least, most, split=8):
    """Where format 2 cuts a level: src/format/site_manifest.rs, Cut::starts."""
    rank = [ranks(height, key) for key in keys]
    runs, previous = [0], 0
    for i in range(1, len(keys)):
        if rank[i][0] * one_in >= 1 << 32:
            continue
        if i - previous >= least:
            runs.append(i)
        previous = i
    out = []
    for n, start in enumerate(runs):
        end = runs[n + 1] if n + 1 < len(runs) else len(keys)
        first = start
        out.append(first)
        while end - first > most:
            first = next((i for i in range(first + most, first + least - 1, -1)
                          if rank[i][1] * one_in * split < 1 << 32), first + most)
            out.append(first)
    return out


def ordered(files, one_in=4, least=4, most=32):
    """Format 2: ordered by path, cut where paths say."""
    level = [(path, entry(files, path)) for path in sorted(files)]
    documents, height = [], 0
    while True:
        cut = starts([key for key, _ in level], height, one_in, least, most) if level else [0]
        above = []
        for n, start in enumerate(cut):
            end = cut[n + 1] if n + 1 < len(cut) else len(level)
            key = "files" if height == 0 else "children"
            data = render({"format": 2, "height": height, key: dict(level[start:end])})
            documents.append(data)
            above.append((level[start][0] if level else "", pointer(data)))
        if len(above) == 1:
            return documents
        level, height = above, height + 1


def measure(shape, lists, **parameters):
    out, previous = [], None
    for files in lists:
        documents = {hashlib.sha256(d).digest(): len(d) for d in shape(files, **parameters)}
        if previous is None:
            out.append(f"{len(documents)} documents, {sum(documents.values())} B")
        else:
            new = [size for digest, size in documents.items() if digest not in previous]
            out.append(f"+{len(new)} documents, {sum(new)} B")
        previous = documents
    return " | ".join(out)


def list_files(out):
    """Every file the format-2 manifest of the registry built in `out` lists."""
    site = json.load(open(os.path.join(out, "v1/root.json")))["site"]
    files, pending = {}, [site["blake3"]]
    while pending:
        document = json.load(open(os.path.join(out, "v1/site", pending.pop() + ".json")))
        for child in document.get("children", {}).values():
            pending.append(child["blake3"])
        for path, listed in document.get("files", {}).items():
            files[path] = [listed["blake3"], listed["size"]]
    return files


if __name__ == "__main__":
    if sys.argv[1:2] == ["list"] and len(sys.argv) == 3:
        json.dump(list_files(sys.argv[2]), sys.stdout, sort_keys=True)
    elif sys.argv[1:2] == ["model"] and len(sys.argv) > 2:
        lists = [json.load(open(path)) for path in sys.argv[2:]]
        print("format 1, 64 ways:      ", measure(slotted, lists), flush=True)
        for one_in, least, most in [(4, 4, 32), (2, 4, 24), (4, 2, 32), (8, 4, 32), (8, 8, 32)]:
            print(f"format 2, 1 in {one_in}, {least}-{most}:", measure(ordered, lists, one_in=one_in, least=least, most=most), flush=True)
    else:
        sys.exit(__doc__)
