//! `tessera game boards | eval | train` and `bench game` as scripts use them: the command-line
//! contract of the attack-game issue (board files, the JSON rows, `optimal` rows without a
//! solver, agents from bundles), training with checkpoints, resume and hot start.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn boards_are_seeded_and_eval_prints_the_contract_rows() {
    let dir = scratch("game-eval");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for out in [&a, &b] {
        ok(&[
            "game",
            "boards",
            "--size",
            "10",
            "--p",
            "0.8",
            "--count",
            "20",
            "--seed",
            "3",
            "--out",
            p(out),
        ]);
    }
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(&b).unwrap(),
        "same seed, same boards"
    );
    assert_eq!(text.lines().count(), 20);
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (first["n"].as_u64(), first["p"].as_f64()),
        (Some(10), Some(0.8))
    );
    assert_eq!(first["sites"].as_str().unwrap().len(), 100);

    for definition in ["network", "flow", "noodle"] {
        let out = ok(&[
            "game",
            "eval",
            "--boards",
            p(&a),
            "--definition",
            definition,
            "--policy",
            "random,degree,greedy,optimal",
            "--json",
        ]);
        let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
        assert_eq!(names, ["random", "degree", "greedy", "optimal"]);
        for row in &rows {
            assert_eq!(row["definition"], definition);
            assert_eq!(
                (row["size"].as_u64(), row["boards"].as_u64()),
                (Some(10), Some(20))
            );
            if row["per_board_steps"].is_null() {
                assert_eq!(row["policy"], "optimal");
                assert!(row["reason"].as_str().unwrap().contains(definition));
                continue;
            }
            let steps: Vec<f64> = row["per_board_steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(steps.len(), 20);
            let mean = steps.iter().sum::<f64>() / 20.0;
            assert!((row["mean_steps"].as_f64().unwrap() - mean).abs() < 1e-9);
            assert!(row["std_steps"].as_f64().unwrap() >= 0.0);
            let auc = row["mean_auc"].as_f64().unwrap();
            assert!(auc > 0.0 && auc < 1.0, "{auc}");
        }
        if definition == "flow" {
            // The optimum never loses to a heuristic, board by board.
            let per = |row: &Value| -> Vec<u64> {
                row["per_board_steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            };
            let optimal = per(&rows[3]);
            for row in &rows[..3] {
                assert!(
                    per(row).iter().zip(&optimal).all(|(h, o)| h >= o),
                    "{}",
                    row["policy"]
                );
            }
        }
    }
    let table = ok(&[
        "game",
        "eval",
        "--boards",
        p(&a),
        "--definition",
        "flow",
        "--policy",
        "degree,optimal",
    ]);
    assert!(
        table.contains("20 boards of 10×10 at p = 0.8, definition flow"),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("optimal")), "{table}");
}

/// `game eval --definition flow` on a board file holding `text`; its error.
fn eval_flow(boards: &std::path::Path, text: &str) -> String {
    std::fs::write(boards, text).unwrap();
    fails(&[
        "game",
        "eval",
        "--boards",
        p(boards),
        "--definition",
        "flow",
    ])
}

/// `game boards` drawing one board of side `size` at `p` into `out`; its error.
fn draw_one(out: &std::path::Path, size: &str, p_: &str) -> String {
    fails(&[
        "game",
        "boards",
        "--size",
        size,
        "--p",
        p_,
        "--count",
        "1",
        "--out",
        p(out),
    ])
}

#[test]
fn bad_game_input_is_named() {
    let dir = scratch("game-errors");
    let boards = dir.join("boards.jsonl");
    let e = eval_flow(
        &boards,
        "{\"n\": 3, \"p\": 0.5, \"sites\": \"111111111\"}\n{\"n\": 3, \"p\": 0.5, \"sites\": \"11\"}\n",
    );
    assert!(e.contains("line 2") && e.contains("needs 9"), "{e}");
    std::fs::write(
        &boards,
        "{\"n\": 3, \"p\": 0.5, \"sites\": \"111111111\"}\n",
    )
    .unwrap();
    let e = fails(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "percolation",
    ]);
    assert!(
        e.contains("percolation") && e.contains("network, flow, noodle"),
        "{e}"
    );
    let e = fails(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "flow",
        "--policy",
        "random,oracle",
    ]);
    assert!(e.contains("oracle"), "{e}");
    // Far below the percolation threshold no board survives its first update: refused, not a hang.
    let none = dir.join("none.jsonl");
    let e = draw_one(&none, "12", "0.2");
    assert!(
        e.contains("p = 0.2") && e.contains("percolation threshold"),
        "{e}"
    );
    let e = draw_one(&none, "12", "1.5");
    assert!(e.contains("p = 1.5"), "{e}");
    assert!(!none.exists());
    // Hostile sizes: n² overflowing (it scored "0 moves" by every policy), a side beyond the
    // limit, an empty board; each named by file, line and field, refused before any allocation.
    let e = eval_flow(
        &boards,
        "{\"n\": 3, \"p\": 0.5, \"sites\": \"111111111\"}\n{\"n\": 4294967296, \"p\": 0.5, \"sites\": \"\"}\n",
    );
    assert!(
        e.contains("boards.jsonl")
            && e.contains("line 2")
            && e.contains("field \"n\"")
            && e.contains("4294967296"),
        "{e}"
    );
    let e = eval_flow(&boards, "{\"n\": 0, \"p\": 0.5, \"sites\": \"\"}\n");
    assert!(e.contains("at least 1") && !e.contains("needs 0"), "{e}");
    let e = draw_one(&none, "100000", "0.8");
    assert!(e.contains("100000") && e.contains("limit"), "{e}");
    assert!(!none.exists());
}

