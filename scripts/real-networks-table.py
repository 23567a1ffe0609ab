#!/usr/bin/env python3
"""Scores the graph agent against the baselines on every real network of topohub's Internet
Topology Zoo and SNDlib collections (none of which it trained on) and prints the README's table.

Each network is imported with `tessera game graph import` (flow's sides: its three westernmost and
three easternmost nodes) and played once per definition with `tessera game eval --graph --json`.
Networks the importer refuses (no positions, repeated ids) or with fewer than 10 nodes are skipped
and counted. Usage (after scripts/import-graphs.sh has downloaded topohub):
    target/pyenv/bin/python scripts/real-networks-table.py [--agents DIR] [--out FILE.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESSERA = os.path.join(ROOT, "target", "release", "tessera")
DATA = os.path.join(ROOT, "target", "topohub", "topohub", "data")
HEURISTICS = ["degree", "ci", "corehd"]
SIDE = 3


def run(args):
    return subprocess.run([TESSERA, *args], capture_output=True, text=True)


def position(node):
    if "pos" in node:
        return node["pos"][0]
    return node.get("x")


def import_graph(path, out):
    """The graph file for `path` in `out`, or the reason it was skipped."""
    with open(path) as f:
        data = json.load(f)
    nodes = data["nodes"]
    if len(nodes) < 10:
        return None, "fewer than 10 nodes"
    if any(position(n) is None for n in nodes):
        return None, "a node without a position"
    order = sorted(nodes, key=position)
    west = ",".join(str(n["id"]) for n in order[:SIDE])
    east = ",".join(str(n["id"]) for n in order[-SIDE:])
    result = run(["game", "graph", "import", "--node-link", path, "--out", out,
                  "--attribution", "topohub 1.5.1", "--source", west, "--sink", east])
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1]
    return out, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", default=os.path.join(ROOT, "www", "models"),
                        help="folder with game-agent-graph-DEFINITION.tar")
    parser.add_argument("--out", help="also write every game's moves here (JSON)")
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        sys.exit(f"{DATA} not found: run scripts/import-graphs.sh first")
    files = [os.path.join(DATA, c, f) for c in ("topozoo", "sndlib")
             for f in sorted(os.listdir(os.path.join(DATA, c))) if f.endswith(".json")]
    results = {}
    skipped = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(files):
            name = os.path.relpath(path, DATA)[:-5]
            graph, reason = import_graph(path, os.path.join(tmp, f"{i}.json"))
            if graph is None:
                skipped[name] = reason
                continue
            results[name] = {}
            for definition in ("network", "flow", "noodle"):
                agent = os.path.join(args.agents, f"game-agent-graph-{definition}.tar")
                policies = ["random", *HEURISTICS, f"agent={agent}"]
                if definition == "flow":
                    policies.append("optimal")
                result = run(["game", "eval", "--graph", graph, "--definition", definition,
                              "--policy", ",".join(policies), "--json"])
                if result.returncode != 0:
                    sys.exit(f"{name} {definition}: {result.stderr}")
                rows = json.loads(result.stdout)
                results[name][definition] = {
                    ("agent" if r["policy"].startswith("agent=") else r["policy"]):
                        r["per_board_steps"][0] for r in rows}
            print(f"{name}: {results[name]}", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"results": results, "skipped": skipped}, f, indent=1)
    print(f"{len(results)} networks played, {len(skipped)} skipped "
          f"({', '.join(sorted(set(skipped.values())))[:200]})")
    print()
    print("| definition | networks | random | degree | ci | corehd | graph agent | optimal "
          "| agent vs degree | vs ci | vs corehd |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for definition in ("network", "flow", "noodle"):
        games = [r[definition] for r in results.values() if r[definition]["random"] > 0]
        mean = lambda key: statistics.mean(g[key] for g in games)

        def record(heuristic):
            wins = sum(g["agent"] < g[heuristic] for g in games)
            losses = sum(g["agent"] > g[heuristic] for g in games)
            return f"{wins}–{len(games) - wins - losses}–{losses}"

        optimal = f"{mean('optimal'):.2f}" if definition == "flow" else "n/a"
        print(f"| {definition} | {len(games)} | {mean('random'):.2f} | {mean('degree'):.2f} "
              f"| {mean('ci'):.2f} | {mean('corehd'):.2f} | **{mean('agent'):.2f}** | {optimal} "
              f"| {record('degree')} | {record('ci')} | {record('corehd')} |")
    print()
    print("(mean moves to disable each network, over the networks whose game is not over at the "
          "start; the last three columns count the networks where the agent needs fewer, as many "
          "and more moves than that heuristic)")


if __name__ == "__main__":
    main()
