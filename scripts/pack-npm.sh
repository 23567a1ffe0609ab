#!/usr/bin/env bash
# Packs the browser client as the npm package @tessera/web: stages target/npm/package/ with
#   package.json   web/package.json, its version the crate's ([workspace.package] in Cargo.toml)
#   README.md      web/README.md
#   dist/          web/src/{tessera.js,worker.js,tessera.d.ts} and every wasm module worker.js
#                  loads (its MODULES table): www/pkg/NAME.js and www/pkg/NAME_bg.wasm
# then runs `npm pack` into target/npm/ and prints the tarball's path and size.
# Needs the modules built first: scripts/build-wasm.sh all.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "pack-npm: $*" >&2; exit 1; }

# The package's version is the crate's; web/package.json must say the same, so the source never
# claims a version the package does not have.
crate_version=$(awk '
  /^\[/ { section = $0; next }
  section == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
' Cargo.toml)
[ -n "$crate_version" ] || fail "no version under [workspace.package] in Cargo.toml"
web_version=$(node -p 'require("./web/package.json").version')
[ "$web_version" = "$crate_version" ] ||
  fail "web/package.json has version $web_version but Cargo.toml's [workspace.package] has $crate_version; make them equal"

# The modules are the ones worker.js imports by literal path (one home for the list).
mapfile -t modules < <(grep -o 'import("\./tessera_[a-z0-9_]*\.js")' web/src/worker.js | sed 's/^import("\.\///; s/\.js")$//' | sort -u)
[ ${#modules[@]} -gt 0 ] || fail "found no module table (import(\"./tessera_….js\")) in web/src/worker.js"
for name in "${modules[@]}"; do
  for file in "www/pkg/$name.js" "www/pkg/${name}_bg.wasm"; do
    [ -f "$file" ] || fail "$file is missing (worker.js loads module $name); build the modules first: scripts/build-wasm.sh all"
  done
done

stage=target/npm/package
rm -rf "$stage"
mkdir -p "$stage/dist"
cp web/src/tessera.js web/src/worker.js web/src/tessera.d.ts "$stage/dist/"
for name in "${modules[@]}"; do
  cp "www/pkg/$name.js" "www/pkg/${name}_bg.wasm" "$stage/dist/"
done
cp web/README.md "$stage/README.md"
VERSION="$crate_version" node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("web/package.json", "utf8"));
  pkg.version = process.env.VERSION;
  fs.writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json"

tarball=$(cd "$stage" && npm pack --silent --pack-destination .. | tail -n 1)
path=target/npm/$tarball
[ -f "$path" ] || fail "npm pack did not write $path"
printf '%s: %s bytes (%s modules, version %s)\n' "$path" "$(stat -c %s "$path")" "${#modules[@]}" "$crate_version"
