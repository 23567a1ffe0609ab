#!/usr/bin/env bash
# The README's attack-game table: every baseline, the exact optimum where it is known, and the
# three shipped agents (each playing every definition: cross-play) on 100 boards of 10×10 (the
# agents' training size) and 20×20, p = 0.8, board seed 1 (held out: the agents trained on boards
# drawn from other seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/game-table}
mkdir -p "$out"
cargo build --release -p tessera
agents=agent=www/models/game-agent-network.tar,agent=www/models/game-agent-flow.tar,agent=www/models/game-agent-noodle.tar
for n in 10 20; do
  target/release/tessera game boards --size "$n" --p 0.8 --count 100 --seed 1 --out "$out/boards-$n.jsonl"
  for definition in network flow noodle; do
    target/release/tessera game eval --boards "$out/boards-$n.jsonl" --definition "$definition" \
      --policy "random,degree,greedy,ci,corehd,optimal,$agents" --json > "$out/eval-$n-$definition.json"
    target/release/tessera game eval --boards "$out/boards-$n.jsonl" --definition "$definition" \
      --policy "random,degree,greedy,ci,corehd,optimal,$agents"
  done
done
