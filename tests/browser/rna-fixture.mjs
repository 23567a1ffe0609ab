// Test data for the annotation page, made from the reference SCBert fixture: an RNA bundle
// (its config, weights and gene vocabulary + our tessera.json) and the fixture's cells as a
// CSV table and a 10x folder, with what the reference computed for each cell.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { out, readSafetensors, shared, tessera } from "./support.mjs";

export const fixtureDir = () => join(shared, "fixtures/rna-scbert-tiny");

/** The fixture's label head, class by class (its config's `fixture_summary`). */
export const CLASS_NAMES = ["B cell", "T cell", "NK cell", "monocyte", "erythrocyte"];

/**
 * Inference settings under which the page encodes these cells exactly as the reference
 * collator did: sorted genes, log-normalised, at most 32 tokens (the `truncated` case), no
 * padding; the label head reads the pooler output.
 */
export const TESSERA_JSON = {
  cell_encoder: {
    max_length: 32,
    expose_zeros: "none",
    order: { kind: "sorted" },
    padding: "none",
    log_normalize: true,
    prepend: ["[CLS]"],
  },
  pooling: "pooling_layer",
  labels: { cell_type: CLASS_NAMES },
  provenance: { made_by: "tests/browser/rna-fixture.mjs", weights: "reference SCBert fixture (random)" },
};

/**
 * Fixture cells whose reference encoding our reader + encoder reproduce: every gene in the
 * vocabulary, no zero counts, no masking (so not `with_zeros`, `mlm_masked`, nor the `[UNK]`
 * cell of `unk_and_tiny`).
 */
const PICKS = [
  ["truncated", 0],
  ["single_short", 0],
  ["batch3_ragged", 0],
  ["batch3_ragged", 1],
  ["batch3_ragged", 2],
  ["unk_and_tiny", 0],
];

/** The bundle folder and archive (`tessera bundle pack`). */
export function rnaBundle() {
  const fixture = fixtureDir();
  const dir = join(out, "rna-scbert-tiny");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "tokenizers/genes"), { recursive: true });
  for (const file of ["config.json", "model.safetensors", "vocab.json", "tokenizers/genes/vocab.json"]) {
    copyFileSync(join(fixture, file), join(dir, file));
  }
  writeFileSync(join(dir, "tessera.json"), JSON.stringify(TESSERA_JSON, null, 2));
  const archive = join(out, "rna-scbert-tiny.tar");
  execFileSync(tessera, ["bundle", "pack", dir, archive], { stdio: "pipe" });
  return { dir, archive, url: "/tests/out/rna-scbert-tiny.tar" };
}