#[test]
fn bench_game_prints_a_row_per_definition_and_size() {
    let out = ok(&[
        "bench",
        "game",
        "--size",
        "8,16",
        "--boards",
        "2",
        "--backend",
        "cpu",
    ]);
    for definition in ["network", "flow", "noodle"] {
        // Rows: the definition, then the side (the optimum's line starts "flow optimum").
        let rows: Vec<&str> = out
            .lines()
            .filter(|l| {
                let mut cells = l.split_whitespace();
                cells.next() == Some(definition)
                    && cells.next().is_some_and(|c| c.parse::<usize>().is_ok())
            })
            .collect();
        assert_eq!(rows.len(), 2, "{out}");
        for row in rows {
            let cells: Vec<f64> = row
                .split_whitespace()
                .skip(1)
                .map(|c| c.parse().unwrap())
                .collect();
            assert!(cells[1] > 0.0 && cells[2] > 0.0 && cells[3] > 0.0, "{row}");
        }
    }
    assert!(out.contains("flow optimum at n = 16"), "{out}");
    // The agent's inference speed on the CPU backend, one row per size.
    let agent: Vec<Vec<f64>> = out
        .lines()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|c| c.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(agent.len(), 2, "{out}");
    assert!(agent.iter().all(|r| r[1] > 0.0 && r[2] > 0.0), "{out}");
}

/// A tiny training run's flags: 5×5 boards, a 4-channel net, steps of 8.
fn tiny_train<'a>(definition: &'a str, steps: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "game",
        "train",
        "--definition",
        definition,
        "--size",
        "5",
        "--features",
        "4",
        "--depth",
        "1",
        "--batch",
        "8",
        "--steps",
        steps,
        "--validate-every",
        "10",
        "--checkpoint-every",
        "10",
        "--seed",
        "2",
        "--out",
        out,
    ]
}

