#!/usr/bin/env python3
"""Checks Belfry's folder layering on the include graph and the CMake source lists.

Every `#include "..."` in the .h and .cc files under the source folders is an edge from
the including file's folder to the included file's folder. The check fails on:

  1. an include that goes up the layer order below (a folder may include its own layer's
     folder and any lower layer; two folders of one layer may not include each other);
  2. `client_lib` including `replica` (named on its own: the client library links only the
     client-replica contract in wire/, never the replica);
  3. an include of another folder's `internal/`: a file may include the `internal/` of its
     own folder or of any folder above it in the path (threshold/rsa/ may include
     threshold/internal/) and of its subfolders (replica/ may include
     replica/node/internal/), nothing else. test/ is exempt: tests reach into what they
     test;
  4. test code (anything under test/ or in a `testing/` folder) included by production
     code, or compiled into a production target: every add_library/add_executable outside
     test/ is read, with the files its GLOBs match, and none may name test code, except a
     target whose name ends in `_testing` (a test-only library kept beside the code it
     fakes), which no production target may link.

The allowed order, lowest first (README.md "Layout" states the same table):

    LAYERS = base | proto | threshold pki evidence | wire config consensus | transport
             | metrics | tsa | replica client_lib | tools python | test

EXCEPTIONS below lists each include the order forbids but the code has, with its reason;
an exception that no longer occurs fails the check too, so the list cannot go stale.

Run by hand from anywhere:

    python3 scripts/check_layers.py                 # the tree this script is in
    python3 scripts/check_layers.py /path/to/belfry
    python3 scripts/check_layers.py --self-test     # shows each rule failing on a bad tree

`make test` runs it as the ctest tests `layers` and `layers_self_test`
(test/CMakeLists.txt). Exit status 0 when the tree keeps the layering; 1 with one line per
violation, `file:line: RULE: text`; 2 for bad usage.
"""

import glob
import os
import re
import shutil
import sys
import tempfile

# Lowest layer first. A folder may include folders of a strictly lower layer (and itself).
LAYERS = [
    ["base"],
    ["proto"],
    ["threshold", "pki", "evidence"],
    ["wire", "config", "consensus"],
    ["transport"],
    ["metrics"],
    ["tsa"],
    ["replica", "client_lib"],
    ["tools", "python"],
    ["test"],
]

# Named pairs that are refused whatever the order says.
FORBIDDEN = [("client_lib", "replica")]

# (including file, included file, reason): includes the rules refuse but the code keeps.
EXCEPTIONS = [
    ("replica/node/main.cc", "test/byzantine/byzantine_outbox.h",
     "belfry-replica-byzantine is built from main.cc with BELFRY_BYZANTINE; belfry-replica "
     "is compiled without it (replica/README.md)"),
    ("replica/node/main.cc", "test/byzantine/request_leak.h",
     "belfry-replica-byzantine is built from main.cc with BELFRY_BYZANTINE; belfry-replica "
     "is compiled without it (replica/README.md)"),
    ("replica/node/main.cc", "test/powerloss/powerloss_fs.h",
     "belfry-replica-powerloss is built from main.cc with BELFRY_POWERLOSS_FS; "
     "belfry-replica is compiled without it (replica/README.md)"),
    ("tools/belfry_cli.cc", "client_lib/internal/errors.h",
     "the CLI builds client_lib's errors for its own refusals; client.h should offer that "
     "(tools/README.md)"),
    ("tools/belfry_tsa.cc", "client_lib/internal/errors.h",
     "as belfry_cli.cc (tools/README.md)"),
]

SOURCE_EXTENSIONS = (".h", ".cc")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
TARGET_RE = re.compile(r"\badd_(library|executable)\s*\(\s*([A-Za-z0-9_.+-]+)([^)]*)\)", re.S)
LINK_RE = re.compile(r"\btarget_link_libraries\s*\(\s*([A-Za-z0-9_.+-]+)([^)]*)\)", re.S)
GLOB_RE = re.compile(r"\bfile\s*\(\s*GLOB(?:_RECURSE)?\s+(\w+)([^)]*)\)", re.S)


def layer_of():
    out = {}
    for rank, folders in enumerate(LAYERS):
        for folder in folders:
            out[folder] = rank
    return out


