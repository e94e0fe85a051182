#!/usr/bin/env bash
# Every C source and header of the tree is as clang-format writes it with the
# project's .clang-format (STYLE: kernel style, a .clang-format and a format
# check): `make format` mends what this names.
set -u
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "skip: no clang-format"; exit 77; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	{ echo "skip: not a git checkout (the file list comes from git)"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h')
((${#files[@]})) || { echo "FAIL: no sources found"; exit 1; }
bad=()
for f in "${files[@]}"; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
	echo "FAIL: not as clang-format writes them (make format): ${bad[*]}"
	exit 1
fi
echo "${#files[@]} sources clean"
