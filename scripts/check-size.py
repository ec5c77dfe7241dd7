#!/usr/bin/env python3
"""Checks the size limits of production code (docs/architecture.md): no file over 800 lines and
no function over 150 lines. Production code is every .rs file outside the end-to-end test crate
(tests/), the services' tests/ folders and build scripts; a file's `#[cfg(test)] mod tests` block
counts neither towards its length nor as functions. Prints each breach and exits 1 if any."""

import pathlib
import re
import sys

MAX_FILE_LINES = 800
MAX_FN_LINES = 150
ROOT = pathlib.Path(__file__).resolve().parent.parent
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def production_files():
    for path in sorted(ROOT.rglob("*.rs")):
        rel = path.relative_to(ROOT)
        parts = rel.parts
        if parts[0] in ("target", "tests") or "tests" in parts[1:-1] or rel.name == "build.rs":
            continue
        yield rel, path.read_text(encoding="utf-8").splitlines()


def without_test_module(lines):
    """The lines before a trailing `#[cfg(test)]` module (where unit tests live)."""
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"^mod \w+ \{", lines[i + 1]):
            return lines[:i]
    return lines


def functions(lines):
    """(name, first line, length) of each function with a body, by brace depth."""
    for i, line in enumerate(lines):
        match = FN.match(line)
        if not match:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            code = re.sub(r'"([^"\\]|\\.)*"|//.*', "", lines[j])
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                yield match.group(6), i + 1, j - i + 1
                break
            if not opened and code.rstrip().endswith(";"):
                break


def main():
    breaches = []
    for rel, lines in production_files():
        lines = without_test_module(lines)
        if len(lines) > MAX_FILE_LINES:
            breaches.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        for name, start, length in functions(lines):
            if length > MAX_FN_LINES:
                breaches.append(f"{rel}:{start}: fn {name} is {length} lines (at most {MAX_FN_LINES})")
    for breach in breaches:
        print(breach)
    print(f"size check: {len(breaches)} breaches of {MAX_FILE_LINES} lines a file, {MAX_FN_LINES} a function")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