def is_test_path(path):
    parts = path.split("/")
    return parts[0] == "test" or "testing" in parts[:-1]


def internal_owner(path):
    """The folder whose internal/ holds `path`, or None."""
    parts = path.split("/")
    if "internal" not in parts[:-1]:
        return None
    return "/".join(parts[: parts.index("internal")])


def is_within(inner, outer):
    return inner == outer or inner.startswith(outer + "/")


def source_files(root, folders):
    for top in folders:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(SOURCE_EXTENSIONS):
                    full = os.path.join(dirpath, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def check_includes(root, problems, seen_exceptions):
    ranks = layer_of()
    exceptions = {(a, b) for a, b, _ in EXCEPTIONS}
    for rel in source_files(root, ranks):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        src_top = rel.split("/")[0]
        src_dir = os.path.dirname(rel)
        for match in INCLUDE_RE.finditer(text):
            inc = match.group(1)
            dst_top = inc.split("/")[0]
            if dst_top not in ranks:
                continue  # generated (proto/*.pb.h is under proto/), system or third-party
            line = text.count("\n", 0, match.start()) + 1
            where = f"{rel}:{line}"
            found = []
            if (src_top, dst_top) in FORBIDDEN:
                found.append(("forbidden", f"{src_top}/ may never include {dst_top}/ ({inc})"))
            elif src_top != dst_top and ranks[dst_top] >= ranks[src_top]:
                found.append(("layer", f"{src_top}/ (layer {ranks[src_top]}) includes {inc} "
                                       f"({dst_top}/, layer {ranks[dst_top]})"))
            owner = internal_owner(inc)
            if owner is not None and src_top != "test":
                if not (is_within(src_dir, owner) or is_within(owner, src_dir)):
                    found.append(("internal", f"includes {inc}, private to {owner}/"))
            if is_test_path(inc) and not is_test_path(rel):
                found.append(("test-code", f"production code includes test code {inc}"))
            if found and (rel, inc) in exceptions:
                seen_exceptions.add((rel, inc))
                continue
            for rule, text_ in found:
                problems.append(f"{where}: {rule}: {text_}")


def cmake_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        top = rel_dir.split("/")[0]
        if rel_dir != "." and (top.startswith(".") or top.startswith("build") or top == "out"):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(dirnames)
        for name in sorted(filenames):
            if name == "CMakeLists.txt" or name.endswith(".cmake"):
                yield os.path.join(dirpath, name)


def strip_cmake_comments(text):
    return "\n".join(re.sub(r"#.*$", "", line) for line in text.split("\n"))


def check_cmake(root, problems):
    """Production targets (defined outside test/) compile no test code, link no _testing."""
    for path in cmake_files(root):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if rel.startswith("test/"):
            continue
        folder = os.path.dirname(path)
        text = strip_cmake_comments(open(path, encoding="utf-8", errors="replace").read())
        globbed = {}
        for match in GLOB_RE.finditer(text):
            var, args = match.group(1), match.group(2)
            files = []
            for pattern in args.split():
                if pattern in ("CONFIGURE_DEPENDS", "LIST_DIRECTORIES", "true", "false",
                               "RELATIVE") or "*" not in pattern:
                    continue
                pattern = pattern.replace("${CMAKE_CURRENT_SOURCE_DIR}", folder)
                pattern = pattern.replace("${PROJECT_SOURCE_DIR}", root)
                if not os.path.isabs(pattern):
                    pattern = os.path.join(folder, pattern)
                if "GLOB_RECURSE" in match.group(0):
                    head, tail = os.path.split(pattern)
                    pattern = os.path.join(head, "**", tail)
                files += glob.glob(pattern, recursive=True)
            globbed[var] = files
        for match in TARGET_RE.finditer(text):
            name, args = match.group(2), match.group(3)
            line = text.count("\n", 0, match.start()) + 1
            if name.endswith("_testing"):
                continue
            sources = []
            for arg in args.split():
                var = re.fullmatch(r"\$\{(\w+)\}", arg)
                if var and var.group(1) in globbed:
                    sources += globbed[var.group(1)]
                elif re.search(r"\.(cc|h)$", arg):
                    arg = arg.replace("${PROJECT_SOURCE_DIR}", root)
                    arg = arg.replace("${CMAKE_CURRENT_SOURCE_DIR}", folder)
                    sources.append(arg if os.path.isabs(arg) else os.path.join(folder, arg))
            for src in sources:
                src_rel = os.path.relpath(src, root).replace(os.sep, "/")
                if is_test_path(src_rel):
                    problems.append(f"{rel}:{line}: test-code: production target {name} "
                                    f"compiles {src_rel}")
        for match in LINK_RE.finditer(text):
            name, args = match.group(1), match.group(2)
            line = text.count("\n", 0, match.start()) + 1
            if name.endswith("_testing"):
                continue
            for lib in args.split():
                if lib.endswith("_testing"):
                    problems.append(f"{rel}:{line}: test-code: production target {name} "
                                    f"links the test-only {lib}")


def check(root):
    problems = []
    seen = set()
    check_includes(root, problems, seen)
    check_cmake(root, problems)
    for src, inc, reason in EXCEPTIONS:
        if (src, inc) not in seen:
            problems.append(f"{src}: stale-exception: no longer includes {inc}; remove it "
                            f"from EXCEPTIONS in scripts/check_layers.py ({reason})")
    return problems


# ---- self-test: a small tree per rule, each of which must fail with that rule -----------

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def self_test():
    cases = {
        "layer": {"wire/a.h": '#include "transport/tls.h"\n'},
        "forbidden": {"client_lib/a.cc": '#include "replica/state/state_machine.h"\n'},
        "internal": {"tools/a.cc": '#include "transport/internal/frame_io.h"\n'},
        "test-code": {"consensus/a.cc": '#include "consensus/aba/testing/fake_coin.h"\n'},
        "test-code ": {"consensus/CMakeLists.txt":
                       "file(GLOB_RECURSE srcs CONFIGURE_DEPENDS "
                       "${CMAKE_CURRENT_SOURCE_DIR}/*.cc)\nadd_library(c STATIC ${srcs})\n",
                       "consensus/aba/testing/fake_coin.cc": "\n"},
        "test-code  ": {"replica/CMakeLists.txt":
                        "add_library(r STATIC a.cc)\ntarget_link_libraries(r PUBLIC x_testing)\n"},
    }
    allowed = {
        "consensus/rbc/a.cc": '#include "consensus/internal/merkle.h"\n',
        "replica/a.cc": '#include "replica/node/internal/x.h"\n',
        "client_lib/a.cc": '#include "wire/request_format.h"\n#include "proto/x.pb.h"\n',
        "test/a.cc": '#include "consensus/internal/merkle.h"\n#include "replica/a.h"\n',
        "consensus/CMakeLists.txt": "add_library(c STATIC a.cc)\n"
                                    "add_library(c_testing STATIC aba/testing/f.cc)\n",
    }
    failures = []
    saved = list(EXCEPTIONS)
    EXCEPTIONS.clear()
    try:
        with tempfile.TemporaryDirectory() as root:
            for rel, text in allowed.items():
                write(root, rel, text)
            clean = check(root)
            if clean:
                failures.append(f"a tree that keeps the rules was refused: {clean}")
        for rule, files in cases.items():
            with tempfile.TemporaryDirectory() as root:
                for rel, text in files.items():
                    write(root, rel, text)
                found = check(root)
                if not any(f": {rule.strip()}: " in p for p in found):
                    failures.append(f"rule {rule.strip()!r} did not fire on {sorted(files)}: "
                                    f"{found}")
        EXCEPTIONS.append(("wire/a.h", "transport/tls.h", "self-test"))
        with tempfile.TemporaryDirectory() as root:
            write(root, "wire/b.h", "\n")
            if not any("stale-exception" in p for p in check(root)):
                failures.append("a stale exception was not reported")
    finally:
        EXCEPTIONS[:] = saved
    for failure in failures:
        print(f"self-test: {failure}")
    if not failures:
        print(f"self-test: all {len(cases) + 2} cases behave")
    return 1 if failures else 0


def main(argv):
    if len(argv) > 2:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    here = os.path.dirname(os.path.abspath(__file__))
    root = argv[1] if len(argv) == 2 else os.path.dirname(here)
    if not os.path.isdir(root):
        print(f"check_layers: {root} is not a folder", file=sys.stderr)
        return 2
    root = os.path.abspath(root)
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
