#!/usr/bin/env python3
"""Checks that every repository path named in a comment exists.

Comments name files and folders ("the daemon (replica/node/main.cc)", "see
test/chaos/README.md") so that a reader can go and look. When a file moves and the comment
stays, the reader is sent nowhere. This script reads the comments of the C++ sources and
headers, the .proto files (C++ comment syntax), the CMake files and the shell scripts,
picks out every token that names a repository path, and fails when that path does not
exist in the tree. Paths relative to the commenting file's own folder (`effects/effects.h`
inside replica/node/) are not checked: they cannot be told from other prose.

What counts as a path: a token of the form `dir/file.ext`, `dir/sub/` or `dir/sub` whose
first component is an existing top-level folder of the repository (hidden folders and
build trees, `build*/` and `out/`, are not). Everything else is left alone: `DIR/ca.key`,
`github.com/...`, `include/rocksdb/env.h` of another project, `N/3`. A trailing `:` `,`
`.` `)` or `;` is not part of the path, nor is a leading `./`. `foo.*` and `foo.{h,cc}`
pass when some file with that stem exists; any other `*` passes when the glob matches.
`proto/x.pb.h` and `proto/x.pb.cc` are generated into the build tree; they pass when
`proto/x.proto` exists.
Text inside string literals is not comment text and is not read.

Run by hand from anywhere:

    python3 scripts/check_comment_paths.py            # the tree this script is in
    python3 scripts/check_comment_paths.py /path/to/belfry

`make test` runs it as the ctest test `comment_paths` (test/CMakeLists.txt). Exit status 0
when every named path exists; 1 with one line per miss,
`file:line: names PATH, which does not exist`; 2 for bad usage.
"""

import glob
import os
import re
import sys

CXX_EXTENSIONS = (".h", ".hpp", ".cc", ".cpp", ".c", ".proto")
CMAKE_EXTENSIONS = (".cmake", ".cmake.in")
SHELL_EXTENSIONS = (".sh",)

# Build trees and editor caches are not part of the repository (.gitignore).
SKIPPED_TOP_LEVEL = re.compile(r"^(\..*|build.*|out)$")

# A path-like token: components of name characters joined by '/', the last one optionally
# a glob (`*`, `{a,b}`). It may not start right after a name character, '/', '.', '$',
# '{', '<', '>' or '-', so the tail of a URL, `${VAR}/x`, `<module>/x` or `a-b/c` is not
# read as a repository path.
PATH_TOKEN = re.compile(
    r"(?<![\w./${}<>\-])"
    r"((?:\./)?[A-Za-z0-9_][A-Za-z0-9_.\-]*/"
    r"(?:[A-Za-z0-9_.\-*]|\{[A-Za-z0-9_.,\-]*\}|/)*)")
TRAILING = ":,.);"