#[test]
fn game_train_checkpoints_resumes_hot_starts_and_its_agent_plays_in_eval() {
    let dir = scratch("game-train");
    let run = dir.join("run");
    ok(&tiny_train("noodle", "30", p(&run)));
    for file in [
        "model/config.json",
        "model/model.safetensors",
        "history.json",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model"], "tessera-game-agent");
    assert_eq!(config["definition"]["kind"], "noodle");
    assert_eq!(config["size"], 5);
    assert!(config["validation_moves"].as_f64().unwrap() > 0.0);
    for file in [
        "target.safetensors",
        "replay.bin",
        "trainer.json",
        "optimizer.safetensors",
    ] {
        assert!(
            run.join("checkpoints/step-20").join(file).is_file(),
            "{file}"
        );
    }

    // Resuming from step 20 ends where the uninterrupted run ended: the same validations.
    let resumed = dir.join("resumed");
    let step_20 = run.join("checkpoints/step-20");
    let mut args = tiny_train("noodle", "30", p(&resumed));
    args.extend(["--resume", p(&step_20)]);
    ok(&args);
    let history = |dir: &std::path::Path| -> Vec<Value> {
        let h: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("history.json")).unwrap())
                .unwrap();
        h.iter()
            .flat_map(|s| s["terms"].as_array().unwrap().clone())
            .filter(|t| t[0] == "validation_moves")
            .collect()
    };
    // (Equal up to a near-tie flipped by float rounding: a move on one board of 100.)
    let (a, b) = (history(&resumed), history(&run));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x[1].as_f64().unwrap() - y[1].as_f64().unwrap()).abs() <= 0.05,
            "{a:?} vs {b:?}"
        );
    }

    // A resumed run with a new end trains to it (train longer, or stop sooner).
    let sooner = dir.join("sooner");
    let mut args = tiny_train("noodle", "25", p(&sooner));
    args.extend(["--resume", p(&step_20)]);
    ok(&args);
    let steps: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(sooner.join("history.json")).unwrap())
            .unwrap();
    assert_eq!(steps.len(), 25);

    // Hot start on larger boards, mixed sizes, from the 5×5 agent (one net plays every size).
    let hot = dir.join("hot");
    ok(&[
        "game",
        "train",
        "--definition",
        "noodle",
        "--size",
        "7,6",
        "--batch",
        "8",
        "--steps",
        "10",
        "--validate-every",
        "10",
        "--init",
        p(&run.join("model")),
        "--out",
        p(&hot),
    ]);
    let hot_config: Value =
        serde_json::from_str(&std::fs::read_to_string(hot.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        (
            hot_config["size"].as_u64(),
            hot_config["net"]["features"].as_u64()
        ),
        (Some(7), Some(4)),
        "the net's shape comes from the agent it starts from"
    );
    assert_eq!(hot_config["mixed_sizes"], serde_json::json!([6]));

    // The agent plays any definition's boards (cross-play) beside the baselines.
    let boards = dir.join("boards.jsonl");
    ok(&[
        "game",
        "boards",
        "--size",
        "6",
        "--p",
        "0.8",
        "--count",
        "5",
        "--seed",
        "4",
        "--out",
        p(&boards),
    ]);
    let policy = format!("degree,agent={}", p(&run.join("model")));
    let out = ok(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "flow",
        "--policy",
        &policy,
        "--json",
        "--moves",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    for row in &rows {
        // Each board's moves: as many as its step count, no site twice.
        let moves = row["per_board_moves"].as_array().unwrap();
        let steps = row["per_board_steps"].as_array().unwrap();
        for (m, s) in moves.iter().zip(steps) {
            let mut sites: Vec<u64> = m
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(sites.len() as u64, s.as_u64().unwrap());
            sites.sort();
            sites.dedup();
            assert_eq!(sites.len() as u64, s.as_u64().unwrap());
        }
    }
    assert_eq!(rows[1]["policy"], policy.split(',').nth(1).unwrap());
    assert_eq!(rows[1]["trained_on"], "noodle");
    assert_eq!(rows[1]["definition"], "flow");
    let steps = rows[1]["per_board_steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    assert!(steps.iter().all(|s| s.as_u64().unwrap() >= 1));

    // Not an agent: the file and the field are named.
    let e = fails(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "flow",
        "--policy",
        "agent=/nonexistent/agent.tar",
    ]);
    assert!(e.contains("/nonexistent/agent.tar"), "{e}");
    let rna = repo().join("www/models/rna-pbmc3k.tar");
    let e = fails(&[
        "game",
        "train",
        "--definition",
        "flow",
        "--init",
        p(&rna),
        "--out",
        p(&dir.join("bad")),
    ]);
    assert!(e.contains("rna-pbmc3k.tar") && e.contains("model"), "{e}");
}

#[test]
fn graph_boards_from_edge_lists_are_played_by_every_baseline() {
    let dir = scratch("game-graph");
    // Two 4-cliques joined by one bridge node x: flow from the first to the second is cut by x.
    let edges = dir.join("two-cliques.edges");
    let mut text = String::from("# two cliques and a bridge\n");
    for clique in ["a", "b"] {
        for i in 0..4 {
            for j in i + 1..4 {
                text.push_str(&format!("{clique}{i} {clique}{j}\n"));
            }
        }
    }
    text.push_str("a0 x\nx b0\n");
    std::fs::write(&edges, &text).unwrap();
    let out = ok(&[
        "game",
        "eval",
        "--graph",
        p(&edges),
        "--definition",
        "flow",
        "--source",
        "a1,a2",
        "--sink",
        "b3",
        "--policy",
        "random,degree,greedy,ci,corehd,optimal",
        "--json",
        "--moves",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(
            (row["size"].as_u64(), row["boards"].as_u64()),
            (Some(9), Some(1))
        );
        assert!(row["p"].is_null());
    }
    let optimal = &rows[5];
    assert_eq!(
        optimal["per_board_steps"][0], 1,
        "one cut node: x, a0 or b0"
    );
    for definition in ["network", "noodle"] {
        let out = ok(&[
            "game",
            "eval",
            "--graph",
            p(&edges),
            "--definition",
            definition,
            "--policy",
            "degree,optimal",
            "--json",
        ]);
        let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
        let (degree, optimal) = (
            &rows[0]["per_board_steps"][0],
            &rows[1]["per_board_steps"][0],
        );
        assert!(
            optimal.as_u64().unwrap() >= 1 && optimal.as_u64() <= degree.as_u64(),
            "{definition}"
        );
    }
    // Past exhaustive search's 64 nodes flow still has its optimum (max flow), the others a
    // reason: a ladder of 2 × 40 nodes, its two rails joined by rungs, is cut in two moves.
    let ladder = dir.join("ladder.edges");
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("u{i} d{i}\n"));
        if i + 1 < 40 {
            text.push_str(&format!("u{i} u{}\nd{i} d{}\n", i + 1, i + 1));
        }
    }
    std::fs::write(&ladder, &text).unwrap();
    let flow_and_network = ["flow", "network"].map(|definition| {
        let out = ok(&[
            "game",
            "eval",
            "--graph",
            p(&ladder),
            "--definition",
            definition,
            "--source",
            "u0,d0",
            "--sink",
            "u39,d39",
            "--policy",
            "optimal",
            "--json",
        ]);
        serde_json::from_str::<Vec<Value>>(&out).unwrap().remove(0)
    });
    assert_eq!(flow_and_network[0]["per_board_steps"][0], 2);
    assert!(flow_and_network[1]["per_board_steps"].is_null());
    assert!(
        flow_and_network[1]["reason"]
            .as_str()
            .unwrap()
            .contains("64"),
        "{}",
        flow_and_network[1]
    );
    let e = fails(&["game", "eval", "--graph", p(&edges), "--definition", "flow"]);
    assert!(
        e.contains("--source") && e.contains("two-cliques.edges"),
        "{e}"
    );
    let e = fails(&[
        "game",
        "eval",
        "--graph",
        p(&edges),
        "--definition",
        "flow",
        "--source",
        "a1",
        "--sink",
        "zz",
    ]);
    assert!(e.contains("\"zz\""), "{e}");
    std::fs::write(&edges, "a b\nb\n").unwrap();
    let e = fails(&[
        "game",
        "eval",
        "--graph",
        p(&edges),
        "--definition",
        "network",
    ]);
    assert!(e.contains("line 2"), "{e}");
}

