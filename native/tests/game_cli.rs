//! `tessera game boards | eval` and `bench game` as scripts use them: the command-line contract of
//! the attack-game issue (board files, the JSON rows, `optimal` rows without a solver).

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

#[test]
fn bad_game_input_is_named() {
    let dir = scratch("game-errors");
    let boards = dir.join("boards.jsonl");
    std::fs::write(&boards, "{\"n\": 3, \"p\": 0.5, \"sites\": \"111111111\"}\n{\"n\": 3, \"p\": 0.5, \"sites\": \"11\"}\n").unwrap();
    let e = fails(&[
        "game",
        "eval",
        "--boards",
        p(&boards),
        "--definition",
        "flow",
    ]);
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
    let e = fails(&[
        "game",
        "boards",
        "--size",
        "12",
        "--p",
        "0.2",
        "--count",
        "1",
        "--out",
        p(&none),
    ]);
    assert!(
        e.contains("p = 0.2") && e.contains("percolation threshold"),
        "{e}"
    );
    let e = fails(&[
        "game",
        "boards",
        "--size",
        "12",
        "--p",
        "1.5",
        "--count",
        "1",
        "--out",
        p(&none),
    ]);
    assert!(e.contains("p = 1.5"), "{e}");
    assert!(!none.exists());
}

#[test]
fn bench_game_prints_a_row_per_definition_and_size() {
    let out = ok(&["bench", "game", "--size", "8,16", "--boards", "2"]);
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
}
