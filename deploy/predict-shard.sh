#!/bin/sh
# One shard of a batch prediction. The shard index comes from the job scheduler's environment
# (JOB_COMPLETION_INDEX in a Kubernetes Indexed Job, SLURM_ARRAY_TASK_ID in a Slurm array); a rerun of a failed
# shard keeps what it finished (--resume). After all shards: deno run -A cli.ts merge --out "$OUT".
#   MODEL   checkpoint or model folder, or "pretrained"
#   INPUT   folder of images (PNG, JPEG, DICOM) or a manifest CSV
#   OUT     output folder, shared by the shards
#   SHARDS  number of shards (the job's completions / array size)
#   BACKEND optional: webgpu (default) or cpu
set -eu
cd "$(dirname "$0")/.."
exec "${DENO:-deno}" run -A cli.ts predict --model "$MODEL" --out "$OUT" --shard "env/$SHARDS" --resume \
  ${BACKEND:+--backend "$BACKEND"} "$INPUT"