/// A topohub-shaped node-link file: the two cliques and bridge above, numeric ids, city names
/// and positions, `links` as networkx writes them (one link given both ways, as directed data has).
fn node_link_two_cliques() -> String {
    let mut nodes = Vec::new();
    let mut links = Vec::new();
    for id in 0..9 {
        let name = match id {
            8 => "Bridge".to_string(),
            _ => format!("{}{}", if id < 4 { "a" } else { "b" }, id % 4),
        };
        nodes.push(serde_json::json!({"id": id, "name": name, "pos": [id as f64, -(id as f64)]}));
    }
    for clique in [0, 4] {
        for i in 0..4 {
            for j in i + 1..4 {
                links.push(
                    serde_json::json!({"source": clique + i, "target": clique + j, "dist": 1.0}),
                );
            }
        }
    }
    links.push(serde_json::json!({"source": 0, "target": 8}));
    links.push(serde_json::json!({"source": 8, "target": 0}));
    links.push(serde_json::json!({"source": 8, "target": 4}));
    serde_json::json!({
        "directed": false, "multigraph": false,
        "graph": {"name": "two-cliques"}, "nodes": nodes, "links": links,
    })
    .to_string()
}

#[test]
fn real_networks_import_from_node_link_json_and_play_as_edge_lists_do() {
    let dir = scratch("game-graph-import");
    let source = dir.join("two-cliques.node-link.json");
    std::fs::write(&source, node_link_two_cliques()).unwrap();
    let graph = dir.join("two-cliques.json");
    ok(&[
        "game",
        "graph",
        "import",
        "--node-link",
        p(&source),
        "--out",
        p(&graph),
        "--attribution",
        "made up for a test",
        "--source",
        "a1,a2",
        "--sink",
        "b3",
    ]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&graph).unwrap()).unwrap();
    assert_eq!(file["name"], "two-cliques");
    assert_eq!(file["attribution"], "made up for a test");
    assert_eq!(file["nodes"].as_array().unwrap().len(), 9);
    assert_eq!(
        file["nodes"][8],
        serde_json::json!({"id": "8", "label": "Bridge", "x": 8.0, "y": -8.0})
    );
    // The same graph as an edge list, named by the labels: every player makes the same moves
    // (as node indices: both number the nodes the same way here) under every definition.
    let edges = dir.join("two-cliques.edges");
    let mut text = String::new();
    for clique in ["a", "b"] {
        for i in 0..4 {
            for j in i + 1..4 {
                text.push_str(&format!("{clique}{i} {clique}{j}\n"));
            }
        }
    }
    text.push_str("b0 b1\na0 Bridge\nBridge b0\n");
    std::fs::write(&edges, text).unwrap();
    let policies = "random,degree,greedy,ci,corehd,optimal";
    for definition in ["network", "flow", "noodle"] {
        let play = |file: &std::path::Path, sides: bool| -> Vec<Value> {
            let mut args = vec![
                "game",
                "eval",
                "--graph",
                p(file),
                "--definition",
                definition,
                "--policy",
                policies,
                "--json",
            ];
            if sides {
                args.extend(["--source", "a1,a2", "--sink", "b3"]);
            }
            let rows: Vec<Value> = serde_json::from_str(&ok(&args)).unwrap();
            rows.iter().map(|r| r["per_board_steps"].clone()).collect()
        };
        // The graph file's own sides, by label; the edge list's given.
        assert_eq!(play(&graph, false), play(&edges, true), "{definition}");
    }
    let optimal: Vec<Value> = serde_json::from_str(&ok(&[
        "game",
        "eval",
        "--graph",
        p(&graph),
        "--definition",
        "flow",
        "--source",
        "a1",
        "--sink",
        "b2",
        "--policy",
        "optimal",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        optimal[0]["per_board_steps"][0], 1,
        "one cut node: the bridge, a0 or b0"
    );
    // Bad files and names are refused by file and field.
    let bad = |json: &str| {
        std::fs::write(&source, json).unwrap();
        fails(&[
            "game",
            "graph",
            "import",
            "--node-link",
            p(&source),
            "--out",
            p(&dir.join("bad.json")),
            "--attribution",
            "x",
        ])
    };
    let e = bad(
        r#"{"graph":{"name":"g"},"nodes":[{"id":1,"pos":[0,0]},{"id":1,"pos":[1,1]}],"links":[]}"#,
    );
    assert!(
        e.contains("two-cliques.node-link.json: nodes[1].id") && e.contains("node 0"),
        "{e}"
    );
    let e = bad(r#"{"graph":{"name":"g"},"nodes":[{"id":1,"pos":[0,0]},{"id":2}],"links":[]}"#);
    assert!(e.contains("nodes[1].pos: missing"), "{e}");
    let e = bad(
        r#"{"graph":{"name":"g"},"nodes":[{"id":1,"pos":[0,0]}],"links":[{"source":1,"target":7}]}"#,
    );
    assert!(e.contains("edges[0][1]: no node has id \"7\""), "{e}");
    assert!(
        !dir.join("bad.json").exists(),
        "nothing written for a refused file"
    );
    let e = fails(&[
        "game",
        "eval",
        "--graph",
        p(&graph),
        "--definition",
        "flow",
        "--source",
        "Nowhere",
        "--sink",
        "b3",
    ]);
    assert!(e.contains("\"Nowhere\""), "{e}");
    std::fs::write(
        &graph,
        r#"{"name":"g","attribution":"x","nodes":[],"edges":[],"extra":1}"#,
    )
    .unwrap();
    let e = fails(&[
        "game",
        "eval",
        "--graph",
        p(&graph),
        "--definition",
        "network",
    ]);
    assert!(e.contains("extra"), "{e}");
}

#[test]
fn shipped_networks_are_played_with_the_flow_optimum_between_their_sides() {
    let dir = repo().join("www/graphs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            names.push(path);
        }
    }
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for graph in &names {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(graph).unwrap()).unwrap();
        assert!(
            file["attribution"].as_str().unwrap().contains("topohub"),
            "{graph:?}"
        );
        let rows: Vec<Value> = serde_json::from_str(&ok(&[
            "game",
            "eval",
            "--graph",
            p(graph),
            "--definition",
            "flow",
            "--policy",
            "random,degree,greedy,ci,corehd,optimal",
            "--json",
        ]))
        .unwrap();
        let steps: Vec<u64> = rows
            .iter()
            .map(|r| r["per_board_steps"][0].as_u64().unwrap())
            .collect();
        let optimum = steps[5];
        assert!(
            optimum >= 1 && steps.iter().all(|&s| s >= optimum),
            "{graph:?}: {steps:?}"
        );
    }
}

