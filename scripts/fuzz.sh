#!/usr/bin/env bash
# Builds the libFuzzer targets of the request readers (tests/fuzz) with clang, ASan and UBSan in
# ${FUZZ_BUILD_DIR:-build-fuzz}, and runs each for ${FUZZ_SECONDS:-30} seconds from a seed corpus
# made of the test tables plus the kept regressions. Fails on any crash, hang, leak or sanitizer
# report; the input that caused it is copied to tests/fuzz/regressions/<target>/, which the
# Catch2 suite replays: commit it with the fix. FUZZ_SECONDS=0 skips fuzzing.
#
# The meson setup needs a static libmount like the main build: LIBMOUNT_PREFIX (passed as
# -Dlibmount_prefix), else the main build's ${BUILD_DIR:-build}/libmount-static when it exists,
# else it is built once more for this build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-30}
targets=(env mesos oci)

if [ "$seconds" = 0 ]; then
  echo "fuzz.sh: FUZZ_SECONDS=0, not fuzzing"
  exit 0
fi
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

prefix=${LIBMOUNT_PREFIX:-}
if [ -z "$prefix" ] && [ -f "${BUILD_DIR:-build}/libmount-static/lib/libmount.a" ]; then
  prefix=$(realpath "${BUILD_DIR:-build}/libmount-static")
fi
if [ ! -f "$builddir/build.ninja" ]; then
  args=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link)
  [ -n "$prefix" ] && args+=("-Dlibmount_prefix=$prefix")
  CC=clang CXX=clang++ meson setup "$builddir" "${args[@]}" >"$builddir.setup.log" 2>&1 || {
    cat "$builddir.setup.log" >&2
    exit 1
  }
  rm -f "$builddir.setup.log"
fi
ninja -C "$builddir" -j"${FUZZ_JOBS:-2}" tests/fuzz/dvdi-fuzz-seeds "${targets[@]/#/tests/fuzz/dvdi-fuzz-}" >/dev/null

work=$(mktemp -d /tmp/dvdi-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$builddir/tests/fuzz/dvdi-fuzz-seeds" "$work/seeds" >/dev/null

status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus-$t" "$work/artifacts-$t"
  log="$work/$t.log"
  if "$builddir/tests/fuzz/dvdi-fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$work/artifacts-$t/" "$work/corpus-$t" "$work/seeds/$t" tests/fuzz/regressions/$t >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -z "$runs" ] && runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    echo "fuzz.sh: $t: ${seconds} s, ${runs:-?} runs, no crash, hang or sanitizer report"
  else
    status=1
    echo "fuzz.sh: $t: FAILED; the end of its log:" >&2
    tail -40 "$log" >&2
    for a in "$work/artifacts-$t"/*; do
      [ -f "$a" ] || continue
      cp "$a" "tests/fuzz/regressions/$t/"
      echo "fuzz.sh: $t: kept the input as tests/fuzz/regressions/$t/$(basename "$a")" >&2
    done
  fi
done
exit $status
