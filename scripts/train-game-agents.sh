#!/usr/bin/env bash
# Trains the shipped attack agents and packs each best-validated one into www/models/:
# - the lattice agents game-agent-DEFINITION.tar (network, flow, noodle): the 2-core settings of
#   `tessera game train` (10×10 boards at p = 0.8, F = 16, depth 4, 20,000 steps of 64, seed 1),
#   12.5–14.5 minutes each on a 2-core machine; flow's with 8 blocks and the exact optimum's
#   values as targets (--depth 8 --targets flow-optimum), 20 minutes, then continued on mixed
#   10×10 and 20×20 boards with every site's exact value as its target (--size 10,20 --targets
#   flow-optimum-all, 4,000 steps from a hot start, then the same run resumed to 8,000), 30 minutes;
# - the graph agents game-agent-graph-DEFINITION.tar: message-passing nets (F = 32, depth 5) on a
#   mix of 10×10 lattices and Erdős–Rényi, Barabási–Albert and random geometric graphs of 20–100
#   nodes, 20,000 steps of 64, seed 1, 11–15 minutes each.
# Usage: scripts/train-game-agents.sh [OUT] [lattice|graph|all]   (default runs/game-agents, all)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/game-agents}
which=${2:-all}
cargo build --release -p tessera
for definition in network flow noodle; do
  if [ "$which" != graph ]; then
    flow=()
    [ "$definition" = flow ] && flow=(--depth 8 --targets flow-optimum)
    target/release/tessera game train --definition "$definition" "${flow[@]}" --seed 1 --out "$out/$definition"
    model=$out/$definition/model
    if [ "$definition" = flow ]; then
      target/release/tessera game train --definition flow --size 10,20 --targets flow-optimum-all \
        --steps 4000 --seed 4 --init "$model" --out "$out/flow-mixed" --checkpoint-every 1000
      target/release/tessera game train --definition flow --resume "$out/flow-mixed/checkpoints/step-4000" \
        --steps 8000 --out "$out/flow-mixed-8000" --checkpoint-every 1000
      model=$out/flow-mixed-8000/model
    fi
    target/release/tessera bundle pack "$model" "www/models/game-agent-$definition.tar"
  fi
  if [ "$which" != lattice ]; then
    target/release/tessera game train --definition "$definition" --graphs --features 32 --depth 5 \
      --seed 1 --out "$out/graph-$definition"
    target/release/tessera bundle pack "$out/graph-$definition/model" "www/models/game-agent-graph-$definition.tar"
  fi
done