#[test]
fn the_graph_agent_trains_and_plays_networks_and_lattices_in_eval() {
    let dir = scratch("graph-agent");
    let run = dir.join("run");
    let mut train = tiny_train("network", "20", p(&run));
    train.extend(["--graphs", "--nodes", "10-20"]);
    let log = ok(&train);
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architecture"], "message-passing", "{log}");
    assert_eq!(config["graphs"]["min_nodes"], 10);
    let model = format!("agent={}", p(&run.join("model")));
    let abilene = repo().join("www/graphs/abilene.json");
    let row = |args: &[&str]| -> Value {
        let rows: Vec<Value> = serde_json::from_str(&ok(args)).unwrap();
        rows.into_iter().next().unwrap()
    };
    // On a real network the agent plays the game to its end; on lattices too.
    let played = row(&[
        "game",
        "eval",
        "--graph",
        p(&abilene),
        "--definition",
        "network",
        "--policy",
        &model,
        "--json",
        "--moves",
    ]);
    let moves = played["per_board_moves"][0].as_array().unwrap();
    assert_eq!(
        played["per_board_steps"][0].as_u64().unwrap() as usize,
        moves.len()
    );
    assert!(!moves.is_empty() && moves.iter().all(|m| m.as_u64().unwrap() < 11));
    assert_eq!(played["trained_on"], "network");
    let boards = dir.join("boards.jsonl");
    ok(&[
        "game",
        "boards",
        "--size",
        "6",
        "--p",
        "0.8",
        "--count",
        "3",
        "--seed",
        "4",
        "--out",
        p(&boards),
    ]);
    let lattice = row(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "network",
        "--policy",
        &model,
        "--json",
    ]);
    assert_eq!(lattice["per_board_steps"].as_array().unwrap().len(), 3);

    // `agent` on a graph is the shipped graph agent, as `graph-agent` names it.
    let germany = repo().join("www/graphs/germany50.json");
    let rows: Vec<Value> = serde_json::from_str(&ok(&[
        "game",
        "eval",
        "--graph",
        p(&germany),
        "--definition",
        "noodle",
        "--policy",
        "agent,graph-agent",
        "--json",
        "--moves",
    ]))
    .unwrap();
    assert_eq!(rows[0]["per_board_moves"], rows[1]["per_board_moves"]);
    assert_eq!(rows[0]["trained_on"], "noodle");

    // Exact targets are refused, by name, for a definition without them.
    let refused = fails(&[
        "game",
        "train",
        "--definition",
        "network",
        "--targets",
        "flow-optimum",
        "--out",
        p(&dir.join("t")),
    ]);
    assert!(refused.contains("targets flow-optimum"), "{refused}");

    // The lattice agent refuses a network and says which agent plays one.
    let lattice_agent = format!(
        "agent={}",
        p(&repo().join("www/models/game-agent-network.tar"))
    );
    let refusal = fails(&[
        "game",
        "eval",
        "--graph",
        p(&abilene),
        "--definition",
        "network",
        "--policy",
        &lattice_agent,
    ]);
    assert!(
        refusal.contains("graph of 11 nodes") && refusal.contains("a graph agent"),
        "{refusal}"
    );
}
