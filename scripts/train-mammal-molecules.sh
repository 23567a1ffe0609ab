#!/usr/bin/env bash
# Reproduces the README's MAMMAL table: a small MAMMAL (T5 v1.1, 3+3 layers × 128) trained from
# scratch on two molecule tasks at once — B3DB blood–brain barrier classification and ESOL
# solubility regression — scored on their held-out rows beside the SMILES n-gram baselines, then
# packed as the playground's model (www/models/mammal-molecules.tar).
# Usage: scripts/train-mammal-molecules.sh [OUT]   (default target/mammal-molecules; ~25 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/mammal-molecules}"
tokenizer="${TESSERA_SHARED:-../shared}/data/mammal-tokenizer"
steps="${STEPS:-5000}"
cargo build --release -p tessera
tessera=target/release/tessera
mkdir -p "$out"

for task in b3db-bbb esol; do
  "$tessera" mammal baseline --task "native/tasks/$task.json" --report "$out/$task.baseline.json"
done
if [ ! -f "$out/run/model/model.safetensors" ]; then
  "$tessera" mammal train --task native/tasks/b3db-bbb.json --task native/tasks/esol.json \
    --tokenizer "$tokenizer" --steps "$steps" --seed 0 --out "$out/run"
fi
"$tessera" mammal eval --model "$out/run/model" --task native/tasks/b3db-bbb.json \
  --task native/tasks/esol.json --report "$out/eval.json"
"$tessera" bundle pack "$out/run/model" "$out/mammal-molecules.tar"
echo "bundle: $out/mammal-molecules.tar (copy to www/models/ to ship it)"
