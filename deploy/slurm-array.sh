#!/bin/bash
# Batch prediction as a Slurm job array: 4 tasks, task i predicts shard i + 1 (SLURM_ARRAY_TASK_ID, counted from
# SLURM_ARRAY_TASK_MIN). Submit from the repository root:
#   jid=$(sbatch --parsable deploy/slurm-array.sh)
#   sbatch --dependency=afterok:$jid --wrap "deno run -A cli.ts merge --out data/out"
# The same command line runs locally in tests/deploy_test.ts.
#SBATCH --job-name=appaunet-predict
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
export MODEL="${MODEL:-pretrained}" INPUT="${INPUT:-data/in}" OUT="${OUT:-data/out}" SHARDS=4
sh deploy/predict-shard.sh
