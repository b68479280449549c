#!/usr/bin/env python3
"""Generate a synthetic, valid `registry-data/` tree for benchmarks (see docs/format.md).

    gen-registry.py OUT_DIR --versions N [--per-expert K] [--seed S]

Writes exactly N version files spread over ceil(N/K) experts (K versions each, the last
expert takes the remainder), a mix of scoped (`@org-12/expert-345`) and unscoped
(`expert-678`) names, a `registry.toml`, and an `expert.toml` for a few experts (a custom
tag plus a deprecated or disabled older version with a reason).

Each version file is ~1.5 KB of `perstack.toml` text: one `[experts."<name>"]` table with
version, description, a multi-line instruction, sometimes tags, sometimes delegates to
experts generated earlier (bare `name` and pinned `name@version`), the `@perstack/base`
mcpStdioSkill with a pick list, and sometimes a second mcpStdioSkill with requiredEnv.

The output depends only on the arguments: the same arguments give the same bytes.
Standard library only.
"""

import argparse
import os
import random
import sys

WORDS = (
    "research summarise source citation draft review plan search index query report "
    "analyse compare verify extract outline refine schedule translate classify rank "
    "collect filter merge answer explain document test deploy monitor triage escalate "
    "repository issue ticket dataset table chart paper article memo budget invoice "
    "customer release changelog incident metric dashboard calendar meeting"
).split()
CATEGORIES = ["research", "coding", "writing", "data", "ops", "support", "finance", "legal"]
BASE_TOOLS = [
    "readTextFile", "writeTextFile", "editTextFile", "appendTextFile", "listDirectory",
    "getFileInfo", "createDirectory", "moveFile", "deleteFile", "exec", "think",
    "todo", "clearTodo", "attemptCompletion", "healthCheck",
]
EXTRA_SKILLS = [
    ("@example/github-mcp", ["GITHUB_TOKEN"], ["searchIssues", "getPullRequest", "listCommits"]),
    ("@example/slack-mcp", ["SLACK_BOT_TOKEN", "SLACK_TEAM_ID"], ["postMessage", "listChannels"]),
    ("search-mcp", ["SEARCH_API_KEY"], ["webSearch", "fetchPage"]),
    ("@example/postgres-mcp", ["DATABASE_URL"], ["query", "listTables", "describeTable"]),
    ("@example/notion-mcp", ["NOTION_TOKEN"], ["searchPages", "readPage", "appendBlock"]),
]
CUSTOM_TAGS = ["stable", "beta", "lts", "next", "canary"]


def sentence(rng, lo, hi):
    n = rng.randint(lo, hi)
    words = [rng.choice(WORDS) for _ in range(n)]
    return (" ".join(words)).capitalize() + "."


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items):
    return "[" + ", ".join(toml_str(x) for x in items) + "]"


def version_sequence(rng, k):
    """k strictly increasing canonical SemVer strings, with an occasional prerelease."""
    major, minor, patch = rng.choice([(0, 1, 0), (1, 0, 0), (0, 3, 2)])
    out = [f"{major}.{minor}.{patch}"]
    while len(out) < k:
        r = rng.random()
        if r < 0.70:
            patch += 1
        elif r < 0.92:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
        release = f"{major}.{minor}.{patch}"
        if patch == 0 and rng.random() < 0.3 and len(out) < k - 1:
            out.append(f"{release}-{rng.choice(['rc', 'beta', 'alpha'])}.{rng.randint(0, 3)}")
        out.append(release)
    return out[:k]


