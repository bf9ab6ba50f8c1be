#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed, builds, and runs dvdi-hook.
# Until the OCI front end lands (issue 7), this shows the CLI and the kernel features it uses;
# the container demo (the `local` driver and runc: one container writes into a volume, a second
# reads it back) comes with that front end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
hook="${BUILD_DIR:-build}/hook/dvdi-hook"
echo
echo "\$ dvdi-hook --help"
"$hook" --help
echo
echo "\$ dvdi-hook version"
"$hook" version
echo
echo "The container demo (local driver + runc) arrives with the OCI front end."
