#!/usr/bin/env bash
# Tessera's CPU speed beside PyTorch's, measured in one run on this machine: the same shapes,
# random weights, fp32, the same thread count, each figure the median pass after a warm-up.
#
#   scripts/bench-vs-pytorch.sh            # every row, 3 rounds (≈ 10 min on 2 cores)
#   ONLY=mammal ROUNDS=1 scripts/bench-vs-pytorch.sh
#
# Rows: the MAMMAL 458M encoder at 64 / 512 / 1,500 tokens and its cached greedy decoding
# (16 new tokens after each prompt), and SCBert's 12 × 768 encoder at 1 × 256, 32 × 256 and
# 1 × 1024 cells × tokens. PyTorch and transformers come from the Python registry into a virtual
# environment (TESSERA_BENCH_VENV, default target/bench-venv; PyPI's Linux torch wheel pulls
# its CUDA libraries too, ≈ 3 GB, though only the CPU is used). The raw figures are kept in
# target/bench-vs-pytorch/*.jsonl. A shared machine's speed drifts by 10–25 % between minutes,
# so the whole comparison runs ROUNDS times (PyTorch, then Tessera, per model each round) and
# each row shows the median of its per-round ratios with every round's ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS="${THREADS:-$(nproc)}"
ONLY="${ONLY:-}"
ROUNDS="${ROUNDS:-3}"
VENV="${TESSERA_BENCH_VENV:-target/bench-venv}"
TESSERA="${TESSERA:-target/release/tessera}"

if ! "$VENV/bin/python" -c "import torch, transformers" 2>/dev/null; then
    echo "== installing torch and transformers into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet torch transformers
fi
if [[ ! -x "$TESSERA" ]]; then
    echo "== building $TESSERA" >&2
    cargo build --release -p tessera-core -p tessera
fi

mkdir -p target/bench-vs-pytorch
RAW="target/bench-vs-pytorch/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
# Both engines get the same threads: torch.set_num_threads and rayon's pool.
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
{
    python3 -c 'import json, platform
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(json.dumps({"machine": cpu, "cores": '"$(nproc)"', "threads": '"$THREADS"'}))'
    "$TESSERA" --version | python3 -c 'import json, sys; print(json.dumps({"engine": "tessera", "version": sys.stdin.read().split()[-1]}))'
    for round in $(seq 1 "$ROUNDS"); do
        echo "{\"round\": $round}"
        if [[ -z "$ONLY" || "$ONLY" == mammal ]]; then
            echo "== round $round/$ROUNDS, MAMMAL 458M: PyTorch, then Tessera" >&2
            "$VENV/bin/python" scripts/bench-pytorch.py --threads "$THREADS" --only mammal
            "$TESSERA" bench mammal --backend cpu --size mammal --length 64,512,1500 --json
        fi
        if [[ -z "$ONLY" || "$ONLY" == rna ]]; then
            echo "== round $round/$ROUNDS, SCBert 12 × 768: PyTorch, then Tessera" >&2
            "$VENV/bin/python" scripts/bench-pytorch.py --threads "$THREADS" --only rna
            "$TESSERA" bench rna --backend cpu --size scbert --batch 1,32 --length 256 --json
            "$TESSERA" bench rna --backend cpu --size scbert --batch 1 --length 1024 --json
        fi
    done
} | tee "$RAW" >/dev/null

python3 - "$RAW" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
machine = next(r for r in rows if "machine" in r)
versions = {r["engine"]: r for r in rows if "version" in r}
# (engine, model, row, batch, length) -> {round: figure}
figures, round_ = {}, 1
for r in rows:
    if "round" in r:
        round_ = r["round"]
    elif "per_second" in r:
        key = (r["engine"], r["model"], r["row"], r["batch"], r["length"])
        figures.setdefault(key, {})[round_] = r
names = {("mammal", "encoder"): "MAMMAL 458M encoder", ("mammal", "decode"): "MAMMAL 458M cached decoding",
         ("rna", "embed"): "SCBert 12 × 768 embedding"}
rounds = max((r["round"] for r in rows if "round" in r), default=1)
print(f"{machine['machine']}, {machine['cores']} cores, {machine['threads']} threads each; "
      f"PyTorch {versions['pytorch']['version']} (transformers {versions['pytorch']['transformers']}), "
      f"Tessera {versions['tessera']['version']} (cpu backend); {rounds} round(s), medians")
print(f"{'row':<30} {'batch × length':>15} {'unit':>9} {'PyTorch':>9} {'Tessera':>9} {'ratio':>7}  each round")
def median(by_round):
    return statistics.median(v["per_second"] for v in by_round.values())
for key, theirs in figures.items():
    engine, model, row, batch, length = key
    if engine != "pytorch":
        continue
    ours = figures.get(("tessera", model, row, batch, length), {})
    ratios = [ours[k]["per_second"] / theirs[k]["per_second"] for k in sorted(set(theirs) & set(ours))]
    ratio = f"{statistics.median(ratios):.2f}×" if ratios else "–"
    mine = f"{median(ours):.2f}" if ours else "–"
    unit = next(iter(theirs.values()))["unit"]
    print(f"{names[(model, row)]:<30} {f'{batch} × {length}':>15} {unit:>9} "
          f"{median(theirs):>9.2f} {mine:>9} {ratio:>7}  {' '.join(f'{x:.2f}' for x in ratios)}")
print(f"raw figures: {sys.argv[1]}")
EOF
