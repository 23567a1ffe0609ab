#!/usr/bin/env bash
# Builds the browser modules into www/pkg/ with the web client beside them, one pair per model
# family so each page downloads only its own:
#   tessera_cpu / tessera_webgpu                BMFM-RNA (cell annotation)
#   tessera_cpu_relaxed, tessera_mammal_cpu_relaxed   the CPU modules with relaxed SIMD
#   tessera_mammal_cpu / tessera_mammal_webgpu  MAMMAL (the playground)
#   tessera_game_cpu                            the attack game and its agent (CPU only: the
#                                               agent's net is small)
#   tessera_anndata_cpu                         the annotation page's extras, loaded when asked
#                                               for: UMAP and the annotated .h5ad
# The CPU module (burn flex) is the small download, used when WebGPU is unavailable; the WebGPU
# one keeps the CPU as its own fallback.
# Usage: scripts/build-wasm.sh [cpu|webgpu|mammal|game|anndata|all]   (default all; cpu/webgpu: BMFM-RNA)
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
out=www/pkg
mkdir -p "$out"

# Target flags (WebAssembly SIMD, getrandom's browser backend) are in .cargo/config.toml.

# The CPU module must stay under 1 MB gzipped: everything is optimised for size with one fat-LTO
# codegen unit, except our host kernels (tessera-kernels: the matrix product, activations,
# softmax), where nearly all CPU time goes: size-optimised, LLVM does not vectorise or unroll
# them. gemm, which burn-flex still calls for the few products outside `nn::linear` and tiled
# attention (small heads, autodiff), is size-optimised too since our kernel took the hot ones:
# kept at opt-level 3 it cost 25 kB gzipped of the MAMMAL module. (Profile `wasm` in Cargo.toml
# stays opt-level 3 for anything else built with it.)
cpu_profile=(--config 'profile.wasm.opt-level="z"' --config 'profile.wasm.lto="fat"'
  --config 'profile.wasm.codegen-units=1' --config 'profile.wasm.package.tessera-kernels.opt-level=3')

# Browsers with relaxed SIMD (Chromium 114+, Firefox 145+) get a second build of the annotation and
# playground CPU modules whose matrix kernels use its fused multiply-add (`f32x4.relaxed_madd`, feature
# relaxed-simd: only those functions are compiled for it, as macerator 0.5.2 does not build with
# the target feature on). The page picks it after WebAssembly.validate accepts a relaxed
# instruction (web/src/tessera.js); other browsers keep tessera_cpu.

build() { # name, cargo profile, cargo feature args...
  local name=$1 profile=$2; shift 2
  local raw=target/wasm32-unknown-unknown/$profile/tessera_wasm.wasm
  echo "== wasm: $name"
  cargo build -p tessera-wasm --target wasm32-unknown-unknown --profile "$profile" "$@"
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-name "$name" --out-dir "$out" "$raw"
  printf '%s: %s bytes, %s gzipped\n' "$name" "$(stat -c %s "$out/${name}_bg.wasm")" \
    "$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)"
}

mammal=(--no-default-features --features mammal)
game=(--no-default-features --features game)
anndata=(--no-default-features --features anndata)
case "$which" in
  cpu) build tessera_cpu wasm "${cpu_profile[@]}"
    build tessera_cpu_relaxed wasm "${cpu_profile[@]}" --features relaxed-simd ;;
  webgpu) build tessera_webgpu wasm-gpu --features webgpu ;;
  mammal) build tessera_mammal_cpu wasm "${cpu_profile[@]}" "${mammal[@]}"
    build tessera_mammal_cpu_relaxed wasm "${cpu_profile[@]}" "${mammal[@]}" --features relaxed-simd
    build tessera_mammal_webgpu wasm-gpu "${mammal[@]}" --features webgpu ;;
  game) build tessera_game_cpu wasm "${cpu_profile[@]}" "${game[@]}" ;;
  anndata) build tessera_anndata_cpu wasm "${cpu_profile[@]}" "${anndata[@]}" ;;
  all) build tessera_cpu wasm "${cpu_profile[@]}"
    build tessera_cpu_relaxed wasm "${cpu_profile[@]}" --features relaxed-simd
    build tessera_webgpu wasm-gpu --features webgpu
    build tessera_mammal_cpu wasm "${cpu_profile[@]}" "${mammal[@]}"
    build tessera_mammal_cpu_relaxed wasm "${cpu_profile[@]}" "${mammal[@]}" --features relaxed-simd
    build tessera_mammal_webgpu wasm-gpu "${mammal[@]}" --features webgpu
    build tessera_game_cpu wasm "${cpu_profile[@]}" "${game[@]}"
    build tessera_anndata_cpu wasm "${cpu_profile[@]}" "${anndata[@]}" ;;
  *) echo "usage: $0 [cpu|webgpu|mammal|game|anndata|all]" >&2; exit 2 ;;
esac
cp web/src/tessera.js web/src/worker.js web/src/tessera.d.ts "$out/"
