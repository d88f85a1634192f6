#!/usr/bin/env bash
# Run HERE (a machine with Deno's npm cache and apt): builds .dev/ for a lent GPU machine that has no network:
# Deno as an xz-compressed binary, Debian's Vulkan loader, and every test/benchmark it runs as a `deno bundle`d file
# (run there with --no-config, so no npm download is needed). ≈ 45 MiB; carry it with the device tool's `carry: [".dev"]`.
set -euo pipefail
cd "$(dirname "$0")/../.."
# .dev/ is in .gitignore (so deno fmt, lint, test and publish skip it)
DENO=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
rm -rf .dev && mkdir -p .dev/gl .dev/js
xz -T2 -6 -c "$DENO" >.dev/deno.xz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial && apt-get $o update -qq && (cd .dev/gl && apt-get $o download libvulkan1 2>/dev/null)
for f in tests/kernels_test.ts tests/backend_test.ts tests/fused_conv_gradient_test.ts bench/conv_micro.ts bench/profile.ts bench/step_table.ts \
  bench/submit_batch.ts bench/kernel_table.ts bench/device/probe.ts bench/device/size256.ts; do
  "$DENO" bundle --quiet --platform deno --minify -o ".dev/js/$(basename "$f" .ts).js" "$f"
done
cp bench/device/run.sh .dev/
du -sh .dev
