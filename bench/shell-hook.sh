#!/bin/bash
# The usual alternative to dvdi-hook, for comparison only: a shell OCI hook that does the same
# job for one volume (DVDI_VOLUME_NAME/_DRIVER/_CONTAINERPATH) with jq, curl over the plugin's
# unix socket, and nsenter + mount. No reference counts, no state, no locking, no error paths:
# it is the lower bound of what such a script costs, not a replacement.
#   shell-hook.sh SOCKET_DIR prestart|poststop < OCI state JSON
set -euo pipefail
dir=$1 stage=$2
st=$(cat)
bundle=$(jq -r .bundle <<<"$st")
pid=$(jq -r .pid <<<"$st")
id=$(jq -r .id <<<"$st")
cfg="$bundle/config.json"
env_of() { jq -r --arg k "$1=" '.process.env[] | select(startswith($k)) | ltrimstr($k)' "$cfg"; }
name=$(env_of DVDI_VOLUME_NAME)
[ -n "$name" ] || exit 0
driver=$(env_of DVDI_VOLUME_DRIVER)
target=$(env_of DVDI_VOLUME_CONTAINERPATH)
root=$(jq -r .root.path "$cfg")
[ "${root:0:1}" = / ] || root="$bundle/$root"
call() { curl -sf --unix-socket "$dir/$driver.sock" -H 'Content-Type: application/json' -d "$2" "http://plugin/$1"; }
body=$(jq -nc --arg n "$name" --arg i "$id" '{Name: $n, ID: $i}')
if [ "$stage" = prestart ]; then
  call Plugin.Activate '{}' >/dev/null
  call VolumeDriver.Get "$(jq -nc --arg n "$name" '{Name: $n}')" >/dev/null ||
    call VolumeDriver.Create "$(jq -nc --arg n "$name" '{Name: $n, Opts: {}}')" >/dev/null
  mp=$(call VolumeDriver.Mount "$body" | jq -r .Mountpoint)
  nsenter -t "$pid" -m sh -c 'mkdir -p "$1" && mount --bind "$2" "$1"' sh "$root$target" "$mp"
else
  call VolumeDriver.Unmount "$body" >/dev/null
fi