def make_names(rng, n_experts):
    n_orgs = max(1, n_experts // 8)
    names = []
    for i in range(n_experts):
        if rng.random() < 0.6:
            names.append(f"@org-{rng.randrange(n_orgs)}/expert-{i}")
        else:
            names.append(f"expert-{i}")
    return names


def version_file(rng, name, version, persona, delegates, tags, extra_skills):
    lines = [f"[experts.{toml_str(name)}]", f"version = {toml_str(version)}"]
    lines.append(f"description = {toml_str(persona['description'] + ' Release ' + version + '.')}")
    lines.append('instruction = """')
    lines.append(f"You are {name}, version {version}.")
    lines.extend(persona["instruction"])
    lines.append(f"Changes in {version}: {sentence(rng, 6, 14)}")
    lines.append('"""')
    if delegates:
        lines.append(f"delegates = {toml_list(delegates)}")
    if tags:
        lines.append(f"tags = {toml_list(tags)}")
    lines.append("")
    lines.append(f'[experts.{toml_str(name)}.skills."@perstack/base"]')
    lines.append('type = "mcpStdioSkill"')
    lines.append('description = "Base tools: files, shell, thinking and completion"')
    lines.append('command = "npx"')
    lines.append('packageName = "@perstack/base"')
    lines.append(f"pick = {toml_list(persona['pick'])}")
    for pkg, env, tools in extra_skills:
        lines.append("")
        lines.append(f"[experts.{toml_str(name)}.skills.{toml_str(pkg)}]")
        lines.append('type = "mcpStdioSkill"')
        lines.append(f"description = {toml_str(sentence(rng, 4, 8))}")
        lines.append('command = "npx"')
        lines.append(f"args = {toml_list(['-y', pkg])}")
        lines.append(f"pick = {toml_list(tools)}")
        lines.append(f"requiredEnv = {toml_list(env)}")
        lines.append("lazyInit = true")
        lines.append(f"rule = {toml_str(sentence(rng, 8, 16))}")
    return "\n".join(lines) + "\n"


def generate(out_dir, n_versions, per_expert, seed):
    rng = random.Random(seed)
    n_experts = -(-n_versions // per_expert)
    names = make_names(rng, n_experts)
    # name -> versions that a tag or a pinned delegate may name (not disabled)
    usable = {}
    written = 0
    made_dirs = set()
    with open(os.path.join(out_dir, "registry.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write('name = "Synthetic Benchmark Registry"\n\n[limits]\nmax-version-bytes = 262144\n')
    for i, name in enumerate(names):
        k = min(per_expert, n_versions - i * per_expert)
        versions = version_sequence(rng, k)
        expert_dir = os.path.join(out_dir, *name.split("/"))
        if "/" in name:
            scope = os.path.dirname(expert_dir)
            if scope not in made_dirs:
                os.makedirs(scope, exist_ok=True)
                made_dirs.add(scope)
        os.mkdir(expert_dir)

        # expert.toml for ~4% of experts with at least 3 versions: never touches the newest
        status = {}
        tags = {}
        if k >= 3 and rng.random() < 0.04:
            old = versions[: k - 1]
            dep = rng.choice(old)
            status[dep] = ("deprecated", f"Use {versions[-1]}: {sentence(rng, 4, 9)}")
            if rng.random() < 0.3:
                dis = rng.choice(old)
                if dis != dep:
                    status[dis] = ("disabled", f"Withdrawn: {sentence(rng, 4, 9)}")
            ok = [v for v in versions if status.get(v, ("available",))[0] != "disabled"]
            tags[rng.choice(CUSTOM_TAGS)] = rng.choice(ok)
            with open(os.path.join(expert_dir, "expert.toml"), "w", encoding="utf-8", newline="\n") as f:
                f.write("[tags]\n")
                for t in sorted(tags):
                    f.write(f"{t} = {toml_str(tags[t])}\n")
                for v in versions:
                    if v in status:
                        st, reason = status[v]
                        f.write(f"\n[versions.{toml_str(v)}]\nstatus = {toml_str(st)}\nreason = {toml_str(reason)}\n")
        usable[name] = [v for v in versions if status.get(v, ("available",))[0] != "disabled"]

        persona = {
            "description": sentence(rng, 8, 18),
            "instruction": [sentence(rng, 10, 16) for _ in range(rng.randint(4, 7))],
            "pick": rng.sample(BASE_TOOLS, rng.randint(3, 7)),
        }
        delegate_targets = []
        if i > 0 and rng.random() < 0.4:
            for j in sorted(rng.sample(range(i), min(i, rng.randint(1, 3)))):
                delegate_targets.append((names[j], rng.random() < 0.5))
        categories = rng.sample(CATEGORIES, rng.randint(1, 3)) if rng.random() < 0.5 else []
        extra = [EXTRA_SKILLS[x] for x in rng.sample(range(len(EXTRA_SKILLS)), rng.randint(0, 2))]

        for v in versions:
            delegates = []
            for target, pinned in delegate_targets:
                delegates.append(f"{target}@{rng.choice(usable[target])}" if pinned else target)
            text = version_file(rng, name, v, persona, delegates, categories, extra)
            with open(os.path.join(expert_dir, v + ".toml"), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            written += 1
    return n_experts, written


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", metavar="OUT_DIR", help="directory to create (must be absent or empty)")
    p.add_argument("--versions", type=int, required=True, metavar="N", help="number of version files")
    p.add_argument("--per-expert", type=int, default=10, metavar="K", help="versions per expert (default 10)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    a = p.parse_args()
    if a.versions < 1 or a.per_expert < 1:
        p.error("--versions and --per-expert must be at least 1")
    os.makedirs(a.out_dir, exist_ok=True)
    if os.listdir(a.out_dir):
        p.error(f"{a.out_dir} is not empty")
    experts, versions = generate(a.out_dir, a.versions, a.per_expert, a.seed)
    print(f"wrote {versions} versions of {experts} experts to {a.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
