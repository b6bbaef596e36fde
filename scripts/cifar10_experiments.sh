#!/usr/bin/env bash
# The CIFAR-10 accuracy table (docs/results/cifar10.md): every run, in order, resumable.
# Long (hours on 2 CPU cores): run it in the background; rerunning skips finished runs and
# resumes an interrupted one from its last epoch. `make cifar10-results` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=${RUNS:-runs/cifar10}
QAT_EPOCHS=${QAT_EPOCHS:-15}

run() {   # run OUT ARGS...: skip when OUT/summary.json exists
  local out=$1; shift
  if [[ -f $out/summary.json ]]; then echo "done: $out"; return; fi
  echo "=== $out"
  $PY -m msp_pynq.cli train --out "$out" --resume --no-progress "$@"
}

run $R/resnet20-float  --model resnet20 --epochs 80
# MSP first (the point of the table), then the single-scheme baselines.
run $R/resnet20-msp8   --model resnet20 --scheme msp --share-8bit 0.05 --init $R/resnet20-float/best.npz \
                       --epochs $QAT_EPOCHS --lr 0.01 --warmup-epochs 0
# The MSP + 8-bit model fine-tuned in integer-exact mode: the deployed (committed) model.
run $R/resnet20-msp8-exact --model resnet20 --scheme msp --share-8bit 0.05 --init $R/resnet20-msp8/final.npz \
                       --exact --epochs 3 --lr 0.002 --warmup-epochs 0
run $R/resnet20-msp    --model resnet20 --scheme msp --share-8bit 0 --init $R/resnet20-float/best.npz \
                       --epochs $QAT_EPOCHS --lr 0.01 --warmup-epochs 0
for s in fixed4 sp2_4 pow2_4; do
  run $R/resnet20-$s   --model resnet20 --scheme $s --share-8bit 0 --init $R/resnet20-float/best.npz \
                       --epochs $QAT_EPOCHS --lr 0.01 --warmup-epochs 0
done
run $R/cnv-float       --model cnv --epochs 25
run $R/cnv-msp8        --model cnv --scheme msp --share-8bit 0.05 --init $R/cnv-float/best.npz \
                       --epochs 8 --lr 0.01 --warmup-epochs 0
$PY scripts/cifar10_results.py $R
