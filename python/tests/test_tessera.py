"""The Python package against the CLI: the same model on the same data gives the same columns,
answers and scores as `tessera rna annotate --out-h5ad`, `mammal run --json` and
`game eval --json`. Run with the wheel installed: `python -m unittest discover -s python/tests`.

TESSERA_BIN names the CLI (default target/release/tessera under the repository root)."""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import anndata
import numpy as np
import scipy.sparse as sp

import tessera

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("TESSERA_BIN", ROOT / "target" / "release" / "tessera"))
SAMPLE = ROOT / "www" / "samples" / "pbmc3k-test.h5ad"
RNA = ROOT / "www" / "models" / "rna-pbmc3k.tar"
MAMMAL = ROOT / "www" / "models" / "mammal-molecules.tar"

OBS = [
    "tessera_cell_type",
    "tessera_best_type",
    "tessera_confidence",
    "tessera_unassigned_reason",
    "tessera_total_counts",
    "tessera_n_genes",
    "tessera_n_model_genes",
]


def cli(*args: str) -> str:
    return subprocess.run(
        [str(CLI), *args], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout


def labels(column) -> list:
    """A categorical column's values as text, missing values as None."""
    return [None if isinstance(v, float) else str(v) for v in column.astype(object)]


class Annotate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        out = Path(cls.tmp.name) / "cli.h5ad"
        cli("rna", "annotate", "--model", str(RNA), "--data", str(SAMPLE), "--out-h5ad", str(out))
        cls.expected = anndata.read_h5ad(out)
        cls.model = tessera.load_rna(RNA)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_same_results(self, adata, umap=True):
        expected = self.expected
        self.assertEqual(list(adata.obs_names), list(expected.obs_names))
        for name in OBS:
            got, want = adata.obs[name], expected.obs[name]
            if str(want.dtype) == "category":
                self.assertEqual(str(got.dtype), "category", name)
                self.assertEqual(labels(got), labels(want), name)
            else:
                self.assertEqual(got.dtype, want.dtype, name)
                np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(), err_msg=name)
        keys = ["X_tessera", "tessera_probabilities"] + (["X_umap"] if umap else [])
        for name in keys:
            np.testing.assert_array_equal(adata.obsm[name], expected.obsm[name], err_msg=name)
        self.assertEqual(list(adata.uns["tessera_classes"]), list(expected.uns["tessera_classes"]))

    def test_columns_equal_the_clis_annotated_file(self):
        adata = anndata.read_h5ad(SAMPLE)
        tessera.annotate(adata, RNA, progress=False)
        self.assert_same_results(adata)
        self.assertEqual(adata.obsm["X_tessera"].dtype, np.float32)

    def test_the_unassigned_rule_is_the_clis(self):
        rule = {"min_cell_genes": 300, "min_confidence": 0.9}
        csv = Path(self.tmp.name) / "rule.csv"
        cli("rna", "annotate", "--model", str(RNA), "--data", str(SAMPLE), "--out", str(csv),
            "--min-cell-genes", "300", "--min-confidence", "0.9")
        import pandas as pd

        want = pd.read_csv(csv, keep_default_na=False)
        adata = anndata.read_h5ad(SAMPLE)
        tessera.annotate(adata, self.model, umap=False, progress=False, **rule)
        self.assertEqual(labels(adata.obs["tessera_cell_type"]), list(want["predicted_type"]))
        reasons = [r or "" for r in labels(adata.obs["tessera_unassigned_reason"])]
        self.assertEqual(reasons, list(want["unassigned_reason"]))
        # Both reasons occur, so the rule is exercised.
        self.assertEqual(set(reasons) - {""}, {"too_few_genes", "low_confidence"})
        self.assertNotIn("X_umap", adata.obsm)
        with self.assertRaisesRegex(tessera.TesseraError, "min_confidence 1.5 is not a probability"):
            tessera.annotate(adata, self.model, min_confidence=1.5, progress=False)

    def test_dense_and_csc_matrices_give_the_same_results(self):
        for convert in (lambda x: x.toarray(), sp.csc_matrix):
            adata = anndata.read_h5ad(SAMPLE)
            adata.X = convert(adata.X)
            tessera.annotate(adata, self.model, progress=False)
            self.assert_same_results(adata)

    def test_counts_are_found_after_normalisation(self):
        # scanpy's usual preprocessing: counts kept in a layer, X log-normalised.
        adata = anndata.read_h5ad(SAMPLE)
        adata.layers["counts"] = adata.X.copy()
        counts = sp.csr_matrix(adata.X, dtype=np.float32)
        scale = sp.diags(1e4 / np.asarray(counts.sum(axis=1)).ravel())
        adata.X = sp.csr_matrix(scale @ counts).log1p()
        tessera.annotate(adata, self.model, progress=False)
        self.assert_same_results(adata)
        with self.assertRaisesRegex(tessera.TesseraError, r"adata\.X: `X`: holds .* raw integer counts"):
            tessera.annotate(adata, self.model, layer="X", progress=False)
        with self.assertRaisesRegex(tessera.TesseraError, r"layer 'nope'.*counts"):
            tessera.annotate(adata, self.model, layer="nope", progress=False)

    def test_embed_equals_the_annotated_embeddings(self):
        adata = anndata.read_h5ad(SAMPLE)
        embedding = tessera.embed(adata, self.model, progress=False)
        np.testing.assert_array_equal(embedding, self.expected.obsm["X_tessera"])
        self.assertIs(adata.obsm["X_tessera"], embedding)

    def test_low_gene_overlap_is_refused(self):
        adata = anndata.read_h5ad(SAMPLE)[:, :400].copy()
        with self.assertRaisesRegex(tessera.TesseraError, r"min_genes=N sets the minimum"):
            tessera.annotate(adata, self.model, progress=False)
        before = set(adata.obs.columns)
        self.assertFalse(any(c.startswith("tessera_") for c in before), "nothing half-written")

    def test_gene_symbols_names_a_var_column(self):
        adata = anndata.read_h5ad(SAMPLE)
        adata.var["symbol"] = list(adata.var_names)
        adata.var_names = [f"g{i}" for i in range(adata.n_vars)]
        tessera.annotate(adata, self.model, gene_symbols="symbol", progress=False)
        self.assert_same_results(adata)
        with self.assertRaisesRegex(tessera.TesseraError, "nope"):
            tessera.annotate(adata, self.model, gene_symbols="nope", progress=False)


