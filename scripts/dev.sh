#!/usr/bin/env bash
# The project's two entry points, for a fresh machine (Debian, Rust via rustup, Node 20):
#   scripts/dev.sh serve   build everything and serve the demo site on http://127.0.0.1:8080/
#   scripts/dev.sh test    install what the tests need, then run every test
# Both install what they need first and skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wasm_toolchain() {
  rustup target add wasm32-unknown-unknown
  # wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate in Cargo.lock.
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
  if [ "$have" != "$want" ]; then
    # Not --locked: one of its locked dependency versions is not on the registry mirror here.
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_test_packages() {
  rustup component add clippy rustfmt
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || missing+=(mesa-vulkan-drivers)
  # Open MPI for the data-parallel tests (`--features mpi`: mpirun, and the headers and
  # libclang its bindings are generated with).
  command -v mpirun >/dev/null || missing+=(openmpi-bin)
  command -v mpicc >/dev/null || missing+=(libopenmpi-dev)
  compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null || missing+=(libclang-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  # playwright-core drives the system Chromium; it never downloads a browser.
  (cd tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  # anndata (with h5py) from the Python registry reads back every .h5ad the tests write.
  if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
  fi
  [ -x target/pyenv/bin/python ] || python3 -m venv target/pyenv
  target/pyenv/bin/python -c "import anndata" 2>/dev/null || target/pyenv/bin/pip install -q anndata h5py
  # maturin builds the Python package's wheel (python/); pandas and scipy come with anndata.
  [ -x target/pyenv/bin/maturin ] || target/pyenv/bin/pip install -q "maturin>=1.9,<2"
}

# The Python package: an abi3 wheel built by maturin into target/wheels/, installed into the venv.
build_python_wheel() {
  rm -f target/wheels/tessera-*.whl
  target/pyenv/bin/maturin build --release -m python/Cargo.toml -i target/pyenv/bin/python \
    -o target/wheels
  target/pyenv/bin/pip uninstall -q -y tessera 2>/dev/null || true
  target/pyenv/bin/pip install -q target/wheels/tessera-*.whl
}

case "${1:-}" in
  serve)
    ensure_wasm_toolchain
    scripts/build-wasm.sh all
    cargo build --release -p tessera
    exec target/release/tessera serve --dir www "${@:2}"
    ;;
  test)
    ensure_wasm_toolchain
    ensure_test_packages
    start=$SECONDS
    # Code health, kept: formatting, then clippy with warnings as errors for both targets.
    cargo fmt --all --check
    # The CLI is built and tested with MPI (`tessera/mpi`) so the multi-process tests run.
    PYO3_PYTHON=$PWD/target/pyenv/bin/python cargo clippy --release -p tessera-kernels \
      -p tessera-core -p tessera -p tessera-python --features tessera/mpi --all-targets \
      -- -D warnings
    cargo clippy -p tessera-wasm --target wasm32-unknown-unknown \
      --features game,mammal,anndata,relaxed-simd -- -D warnings
    echo "lint done in $((SECONDS - start)) s"
    # Release profile for tests too: burn is compiled once for the binary and the tests.
    # Vulkan (Mesa's software driver at least) and the browser's WebGPU must be there.
    TESSERA_REQUIRE_VULKAN=1 cargo test --release -p tessera-kernels -p tessera-core -p tessera \
      --features tessera/mpi
    echo "rust tests done in $((SECONDS - start)) s"
    # The Python package, installed from its wheel, against the CLI's answers.
    cargo build --release -p tessera --features mpi
    build_python_wheel
    (cd target && pyenv/bin/python -m unittest discover -s ../python/tests)
    echo "python tests done in $((SECONDS - start)) s"
    scripts/build-wasm.sh all
    echo "wasm built at $((SECONDS - start)) s"
    (cd tests && TESSERA_REQUIRE_WEBGPU=1 npm test)
    # Every .h5ad written above (the shipped sample included) opens in current anndata.
    target/pyenv/bin/python scripts/check-h5ad.py www/samples tests/out target/tmp
    echo "all tests done in $((SECONDS - start)) s"
    ;;
  *)
    echo "usage: scripts/dev.sh serve [--port N] | scripts/dev.sh test" >&2
    exit 2
    ;;
esac
