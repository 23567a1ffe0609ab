#!/usr/bin/env bash
# Trains the three shipped attack agents (network, flow, noodle) with the 2-core settings of
# `tessera game train` (10×10 boards at p = 0.8, F = 16, depth 4, 20,000 steps of 64, seed 1) and
# packs each best-validated agent as www/models/game-agent-DEFINITION.tar. About 10 minutes per
# agent on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/game-agents}
cargo build --release -p tessera
for definition in network flow noodle; do
  target/release/tessera game train --definition "$definition" --seed 1 --out "$out/$definition"
  target/release/tessera bundle pack "$out/$definition/model" "www/models/game-agent-$definition.tar"
done
