#!/usr/bin/env bash
# Reproduces the README's BMFM-RNA table: three small SCBert models pretrained on the pbmc3k
# train cells (WCED, MLM, WCED + cell types), each then fine-tuned for cell types, all scored on
# the held-out test cells beside the PCA + logistic-regression baseline; then the shipped
# annotator (WCED + cell types trained on on degraded cells, probe head).
# Usage: scripts/train-rna-pbmc3k.sh [OUT]   (default target/rna-pbmc3k; ~2 h on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/rna-pbmc3k}"
data="${TESSERA_SHARED:-../shared}/data/pbmc3k/pbmc3k_counts_labeled.h5ad"
steps="${STEPS:-1200}"
finetune_steps="${FINETUNE_STEPS:-500}"
cargo build --release -p tessera
tessera=target/release/tessera
mkdir -p "$out"

for objective in wced wced-multitask mlm; do
  if [ ! -f "$out/$objective/model/model.safetensors" ]; then
    "$tessera" rna train --data "$data" --objective "$objective" --steps "$steps" --out "$out/$objective"
  fi
  if [ ! -f "$out/$objective-finetuned/model/model.safetensors" ]; then
    "$tessera" rna train --data "$data" --objective finetune --init "$out/$objective/model" \
      --steps "$finetune_steps" --lr 1e-3 --warmup 50 --out "$out/$objective-finetuned"
  fi
done
for model in wced mlm wced-multitask wced-finetuned mlm-finetuned wced-multitask-finetuned; do
  echo "== $model"
  "$tessera" rna eval --model "$out/$model/model" --data "$data" --report "$out/$model.eval.json"
done
# The annotator shipped before 2026-12: WCED + multitask body, linear-probe cell-type head.
"$tessera" rna train --data "$data" --objective probe --init "$out/wced-multitask/model" --out "$out/plain-probe"
"$tessera" rna eval --model "$out/plain-probe/model" --data "$data" --report "$out/plain-probe.eval.json"
# The shipped annotator (www/models/rna-pbmc3k.tar): that body trained on for 1,200 steps on
# degraded inputs (random panels, thinning, variable-gene panels; README "Other studies"), its
# probe head fitted on plain and degraded cells.
if [ ! -f "$out/augmented/model/model.safetensors" ]; then
  "$tessera" rna train --data "$data" --objective wced-multitask --init "$out/plain-probe/model" \
    --steps "$steps" --lr 3e-4 --warmup 100 --augment --augment-share 0.2 --augment-variable-share 0.5 \
    --out "$out/augmented"
fi
"$tessera" rna train --data "$data" --objective probe --init "$out/augmented/model" \
  --augment --augment-share 0.1 --augment-variable-share 0.5 --out "$out/shipped"
"$tessera" rna eval --model "$out/shipped/model" --data "$data" --report "$out/shipped.eval.json"
"$tessera" bundle pack "$out/shipped/model" "$out/rna-pbmc3k.tar"
