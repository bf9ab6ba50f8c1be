#!/usr/bin/env bash
# Checks (default) or fixes (--fix) the formatting of every C++ source against .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(--dry-run --Werror)
[ "${1:-}" = "--fix" ] && mode=(-i)
mapfile -t files < <(find hook lib tests bench -type f \( -name '*.cpp' -o -name '*.hpp' \) 2>/dev/null | sort)
clang-format "${mode[@]}" "${files[@]}"
echo "check-format: ${#files[@]} files ok"
