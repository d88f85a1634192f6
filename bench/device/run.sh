#!/usr/bin/env bash
# Run ON the lent GPU machine from the repository root, after bench/device/prepare.sh here:
#   device run: command "BUDGET=330 bash .dev/run.sh", carry [".dev"], timeout_s 350
# Each check gets a time limit and the whole run a deadline (BUDGET seconds); logs go to $OUT.
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-330}))
[ -n "${NODPKG:-}" ] || { for f in .dev/gl/*.deb; do dpkg -x "$f" /; done; ldconfig; } # NODPKG=1: try it here
export XDG_RUNTIME_DIR=/tmp/xdg NO_COLOR=1 DENO_DIR=/tmp/denodir; mkdir -p $XDG_RUNTIME_DIR /tmp/w
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; [ -f $ICD ] && export VK_DRIVER_FILES=$ICD
xz -dc .dev/deno.xz >/tmp/deno && chmod +x /tmp/deno
J=$PWD/.dev/js; O=${OUT:-/tmp/out}; mkdir -p "$O"; export OUT=$O
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
sec() { # log name limit cmd...
  local log=$1 name=$2 lim=$3; shift 3
  local left=$((DEADLINE - $(date +%s) - 3)); [ $left -lt $lim ] && lim=$left
  if [ $lim -lt 5 ]; then echo "== $name SKIPPED (no time left)"; return; fi
  echo "== $name (limit ${lim}s) at +$(($(date +%s) - T0))s"
  local t=$(date +%s)
  (cd /tmp/w && timeout $lim "$@") >>"$O/$log.log" 2>&1
  echo "-- $name rc=$? in $(($(date +%s) - t))s"
}
R="/tmp/deno run -A --no-config"
sec tests probe 20 $R $J/probe.js
grep -q '"backend": "webgpu"' "$O/tests.log" || { echo "NO WEBGPU ADAPTER"; cat "$O/tests.log"; exit 3; }
sec tests kernels 60 /tmp/deno test -A --no-config $J/kernels_test.js
sec tests backend 20 /tmp/deno test -A --no-config $J/backend_test.js
sec tests fused_grad 20 /tmp/deno test -A --no-config $J/fused_conv_gradient_test.js
grep -E '^(ok|FAILED) \|' "$O/tests.log"; grep -E '"kernelTarget"|"description"' "$O/tests.log"
mkdir -p /tmp/nvcold
__GL_SHADER_DISK_CACHE_PATH=/tmp/nvcold sec prof first_step 30 $R $J/profile.js 128 8 16 4 fast first
head -1 "$O/prof.log"
sec step step_table 100 $R $J/step_table.js 3
tail -7 "$O/step.log"
sec conv conv_micro 30 $R $J/conv_micro.js 5
sec ktable kernel_table_64 40 $R $J/kernel_table.js mtlStep 64 8 3 5
grep -E '^\| all' "$O/ktable.log"
sec ktable kernel_table_128 60 $R $J/kernel_table.js mtlStep 128 16 4 3
sec big size256 60 $R $J/size256.js
cat "$O/big.log"
echo "total $(($(date +%s) - T0))s"
