#!/usr/bin/env python3
"""Two rules of the crate's shape, checked on the source:

1. The store engine stays inside `src/store/`: no other file under `src/` names sled
   (in code, comments or strings). Everything else reaches state through the store's
   repository traits.
2. The top-level modules (`src/<name>.rs` or `src/<name>/`) depend on each other
   without a cycle. A module depends on another when any of its files names
   `crate::<other>` in code (a path or a `use crate::{...}` group; doc links in
   comments are not dependencies). Submodules of one top-level module may use each
   other freely; only the layering between top-level modules is checked.

Usage: python3 .ci/check-architecture.py [--graph]   (exit 1 on a violation)
--graph prints each module's dependencies, lowest layer first.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
STORE = os.path.join(ROOT, "store")


def rust_files(path):
    if os.path.isfile(path):
        return [path]
    return sorted(
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".rs")
    )


def modules():
    """Top-level module name -> its files."""
    out = {}
    for name in sorted(os.listdir(ROOT)):
        p = os.path.join(ROOT, name)
        if name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            out[name[:-3]] = rust_files(p)
        elif os.path.isdir(p):
            out[name] = rust_files(p)
    return out


def check_store_engine():
    bad = []
    word = re.compile(r"\bsled\b", re.IGNORECASE)
    for f in rust_files(ROOT):
        if os.path.commonpath([f, STORE]) == STORE:
            continue
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            if word.search(line):
                bad.append(f"{os.path.relpath(f, os.path.dirname(ROOT))}:{n}: {line.strip()}")
    return bad


def strip_comments(src):
    """The source without `//` comments (string literals are left alone)."""
    out = []
    for line in src.splitlines():
        i, quoted = 0, False
        while i < len(line):
            c = line[i]
            if c == "\\" and quoted:
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif not quoted and line.startswith("//", i):
                line = line[:i]
                break
            i += 1
        out.append(line)
    return "\n".join(out)


def dependencies(mods):
    path = re.compile(r"\bcrate::(\w+)")
    group = re.compile(r"\bcrate::\{([^;]*?)\}", re.S)
    deps = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            src = strip_comments(open(f, encoding="utf-8").read())
            named = set(path.findall(src))
            for g in group.findall(src):
                named.update(re.findall(r"(?:^|[,{\s])(\w+)\s*(?:::|,|\}|$)", g))
            deps[m].update(n for n in named if n in mods and n != m)
    return deps


def find_cycle(deps):
    """A cycle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(deps[m]):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(deps):
        if m not in state:
            c = visit(m)
            if c:
                return c
    return None


def layers(deps):
    order, placed = [], set()
    while len(placed) < len(deps):
        ready = sorted(m for m in deps if m not in placed and deps[m] <= placed)
        if not ready:
            break
        order.extend(ready)
        placed.update(ready)
    return order


def main():
    failed = False
    bad = check_store_engine()
    if bad:
        failed = True
        print("sled is named outside src/store/:")
        for b in bad:
            print("  " + b)
    deps = dependencies(modules())
    cycle = find_cycle(deps)
    if cycle:
        failed = True
        print("the top-level modules import each other in a cycle: " + " -> ".join(cycle))
    if "--graph" in sys.argv:
        for m in layers(deps):
            print(f"{m:<8} -> {' '.join(sorted(deps[m])) or '(nothing)'}")
    if failed:
        sys.exit(1)
    print(f"architecture: {len(deps)} top-level modules, no cycle; sled only under src/store/")


if __name__ == "__main__":
    main()
