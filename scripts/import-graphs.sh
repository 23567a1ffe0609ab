#!/usr/bin/env bash
# Rebuilds www/graphs/ (the real networks the game ships) from topohub 1.5.1 on the Python registry
# (MIT; networkx node-link JSON with node positions): two Internet Topology Zoo backbones and two
# SNDlib networks, each with the attribution its source asks for and the two sides `flow` connects
# by default. CAIDA's AS-internal graphs import the same way but are not shipped (CAIDA's terms).
# Usage: scripts/import-graphs.sh   (needs target/release/tessera and target/pyenv)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/topohub
if [ ! -d "$dir/topohub/data" ]; then
  mkdir -p "$dir"
  target/pyenv/bin/pip download -q --no-deps topohub==1.5.1 -d "$dir"
  (cd "$dir" && python3 -m zipfile -e topohub-1.5.1-py3-none-any.whl .)
fi
data=$dir/topohub/data
zoo="The Internet Topology Zoo (S. Knight, H. X. Nguyen, N. Falkner, R. Bowden, M. Roughan, IEEE JSAC 29(9), 2011; www.topology-zoo.org), via topohub 1.5.1 (MIT)"
sndlib="SNDlib (S. Orlowski, R. Wessäly, M. Pióro, A. Tomaszewski, Networks 55(3), 2010; sndlib.put.poznan.pl), via topohub 1.5.1 (MIT)"
import() { # source file, out name, name, attribution, source side, sink side
  target/release/tessera game graph import --node-link "$data/$1" --out "www/graphs/$2.json" \
    --name "$3" --attribution "$4: $1" --source "$5" --sink "$6"
}
mkdir -p www/graphs
import topozoo/Abilene.json abilene Abilene "$zoo" "Seattle,Sunnyvale,Los Angeles" "New York,Washington DC,Atlanta"
import topozoo/Geant2012.json geant2012 "GÉANT 2012" "$zoo" "IE,UK,PT" "RU,TR,IL"
import sndlib/germany50.json germany50 germany50 "$sndlib" "Kiel,Flensburg,Hamburg" "Muenchen,Passau,Konstanz"
import sndlib/nobel-eu.json nobel-eu nobel-eu "$sndlib" "Dublin,Glasgow,London" "Athens,Rome,Zagreb"
