#!/usr/bin/env bash
# Data-parallel throughput on this machine, side by side in one run: `rna train` on pbmc3k with
# one process, two ranks on threads of one process (--devices cpu,cpu), and two MPI processes
# (default threads, then one compute thread each). Same model, batch, micro-batches and seed,
# so every run takes the same steps; each prints its cells/s.
# Needs the CLI built with MPI: cargo build --release -p tessera --features mpi
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/pbmc3k/pbmc3k_counts_labeled.h5ad
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(--data "$data" --genes 2048 --hidden 256 --layers 4 --heads 4 --intermediate 1024
  --max-length 256 --batch-size 32 --micro-batch 16 --steps "${STEPS:-12}" --warmup 2
  --checkpoint-every 0)
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
run() { echo "$1: $("${@:2}" 2>&1 | grep -o '[0-9.]* cells/s')"; }
run "1 process           " target/release/tessera rna train "${args[@]}" --out "$out/one"
run "2 ranks on threads  " target/release/tessera rna train "${args[@]}" --out "$out/threads" --devices cpu,cpu
run "2 MPI processes     " "${mpi[@]}" target/release/tessera rna train "${args[@]}" --out "$out/mpi" --mpi
run "2 MPI, 1 thread each" env RAYON_NUM_THREADS=1 "${mpi[@]}" -x RAYON_NUM_THREADS \
  target/release/tessera rna train "${args[@]}" --out "$out/mpi1" --mpi