def cxx_comments(text):
    """Yields (line, comment text) for every // and /* */ comment of C++ source `text`."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield line, text[i + 2:end]
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end
            body = text[i + 2:end]
            for k, part in enumerate(body.split("\n")):
                yield line + k, part
            line += body.count("\n")
            i = end + 2
        elif c == '"':
            # A raw string: R"delim( ... )delim", with an optional u8/u/U/L prefix.
            j = i
            while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
                j -= 1
            prefix = text[j:i]
            if prefix in ("R", "u8R", "uR", "UR", "LR"):
                open_paren = text.find("(", i)
                delim = text[i + 1:open_paren]
                close = text.find(")" + delim + '"', open_paren)
                close = n if close < 0 else close + len(delim) + 2
                line += text.count("\n", i, close)
                i = close
            else:
                i = skip_quoted(text, i, '"')
        elif c == "'":
            # A digit separator (10'000) is no character literal.
            j = i
            while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
                j -= 1
            if j < i and text[j].isdigit():
                i += 1
            else:
                i = skip_quoted(text, i, "'")
        else:
            i += 1


def skip_quoted(text, i, quote):
    """The index after the literal that starts at text[i] (a quote); stops at a newline."""
    j = i + 1
    while j < len(text) and text[j] != quote and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text)) if j < len(text) and text[j] == quote else j


def cmake_comments(text):
    """Yields (line, comment text) for `#` and `#[[ ]]` comments of CMake `text`."""
    i, n, line, in_quote = 0, len(text), 1, False
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif in_quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_quote = False
            i += 1
        elif c == '"':
            in_quote = True
            i += 1
        elif c == "#":
            bracket = re.match(r"#\[(=*)\[", text[i:])
            if bracket:
                close = "]" + bracket.group(1) + "]"
                end = text.find(close, i)
                end = n if end < 0 else end
                body = text[i + len(bracket.group(0)):end]
                for k, part in enumerate(body.split("\n")):
                    yield line + k, part
                line += body.count("\n")
                i = end + len(close)
            else:
                end = text.find("\n", i)
                end = n if end < 0 else end
                yield line, text[i + 1:end]
                i = end
        else:
            i += 1


def shell_comments(text):
    """Yields (line, comment text) for `#` comments of shell `text` (a `#` that starts a
    word outside quotes; the #! line is not a comment)."""
    in_single = in_double = False
    for number, raw in enumerate(text.split("\n"), start=1):
        if number == 1 and raw.startswith("#!"):
            continue
        i = 0
        while i < len(raw):
            c = raw[i]
            if in_single:
                in_single = c != "'"
            elif in_double:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_double = False
            elif c == "\\":
                i += 1
            elif c == "'":
                in_single = True
            elif c == '"':
                in_double = True
            elif c == "#" and (i == 0 or raw[i - 1] in " \t;|&("):
                yield number, raw[i + 1:]
                break
            i += 1


def comments_of(path, text):
    name = os.path.basename(path)
    if name.endswith(CXX_EXTENSIONS):
        return cxx_comments(text)
    if name == "CMakeLists.txt" or name.endswith(CMAKE_EXTENSIONS):
        return cmake_comments(text)
    if name.endswith(SHELL_EXTENSIONS):
        return shell_comments(text)
    return iter(())


def top_level_dirs(root):
    return {
        entry for entry in os.listdir(root)
        if os.path.isdir(os.path.join(root, entry)) and not SKIPPED_TOP_LEVEL.match(entry)
    }


def source_files(root, top_dirs):
    for entry in sorted(os.listdir(root)):
        full = os.path.join(root, entry)
        if os.path.isfile(full):
            yield full
    for top in sorted(top_dirs):
        for folder, subfolders, files in os.walk(os.path.join(root, top)):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for f in sorted(files):
                yield os.path.join(folder, f)


def expand_braces(token):
    """`a.{h,cc}` -> [`a.h`, `a.cc`]; tokens without braces unchanged."""
    match = re.search(r"\{([^{}]*)\}", token)
    if not match:
        return [token]
    out = []
    for alternative in match.group(1).split(","):
        out.extend(expand_braces(token[:match.start()] + alternative + token[match.end():]))
    return out


def path_exists(root, token):
    generated = re.fullmatch(r"(.*)\.pb\.(h|cc)", token)
    if generated:
        # protoc's output lands in the build tree; its source is what the tree holds.
        return os.path.exists(os.path.join(root, generated.group(1) + ".proto"))
    if "{" in token:
        # foo.{h,cc}: some file with that stem.
        stem = token[:token.index("{")]
        return bool(glob.glob(os.path.join(root, glob.escape(stem) + "*"))) or any(
            os.path.exists(os.path.join(root, t)) for t in expand_braces(token))
    if "*" in token:
        return bool(glob.glob(os.path.join(root, token)))
    return os.path.exists(os.path.join(root, token))


def named_paths(comment, top_dirs):
    for match in PATH_TOKEN.finditer(comment):
        token = match.group(1).rstrip(TRAILING)
        if token.startswith("./"):
            token = token[2:]
        if token.split("/", 1)[0] in top_dirs and "//" not in token:
            yield token


def check(root):
    top_dirs = top_level_dirs(root)
    misses = []
    for path in source_files(root, top_dirs):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        relative = os.path.relpath(path, root)
        for line, comment in comments_of(path, text):
            for token in named_paths(comment, top_dirs):
                if not path_exists(root, token):
                    misses.append(f"{relative}:{line}: names {token}, which does not exist")
    return misses


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(root):
        print(f"check_comment_paths: {root} is not a folder", file=sys.stderr)
        return 2
    misses = check(root)
    for miss in misses:
        print(miss)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