function softmax(row) {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** The picked cells: raw genes and counts, and the reference's logits and pooled embedding. */
export function referenceCells() {
  const fixture = fixtureDir();
  const cases = JSON.parse(readFileSync(join(fixture, "cases.json"), "utf8")).cases;
  const expected = readSafetensors(join(fixture, "expected.safetensors"));
  return PICKS.map(([name, b]) => {
    const index = cases.findIndex((c) => c.name === name);
    const cell = cases[index].cells[b];
    const logits = expected[`case${index}.label_logits.cell_type`];
    const pooled = expected[`case${index}.pooler_output`];
    const k = logits.shape[1];
    const d = pooled.shape[1];
    const probabilities = softmax(Array.from(logits.values.subarray(b * k, (b + 1) * k)));
    const best = probabilities.indexOf(Math.max(...probabilities));
    return {
      id: `${name}-${b}`,
      caseIndex: index,
      row: b,
      genes: cell.raw_genes,
      counts: cell.raw_counts,
      logits: Array.from(logits.values.subarray(b * k, (b + 1) * k)),
      probabilities,
      predicted: CLASS_NAMES[best],
      confidence: probabilities[best],
      embedding: Array.from(pooled.values.subarray(b * d, (b + 1) * d)),
    };
  });
}

/**
 * The picked cells repeated `copies` times (ids `…-r0`, `…-r1`, …) as one cells × genes table.
 * Columns start with the truncated cell's genes in its own order, so ties in its counts break
 * the way the reference collator broke them.
 */
export function fixtureTable(copies = 1) {
  const cells = referenceCells();
  const genes = [];
  const seen = new Map();
  for (const cell of cells) {
    for (const gene of cell.genes) {
      if (!seen.has(gene)) {
        seen.set(gene, genes.length);
        genes.push(gene);
      }
    }
  }
  const rows = [];
  for (let r = 0; r < copies; r++) {
    for (const cell of cells) {
      const counts = new Array(genes.length).fill(0);
      cell.genes.forEach((g, i) => (counts[seen.get(g)] = cell.counts[i]));
      rows.push({ id: copies === 1 ? cell.id : `${cell.id}-r${r}`, counts, reference: cell });
    }
  }
  return { genes, rows };
}

/** Writes the table as `name.csv` (cells × genes); returns its path. */
export function writeCsv(table, name, { gzip = false } = {}) {
  const lines = [["cell", ...table.genes].join(",")];
  for (const row of table.rows) lines.push([row.id, ...row.counts.map(String)].join(","));
  const text = lines.join("\n") + "\n";
  const path = join(out, `${name}.csv${gzip ? ".gz" : ""}`);
  writeFileSync(path, gzip ? gzipSync(text) : text);
  return path;
}

/** Writes the table as a 10x folder (gzipped matrix.mtx, barcodes.tsv, features.tsv). */
export function write10x(table, name) {
  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entries = [];
  table.rows.forEach((row, c) =>
    row.counts.forEach((v, g) => v !== 0 && entries.push(`${g + 1} ${c + 1} ${v}`)),
  );
  const mtx = [
    "%%MatrixMarket matrix coordinate integer general",
    "% made by tests/browser/rna-fixture.mjs",
    `${table.genes.length} ${table.rows.length} ${entries.length}`,
    ...entries,
  ].join("\n") + "\n";
  writeFileSync(join(dir, "matrix.mtx.gz"), gzipSync(mtx));
  writeFileSync(join(dir, "barcodes.tsv.gz"), gzipSync(table.rows.map((r) => r.id).join("\n") + "\n"));
  const features = table.genes.map((g, i) => `ENSG${String(i).padStart(11, "0")}\t${g}\tGene Expression`);
  writeFileSync(join(dir, "features.tsv.gz"), gzipSync(features.join("\n") + "\n"));
  return { dir, files: ["matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz"].map((f) => join(dir, f)) };
}

/**
 * Parses an annotation CSV (`cell_id,predicted_type,confidence,best_type,unassigned_reason,
 * total_counts,n_genes,n_model_genes`), quoted fields allowed.
 */
export function parseAnnotations(text) {
  const rows = [];
  let field = "";
  let row = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\n") row.push(field), rows.push(row), (row = []), (field = "");
    else if (ch !== "\r") field += ch;
  }
  if (field !== "" || row.length) row.push(field), rows.push(row);
  const [header, ...body] = rows;
  return {
    header: header.join(","),
    cells: body.map(([id, type, confidence, best, reason, totalCounts, nGenes, nModelGenes]) => ({
      id,
      type,
      confidence: Number(confidence),
      raw: confidence,
      best,
      reason,
      totalCounts: Number(totalCounts),
      nGenes: Number(nGenes),
      nModelGenes: Number(nModelGenes),
    })),
  };
}

/** The fixture's cells are compared number for number with the reference: nothing unassigned. */
export const CALL_ALL = { minGenes: "0", minCellGenes: "0", minConfidence: "0" };

/** `tessera rna annotate` on `data` (written to tests/out/NAME.csv); the CSV text. */
export function nativeAnnotate(model, data, name, { precision = "f32", rule = CALL_ALL } = {}) {
  const csv = join(out, `${name}.csv`);
  // By default no minimum of model genes and nothing unassigned: the reference fixture's cells
  // hold 110 of its 302 genes (the page is opened with CALL_ALL for them too); the minimum and
  // the Unassigned calls have their own tests in annotate.test.mjs.
  const args = ["--min-genes", rule.minGenes ?? "0"];
  if (rule.minCellGenes !== undefined) args.push("--min-cell-genes", rule.minCellGenes);
  if (rule.minConfidence !== undefined) args.push("--min-confidence", rule.minConfidence);
  execFileSync(tessera, ["rna", "annotate", "--model", model, "--data", data, "--out", csv, "--precision", precision, ...args], { stdio: "pipe" });
  return readFileSync(csv, "utf8");
}

/**
 * Whether a cell with class probabilities `probabilities` may get another call from another
 * backend (wasm vs native float rounding): its two best classes are within 1e-4, or its
 * confidence is within 2e-4 of the `minConfidence` rule.
 */
export function nearTie(probabilities, minConfidence) {
  const p = Array.from(probabilities).sort((a, b) => b - a);
  return p[0] - p[1] < 1e-4 || Math.abs(p[0] - minConfidence) < 2e-4;
}
