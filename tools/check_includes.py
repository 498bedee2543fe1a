#!/usr/bin/env python3
"""check_includes.py: the source folders import one way (docs/architecture.md, "Layout").

    /usr/bin/python3 tools/check_includes.py [--root SRC] [--tree]

The folders below are layers, lowest first. A file may include headers of its own folder
and of lower ones, never of a higher one; the public headers (include/dpcc) and the
generated protobuf-c headers may be included from anywhere, and include nothing of ours.
Every local include ("x.h") must name exactly one header of these folders, and the headers
must not include each other in a cycle. --tree prints the folders with their files' line
counts. Exits 1, naming each offending include, when a rule is broken.
"""
import argparse
import os
import re
import sys

LAYERS = [
    "runtime/base",      # errors, arenas, tensors, the op interface, RNGs, the thread pool
    "runtime/io",        # tensor files (.npy, .pb), ONNX tensors, argument text
    "runtime/kernels",   # the op registry and every op's kernel, products, weight panels
    "runtime/sim",       # the simulated optical core: analog products, devices, energy
    "runtime/format",    # the .dp program: its structure, writer, reader, validator
    "runtime/exec",      # the executor, noisy sessions, data sets, reports, the runtime API
    "compiler/ir",       # the graph IR and its edits
    "compiler/frontend", # ONNX into the IR, the op versions
    "compiler/passes",   # IR to IR: shapes, folding, fusion, partitioning, memory plan
    "compiler/tuning",   # the lowered program run: calibration, sensitivity, schedule, energy
    "compiler/backends", # .dp, C and LLVM emitters
    "compiler/driver",   # the pipeline, annotation, the compiler API
    "cli",               # dpcc and dprun
]
ANYWHERE = {"onnx.pb-c.h", "dp.pb-c.h"}
PUBLIC = "include/dpcc"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--tree", action="store_true")
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    rank, headers, files, problems = {}, {}, [], []
    for r, layer in enumerate(LAYERS):
        folder = os.path.join(root, layer)
        if not os.path.isdir(folder):
            problems.append(f"{layer}: the folder is missing")
            continue
        rank[layer] = r
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                files.append((layer, name))
                if name.endswith(".h"):
                    if name in headers:
                        problems.append(f"{layer}/{name}: a second header of that name "
                                        f"(also in {headers[name]})")
                    headers[name] = layer
    for top in ("compiler", "runtime"):
        for name in os.listdir(os.path.join(root, top)):
            if name.endswith((".c", ".h")):
                problems.append(f"{top}/{name}: outside the layer folders")
    edges = {}
    for layer, name in files:
        text = open(os.path.join(root, layer, name), encoding="utf-8").read()
        for inc in INCLUDE.findall(text):
            base = os.path.basename(inc)
            if inc.startswith("dpcc/") or base in ANYWHERE:
                continue
            where = headers.get(base)
            if where is None:
                problems.append(f"{layer}/{name}: includes \"{inc}\", which no layer folder holds")
            elif rank[where] > rank[layer]:
                problems.append(f"{layer}/{name}: includes {where}/{base}, a higher layer")
            elif name.endswith(".h"):
                edges.setdefault(name, []).append(base)
    for name in os.listdir(os.path.join(root, PUBLIC)):
        text = open(os.path.join(root, PUBLIC, name), encoding="utf-8").read()
        for inc in INCLUDE.findall(text):
            if not inc.startswith("dpcc/") and os.path.basename(inc) not in ANYWHERE:
                problems.append(f"{PUBLIC}/{name}: includes the internal \"{inc}\"")
    # header cycles, by depth-first search
    state = {}

    def visit(h, path):
        state[h] = 1
        for nxt in edges.get(h, []):
            if state.get(nxt) == 1:
                problems.append("an include cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]
                                                                   if nxt in path else path + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[h] = 2

    for h in sorted(edges):
        if h not in state:
            visit(h, [h])
    if args.tree:
        for layer in LAYERS:
            names = [n for l, n in files if l == layer]
            lines = {n: sum(1 for _ in open(os.path.join(root, layer, n), encoding="utf-8")) for n in names}
            print(f"{layer}/  ({sum(lines.values())} lines)")
            for n in names:
                print(f"    {n:24} {lines[n]:5}")
    for p in problems:
        print("check_includes:", p)
    print(f"check_includes: {len(files)} files in {len(LAYERS)} layers, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