class Mammal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = tessera.mammal(MAMMAL)

    def test_task_answer_equals_the_clis(self):
        task = self.model.tasks[0]["name"]
        want = json.loads(cli("mammal", "run", "--model", str(MAMMAL), "--task", task, "--input", "CCO", "--json"))
        got = self.model.run(task=task, inputs={"SMILES": "CCO"})
        self.assertEqual(got, want)
        self.assertEqual(got["answer"]["kind"], "classes")

    def test_generation_equals_the_clis(self):
        prompts = [self.model.prompt(self.model.tasks[0]["name"], s) for s in ("CCO", "c1ccccc1O")]
        want = [
            json.loads(cli("mammal", "run", "--model", str(MAMMAL), "--prompt", p, "--max-new-tokens", "4", "--json"))
            for p in prompts
        ]
        self.assertEqual(self.model.run(prompts, max_new_tokens=4), want)

    def test_bad_arguments_are_named(self):
        with self.assertRaisesRegex(tessera.TesseraError, "no task \"nope\""):
            self.model.run(task="nope", inputs="CCO")
        with self.assertRaisesRegex(tessera.TesseraError, "beams 0"):
            self.model.run(self.model.prompt(self.model.tasks[0]["name"], "CCO"), beams=0)
        with self.assertRaisesRegex(tessera.TesseraError, "readout \"nope\""):
            self.model.run("<EOS>", readout="nope")


class Game(unittest.TestCase):
    def test_boards_and_scores_equal_the_clis(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "boards.jsonl"
            cli("game", "boards", "--size", "6", "--p", "0.8", "--count", "4", "--seed", "3", "--out", str(path))
            boards = tessera.game.boards(6, 0.8, 4, seed=3)
            self.assertEqual(boards, [json.loads(line) for line in path.read_text().splitlines()])
            policies = "random,degree,ci,optimal,agent"
            for definition in ("network", "flow"):
                want = json.loads(cli(
                    "game", "eval", "--boards", str(path), "--definition", definition,
                    "--policy", policies, "--seed", "5", "--json", "--moves",
                ))
                got = tessera.game.evaluate(boards, definition, policies.split(","), seed=5, moves=True)
                self.assertEqual(got, want, definition)
                self.assertEqual(tessera.game.evaluate(path, definition, ["degree"])[0]["per_board_steps"],
                                 want[1]["per_board_steps"])

    def test_real_networks_equal_the_clis(self):
        graph = ROOT / "www" / "graphs" / "germany50.json"
        policies = "degree,ci,corehd,optimal"
        for definition, sides in (("flow", []), ("flow", ["--source", "Kiel", "--sink", "Passau"]), ("network", [])):
            want = json.loads(cli(
                "game", "eval", "--graph", str(graph), "--definition", definition, "--policy", policies,
                "--json", "--moves", *sides,
            ))
            kwargs = {"source": [sides[1]], "sink": [sides[3]]} if sides else {}
            got = tessera.game.evaluate(graph, definition, policies.split(","), moves=True, **kwargs)
            self.assertEqual(got, want, (definition, sides))
        with self.assertRaisesRegex(tessera.TesseraError, "Nowhere"):
            tessera.game.evaluate(graph, "flow", ["degree"], source=["Nowhere"], sink=["Passau"])

    def test_bad_input_is_named(self):
        with self.assertRaisesRegex(tessera.TesseraError, "nobody"):
            tessera.game.evaluate(tessera.game.boards(4, 0.9, 1), "flow", ["nobody"])
        with self.assertRaisesRegex(tessera.TesseraError, "sideways"):
            tessera.game.evaluate(tessera.game.boards(4, 0.9, 1), "sideways", ["degree"])
        with self.assertRaisesRegex(tessera.TesseraError, "n 1"):
            tessera.game.boards(1, 0.5, 1)


if __name__ == "__main__":
    unittest.main()
