#!/usr/bin/env python3
"""Runs clang-tidy on the translation units of src/, remembering the ones that passed.

    clang_tidy_cached.py BUILD_DIR [--jobs N] [--cache DIR] [--clang-tidy BIN]

A translation unit is checked again only when something that decides its result changed: the
clang-tidy binary's version, .clang-tidy, the compile command, or the content of any file the
unit includes (the list comes from Ninja's dependency log, so BUILD_DIR must have been built).
A unit that passes leaves an empty file named by that key in the cache directory
(WONDERLAND_TIDY_CACHE, default ~/.cache/wonderland/clang-tidy). Exit status: 0 when every unit
passes, 1 when clang-tidy has something to say (its output is printed), 2 on a usage error.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ninja_deps(build_dir: Path) -> dict:
    """Maps each compiled source file (absolute) to the files it depends on (absolute)."""
    out = subprocess.run(["ninja", "-C", str(build_dir), "-t", "deps"], check=True,
                         capture_output=True, text=True).stdout
    deps, current = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace():
            current = []
            continue
        name = line.strip()
        if not name or current is None:
            continue
        path = (build_dir / name).resolve() if not os.path.isabs(name) else Path(name)
        if not current:
            deps[str(path)] = current
        current.append(path)
    return deps


_digests: dict = {}


def file_digest(path: Path) -> str:
    key = str(path)
    if key not in _digests:
        try:
            _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            _digests[key] = "missing"
    return _digests[key]


def relative(text: str) -> str:
    """The text with this checkout's absolute path taken out, so that clones share the cache."""
    return text.replace(str(REPO), "<repo>")


def unit_key(tidy_version: str, config: str, entry: dict, deps: list) -> str:
    h = hashlib.sha256()
    h.update(tidy_version.encode())
    h.update(config.encode())
    command = entry.get("command") or shlex.join(entry.get("arguments", []))
    h.update(relative(command).encode())
    for dep in sorted(deps, key=lambda d: relative(str(d))):
        h.update(relative(str(dep)).encode())
        h.update(file_digest(dep).encode())
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--clang-tidy", default="clang-tidy-14")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "WONDERLAND_TIDY_CACHE", Path.home() / ".cache" / "wonderland" / "clang-tidy")))
    parser.add_argument("--under", default="src/", help="check the units under this folder")
    args = parser.parse_args()

    build_dir = args.build_dir.resolve()
    database = build_dir / "compile_commands.json"
    if not database.is_file():
        print(f"clang-tidy: {database} is missing: build first", file=sys.stderr)
        return 2
    entries = [e for e in json.loads(database.read_text())
               if Path(e["file"]).resolve().is_relative_to(REPO / args.under)]
    if not entries:
        print(f"clang-tidy: no translation unit under {args.under} in {database}", file=sys.stderr)
        return 2
    deps = ninja_deps(build_dir)
    version = subprocess.run([args.clang_tidy, "--version"], check=True, capture_output=True,
                             text=True).stdout
    config = (REPO / ".clang-tidy").read_text()
    args.cache.mkdir(parents=True, exist_ok=True)

    todo = []
    for e in entries:
        source = str(Path(e["file"]).resolve())
        if source not in deps:
            print(f"clang-tidy: {source} has no dependency record: build first", file=sys.stderr)
            return 2
        key = unit_key(version, config, e, deps[source])
        if not (args.cache / key).exists():
            todo.append((source, key))
    print(f"clang-tidy: {len(entries)} translation units under {args.under}, "
          f"{len(entries) - len(todo)} unchanged since they passed, {len(todo)} to check "
          f"with {args.jobs} jobs", file=sys.stderr)

    def check(item):
        source, key = item
        r = subprocess.run([args.clang_tidy, "-p", str(build_dir), "--quiet", source],
                           capture_output=True, text=True)
        if r.returncode == 0:
            (args.cache / key).touch()
        return source, r

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for source, r in pool.map(check, todo):
            if r.returncode != 0:
                failed += 1
                findings = [ln for ln in r.stdout.splitlines() if ln.strip()]
                print(f"clang-tidy: {relative(source)}:", file=sys.stderr)
                print("\n".join(findings), file=sys.stderr)
                if r.stderr.strip() and "warnings generated" not in r.stderr:
                    print(r.stderr.strip(), file=sys.stderr)
    if failed:
        print(f"clang-tidy: {failed} translation unit(s) with findings", file=sys.stderr)
        return 1
    print("clang-tidy: clean", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
