// The cell annotation page (www/annotate.html) as a user drives it, on the CPU (wasm) and WebGPU
// backends:
// - the reference SCBert fixture's cells (as a CSV, a gzipped CSV and a 10x folder) through a
//   bundle of the fixture's weights: every class probability and the embedding equal the
//   reference's within 1e-4, the CSV equals `tessera rna forward`'s logits and
//   `tessera rna annotate`'s file;
// - the pbmc3k sample through the shipped model (www/models/rna-pbmc3k.tar) — or, until that
//   exists, a pbmc3k-shaped stand-in trained here for a few steps — with "Try the sample": labels,
//   per-cell QC and `Unassigned` calls (under a strict rule, so both reasons occur) equal to the
//   native CLI's CSV for the same bundle, data and rule, and shown in the legend and QC line;
//   then the UMAP (shown in place of the PCA map) and the annotated .h5ad download;
// - `?precision=f16`: half precision where the device has f16 arithmetic (the CPU module; a
//   WebGPU adapter with shader-f16), the engine line says which, and the labels equal
//   `tessera rna annotate --precision` at that precision, probabilities within 1e-2 of f32's;
// - bad files and bad models: a readable message on the page, never a crash, and the page works
//   afterwards;
// - no request leaves the site, and none but the page, the engine, the model and the sample.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, out, readSafetensors, recordedPage, repo, serveRepo, shared, tessera } from "./support.mjs";
import {
  CALL_ALL,
  CLASS_NAMES,
  fixtureDir,
  fixtureTable,
  nativeAnnotate,
  nearTie,
  parseAnnotations,
  referenceCells,
  rnaBundle,
  write10x,
  writeCsv,
} from "./rna-fixture.mjs";

/** Where the other half of the project puts the demo's model and sample. */
const SHIPPED_MODEL = join(repo, "www/models/rna-pbmc3k.tar");
const SAMPLE = join(repo, "www/samples/pbmc3k-test.h5ad");
const requireWebGpu = process.env.TESSERA_REQUIRE_WEBGPU === "1";
const HEADER = "cell_id,predicted_type,confidence,best_type,unassigned_reason,total_counts,n_genes,n_model_genes";
/** |browser − reference| per probability; the CSV's 4 decimals add up to 5e-5 of rounding. */
const TOLERANCE = 1e-4;
const CSV_TOLERANCE = TOLERANCE + 5e-5;

let server, browser, bundle, table, files, nativeProbabilities, stand;
/** CSV text per backend from the fixture run, for the cross-backend check. */
const fixtureCsv = new Map();

before(async () => {
  bundle = rnaBundle();
  // 6 fixture cells × 6 copies = 36 cells: batches of 16, 16 and 4.
  table = fixtureTable(6);
  files = {
    csv: writeCsv(table, "fixture-cells"),
    csvGz: writeCsv(table, "fixture-cells-gz", { gzip: true }),
    tenx: write10x(table, "fixture-10x"),
  };
  nativeProbabilities = nativeForwardProbabilities(bundle.dir);
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** `tessera rna forward` on the fixture's cases: the label head's probabilities per picked cell. */
function nativeForwardProbabilities(model) {
  const output = join(out, "native-rna-forward.safetensors");
  execFileSync(tessera, ["rna", "forward", "--model", model, "--cases", join(fixtureDir(), "cases.json"), "--out", output], { stdio: "pipe" });
  const tensors = readSafetensors(output);
  const result = new Map();
  for (const cell of referenceCells()) {
    const logits = tensors[`case${cell.caseIndex}.label_logits.cell_type`];
    const k = logits.shape[1];
    const row = Array.from(logits.values.subarray(cell.row * k, (cell.row + 1) * k));
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    result.set(cell.id, exps.map((e) => e / sum));
  }
  return result;
}

/** The engine line for `backend` in Chromium (which has relaxed SIMD) with `?simd=`. */
function backendText(backend, simd = "auto") {
  if (backend === "webgpu") return "WebGPU";
  return simd === "plain" ? "CPU (WebAssembly)" : "CPU (WebAssembly), relaxed SIMD";
}

/**
 * Opens the page on `backend`; resolves once the model is loaded (or failed to). Returns null
 * (after skipping `t`) when WebGPU was asked for and the browser has no adapter.
 */
async function openPage(t, backend, query = {}, base = `${server.url}/www/annotate.html`) {
  const { page, logs, requests } = await recordedPage(browser, { acceptDownloads: true });
  page.on("worker", (w) => w.on("console", (m) => logs.push(`worker ${m.type()}: ${m.text()}`)));
  const search = new URLSearchParams({ backend, ...query });
  await page.goto(`${base}?${search}`);
  await page.waitForFunction(() => document.body.dataset.state !== "starting", null, { timeout: 120_000 });
  const engine = await page.getAttribute("#engine", "data-state");
  if (engine === "error") {
    const note = await page.textContent("#note");
    await page.close();
    if (backend === "webgpu" && !requireWebGpu) {
      t.skip(`no WebGPU adapter in this browser: ${note}`);
      return null;
    }
    assert.fail(`${backend} engine failed to start: ${note}\n${logs.join("\n")}`);
  }
  assert.equal(engine, backend, await page.textContent("#note"));
  await page.waitForFunction(() => /predicts|has no label head|No model/.test(document.getElementById("model-info").textContent), null, { timeout: 120_000 });
  return { page, logs, requests };
}

/** Waits for the page to finish (done or error) and returns its state. */
async function settled(page, timeout = 300_000) {
  await page.waitForFunction(() => ["done", "error", "ready"].includes(document.body.dataset.state) && document.getElementById("run").hidden, null, { timeout });
  return page.evaluate(() => document.body.dataset.state);
}

async function annotateFiles(page, paths, input = "#files", timeout) {
  await page.setInputFiles(input, paths);
  return settled(page, timeout);
}

/** Clicks "Download CSV" and returns the file's name and text. */
async function downloadCsv(page) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  return { name: download.suggestedFilename(), text: readFileSync(await download.path(), "utf8") };
}

async function pageResults(page) {
  return page.evaluate(() => {
    const r = window.tesseraAnnotation.results;
    return {
      cellIds: r.cellIds,
      classNames: r.classNames,
      predicted: Array.from(r.predicted),
      confidence: Array.from(r.confidence),
      unassigned: Array.from(r.unassigned),
      nModelGenes: Array.from(r.nModelGenes),
      probabilities: Array.from(r.probabilities),
      embedding: Array.from(r.embedding),
      embeddingDim: r.embeddingDim,
      map: Array.from(r.map),
    };
  });
}

async function failure(page) {
  return {
    state: await page.evaluate(() => document.body.dataset.state),
    error: (await page.textContent("#error")).trim(),
  };
}

/** Every request went to this site, for the page, its engine or the given data files. */
function assertOnlySiteRequests(requests, origin, allowed) {
  for (const url of requests) {
    if (url.startsWith("data:") || url.startsWith("blob:")) continue;
    const parsed = new URL(url);
    assert.equal(parsed.origin, origin, `request left the site: ${url}`);
    const ok = allowed.some((a) => (a.endsWith("/") ? parsed.pathname.startsWith(a) : parsed.pathname === a));
    assert.ok(ok, `unexpected request: ${parsed.pathname}`);
  }
}

function assertClose(actual, expected, tolerance, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tolerance, `${what}: off by ${worst}`);
}

describe("fixture cells", () => {
  // The CPU module twice: the relaxed-SIMD build Chromium gets, and the plain one (`?simd=plain`)
  // that engines without relaxed SIMD get.
  for (const [backend, simd] of [["cpu", "auto"], ["cpu", "plain"], ["webgpu", "auto"]]) {
    const run = simd === "plain" ? `${backend}, plain SIMD` : backend;
    test(`annotation page on ${run}: reference probabilities and embeddings, native forward, CSV`, async (t) => {
      const opened = await openPage(t, backend, { model: bundle.url, ...CALL_ALL, simd });
      if (!opened) return;
      const { page, logs, requests } = opened;
      // Which build runs, and the engine line says so.
      const expectedSimd = backend === "webgpu" ? "" : simd === "plain" ? "simd128" : "relaxed";
      assert.equal(await page.getAttribute("#engine", "data-simd"), expectedSimd);
      assert.equal(await page.textContent("#backend"), backendText(backend, simd));
      assert.match(await page.textContent("#model-info"), /predicts cell_type \(5 types: B cell, T cell, NK cell, monocyte, erythrocyte\)/);
      const state = await annotateFiles(page, files.csv);
      assert.equal(state, "done", `${(await failure(page)).error}\n${logs.join("\n")}`);
      assert.match(await page.textContent("#dataset"), /fixture-cells\.csv \(csv\): 36 cells × 110 genes; 110 of them/);

      const results = await pageResults(page);
      assert.deepEqual(results.classNames, CLASS_NAMES);
      assert.deepEqual(results.cellIds, table.rows.map((r) => r.id));
      const k = CLASS_NAMES.length;
      const d = results.embeddingDim;
      table.rows.forEach((row, c) => {
        const ref = row.reference;
        const probabilities = results.probabilities.slice(c * k, (c + 1) * k);
        assertClose(probabilities, ref.probabilities, TOLERANCE, `${row.id} probabilities vs reference`);
        assertClose(probabilities, nativeProbabilities.get(ref.id), TOLERANCE, `${row.id} probabilities vs native forward`);
        assertClose(results.embedding.slice(c * d, (c + 1) * d), ref.embedding, TOLERANCE, `${row.id} embedding vs reference`);
        assert.equal(CLASS_NAMES[results.predicted[c]], ref.predicted, row.id);
      });
      assert.equal(results.map.length, 2 * 36);
      assert.ok(results.map.every(Number.isFinite));

      // What the user sees: legend, throughput on this backend, the CSV.
      const legend = await page.$$eval("#legend tbody tr", (rows) =>
        rows.map((r) => ({ type: r.dataset.type, cells: Number(r.querySelector(".cells").textContent.replace(/,/g, "")), confidence: Number(r.querySelector(".confidence").textContent) })),
      );
      assert.equal(legend.reduce((s, r) => s + r.cells, 0), 36);
      for (const row of legend) assert.ok(row.confidence > 0 && row.confidence <= 1, JSON.stringify(row));
      const throughput = await page.textContent("#throughput");
      assert.match(throughput, new RegExp(`cells/s on ${backend === "webgpu" ? "WebGPU · 1 worker" : "CPU \\(WebAssembly\\) · \\d+ workers?"}: 36 cells in`));
      assert.ok(Number(await page.textContent("#rate")) > 0, throughput);

      const { name, text } = await downloadCsv(page);
      assert.equal(name, "fixture-cells-annotations.csv");
      const csv = parseAnnotations(text);
      assert.equal(csv.header, HEADER);
      assert.equal(csv.cells.length, 36);
      csv.cells.forEach((cell, c) => {
        const ref = table.rows[c].reference;
        assert.equal(cell.id, table.rows[c].id);
        assert.equal(cell.type, ref.predicted, cell.id);
        assert.match(cell.raw, /^[01]\.\d{4}$/, `${cell.id}: confidence ${cell.raw} has 4 decimals`);
        assert.ok(Math.abs(cell.confidence - ref.confidence) <= CSV_TOLERANCE, `${cell.id}: ${cell.raw} vs ${ref.confidence}`);
      });
      fixtureCsv.set(run, text);

      assertOnlySiteRequests(requests, server.url, [
        "/www/annotate.html", "/www/style.css", "/www/annotate.css", "/www/annotate.js", "/www/engine.js", "/www/pkg/", bundle.url,
      ]);
      assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
      await page.close();
    });
  }

  test("?simd= other than auto, relaxed or plain is refused by name on the engine line", async () => {
    const { page } = await recordedPage(browser);
    await page.goto(`${server.url}/www/annotate.html?backend=cpu&simd=fast`);
    await page.waitForFunction(() => document.getElementById("engine").dataset.state !== "starting", null, { timeout: 60_000 });
    assert.equal(await page.getAttribute("#engine", "data-state"), "error");
    assert.equal(await page.textContent("#note"), "simd: expected auto, relaxed or plain, not fast");
    await page.close();
  });

  test("the native CLI writes the same CSV for the same bundle and cells", async (t) => {
    const native = parseAnnotations(nativeAnnotate(bundle.dir, files.csv, "native-fixture-cells"));
    assert.equal(native.header, HEADER);
    if (fixtureCsv.size === 0) return t.skip("no browser run to compare with");
    for (const [backend, text] of fixtureCsv) {
      const page = parseAnnotations(text);
      assert.deepEqual(page.cells.map((c) => [c.id, c.type]), native.cells.map((c) => [c.id, c.type]), backend);
      page.cells.forEach((cell, i) =>
        assert.ok(Math.abs(cell.confidence - native.cells[i].confidence) <= CSV_TOLERANCE, `${backend} ${cell.id}: ${cell.raw} vs native ${native.cells[i].raw}`),
      );
    }
  });

  test("a gzipped CSV, a 10x folder's files and the folder picker give the same CSV (CPU)", async (t) => {
    const { page, logs } = await openPage(t, "cpu", { model: bundle.url, ...CALL_ALL });
    let expected = fixtureCsv.get("cpu");
    if (!expected) {
      assert.equal(await annotateFiles(page, files.csv), "done");
      expected = (await downloadCsv(page)).text;
    }
    for (const [what, paths, input] of [
      ["gzipped CSV", files.csvGz, "#files"],
      ["10x files", files.tenx.files, "#files"],
      ["10x folder", files.tenx.dir, "#folder"],
    ]) {
      const state = await annotateFiles(page, paths, input);
      assert.equal(state, "done", `${what}: ${(await failure(page)).error}\n${logs.join("\n")}`);
      if (what.startsWith("10x")) assert.match(await page.textContent("#dataset"), /\(10x\): 36 cells × 110 genes/);
      assert.equal((await downloadCsv(page)).text, expected, what);
    }
    await page.close();
  });
});

describe("the pbmc3k sample", () => {
  /**
   * The model to run: the shipped one, or a stand-in of the same shape (pbmc3k vocabulary of
   * 2,048 genes, 4 × 128 SCBert, a cell_type head) trained here for a few steps.
   */
  function sampleModel() {
    if (existsSync(SHIPPED_MODEL)) return { path: SHIPPED_MODEL, url: "/www/models/rna-pbmc3k.tar", shipped: true };
    if (!stand) {
      const dir = join(out, "rna-pbmc3k-standin");
      execFileSync(tessera, ["rna", "train", "--data", join(shared, "data/pbmc3k/pbmc3k_counts_labeled.h5ad"), "--objective", "wced-multitask",
        "--steps", "8", "--warmup", "2", "--lr", "3e-3", "--out", dir], { stdio: "pipe" });
      execFileSync(tessera, ["bundle", "pack", join(dir, "model"), `${dir}.tar`], { stdio: "pipe" });
      stand = { path: `${dir}.tar`, url: "/tests/out/rna-pbmc3k-standin.tar", shipped: false };
    }
    return stand;
  }

  /**
   * The sample under a stricter rule than the default (which assigns every held-out cell), so
   * that both reasons for `Unassigned` occur: the sample's cells express 135–1,000+ of the
   * model's genes (median 557) at a mean confidence of 0.93.
   */
  const STRICT = { minGenes: "0", minCellGenes: "300", minConfidence: "0.9" };

  /**
   * The sample as the page gets it. A software WebGPU (SwiftShader on a CI machine) runs the
   * demo model at well under 1 cell/s, so on WebGPU the page gets the sample's 26 NK cells
   * (`tessera data subset`) unless TESSERA_WEBGPU_FULL_SAMPLE=1.
   */
  function sampleFor(backend) {
    if (backend !== "webgpu" || process.env.TESSERA_WEBGPU_FULL_SAMPLE === "1") {
      return { path: SAMPLE, url: "/www/samples/pbmc3k-test.h5ad", name: "pbmc3k-test", cells: 564 };
    }
    const path = join(out, "pbmc3k-test-nk.h5ad");
    execFileSync(tessera, ["data", "subset", "--data", SAMPLE, "--where", "cell_type=NK", "--out", path], { stdio: "pipe" });
    return { path, url: "/tests/out/pbmc3k-test-nk.h5ad", name: "pbmc3k-test-nk", cells: 26 };
  }

  for (const backend of ["cpu", "webgpu"]) {
    test(`"Try the sample" on ${backend}: labels equal the native CLI's`, { timeout: 900_000 }, async (t) => {
      if (!existsSync(SAMPLE)) return t.skip(`${SAMPLE} is not there yet`);
      const model = sampleModel();
      const sample = sampleFor(backend);
      const query = { ...STRICT };
      if (!model.shipped) query.model = model.url;
      if (sample.path !== SAMPLE || !model.shipped) query.sample = sample.url;
      const opened = await openPage(t, backend, query);
      if (!opened) return;
      const { page, logs, requests } = opened;
      if (!model.shipped) t.diagnostic(`www/models/rna-pbmc3k.tar is not there yet; using a stand-in model (${model.path})`);
      if (sample.path !== SAMPLE) t.diagnostic(`on ${backend}: the sample's ${sample.cells} NK cells (${sample.path})`);
      assert.match(await page.textContent("#model-info"), /predicts cell_type/);
      await page.click("#sample");
      const state = await settled(page, 850_000);
      assert.equal(state, "done", `${(await failure(page)).error}\n${logs.join("\n")}`);
      assert.match(await page.textContent("#dataset"), new RegExp(`${sample.name}\\.h5ad \\(h5ad\\): ${sample.cells} cells × 16,579 genes`));
      const results = await pageResults(page);
      const { text } = await downloadCsv(page);
      const csv = parseAnnotations(text);
      const native = parseAnnotations(nativeAnnotate(model.path, sample.path, `native-${sample.name}`, { rule: STRICT }));
      assert.equal(csv.header, HEADER);
      assert.deepEqual(csv.cells.map((c) => c.id), native.cells.map((c) => c.id));
      // QC is exact; labels must agree. A disagreement is allowed only where the page's two best
      // classes are within 1e-4 or its confidence within 2e-4 of the rule's (a float tie between
      // backends), and such cells must be rare.
      const k = results.classNames.length;
      let ties = 0;
      csv.cells.forEach((cell, c) => {
        const theirs = native.cells[c];
        assert.deepEqual([cell.totalCounts, cell.nGenes, cell.nModelGenes], [theirs.totalCounts, theirs.nGenes, theirs.nModelGenes], cell.id);
        assert.equal(cell.nModelGenes, results.nModelGenes[c], cell.id);
        if (cell.type !== theirs.type || cell.best !== theirs.best) {
          const tie = nearTie(results.probabilities.slice(c * k, (c + 1) * k), Number(STRICT.minConfidence));
          assert.ok(tie, `${cell.id}: page says ${cell.type} (${cell.raw}), native ${theirs.type} (${theirs.raw})`);
          ties += 1;
        }
        const expected = cell.nModelGenes < Number(STRICT.minCellGenes) ? "too_few_genes" : cell.confidence < Number(STRICT.minConfidence) ? "low_confidence" : "";
        assert.equal(cell.reason, expected, cell.id);
        assert.equal(cell.type === "Unassigned", expected !== "", cell.id);
        assert.equal(results.unassigned[c], ["", "too_few_genes", "low_confidence"].indexOf(expected), cell.id);
        assert.ok(Math.abs(cell.confidence - native.cells[c].confidence) <= 2e-4 + (ties ? 1e-4 : 0), `${cell.id}: ${cell.raw} vs native ${native.cells[c].raw}`);
      });
      assert.ok(ties <= csv.cells.length / 100, `${ties} near-tie label differences`);
      // The page shows the Unassigned cells: a legend row and the QC line, with the CSV's count.
      const unassigned = csv.cells.filter((c) => c.type === "Unassigned");
      if (sample.cells === 564) {
        for (const reason of ["too_few_genes", "low_confidence"]) {
          assert.ok(unassigned.some((c) => c.reason === reason), `no cell is unassigned for ${reason}`);
        }
      }
      assert.equal(Number((await page.textContent("#unassigned")).replace(/,/g, "")), unassigned.length);
      const legendUnassigned = await page.$$eval('#legend tbody tr[data-type="Unassigned"] .cells', (cells) => cells.map((c) => c.textContent.replace(/,/g, "")));
      assert.deepEqual(legendUnassigned, unassigned.length ? [String(unassigned.length)] : []);
      t.diagnostic(`${backend}: ${unassigned.length} of ${csv.cells.length} cells unassigned; ${(await page.textContent("#qc")).trim()}`);

      // The UMAP replaces the PCA map once computed (in the on-demand extras module).
      await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.umap), null, { timeout: 300_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.umap), "done", await page.textContent("#umap-state"));
      assert.equal(await page.getAttribute("#show-umap", "aria-pressed"), "true");
      const umap = await page.evaluate(() => Array.from(window.tesseraAnnotation.umap));
      assert.equal(umap.length, 2 * sample.cells);
      assert.ok(umap.every(Number.isFinite) && new Set(umap).size > sample.cells, "a spread-out, finite UMAP");
      t.diagnostic(`${backend}: ${await page.textContent("#umap-state")}`);

      // The annotated .h5ad: the input's counts, with the page's calls in obs (CI reads it back
      // with anndata too: scripts/check-h5ad.py checks the additions against each other).
      const [h5ad] = await Promise.all([page.waitForEvent("download"), page.click("#download-h5ad")]);
      assert.equal(h5ad.suggestedFilename(), `${sample.name}-annotated.h5ad`);
      const saved = join(out, `page-${backend}-${sample.name}-annotated.h5ad`);
      await h5ad.saveAs(saved);
      const info = (file) => execFileSync(tessera, ["data", "info", file], { encoding: "utf8" }).split("\n");
      const [written, input] = [info(saved), info(sample.path)];
      assert.equal(written[0].split(": ")[1], input[0].split(": ")[1], "cells × genes, entries and counts");
      const counts = new Map();
      for (const cell of csv.cells) counts.set(cell.type, (counts.get(cell.type) ?? 0) + 1);
      const expected = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([type, n]) => `${type} (${n})`).join(", ");
      assert.equal(written.find((l) => l.trim().startsWith("tessera_cell_type:"))?.trim(), `tessera_cell_type: ${expected}`);
      t.diagnostic(`${backend}: ${(await page.textContent("#throughput")).trim()}`);
      const allowed = ["/www/annotate.html", "/www/style.css", "/www/annotate.css", "/www/annotate.js", "/www/engine.js", "/www/pkg/", model.url, sample.url];
      assertOnlySiteRequests(requests, server.url, allowed);
      await page.close();
    });
  }
});

describe("half precision", () => {
  for (const backend of ["cpu", "webgpu"]) {
    test(`?precision=f16 on ${backend}: the engine says its precision, labels as the native CLI's`, async (t) => {
      const opened = await openPage(t, backend, { model: bundle.url, ...CALL_ALL, precision: "f16" });
      if (!opened) return;
      const { page, logs } = opened;
      const note = await page.textContent("#note");
      // The CPU module always has f16 arithmetic; a WebGPU adapter only with shader-f16.
      const f16 = /computing in f16/.test(note);
      if (backend === "cpu") assert.ok(f16, note);
      else assert.ok(f16 || /no shader-f16: computing in f32/.test(note), note);
      assert.equal(await page.textContent("#backend"), backendText(backend) + (f16 ? ", f16" : ""));
      t.diagnostic(`${backend}: ${note}`);
      const state = await annotateFiles(page, files.csv);
      assert.equal(state, "done", `${(await failure(page)).error}\n${logs.join("\n")}`);
      const results = await pageResults(page);
      const k = CLASS_NAMES.length;
      table.rows.forEach((row, c) => {
        const probabilities = results.probabilities.slice(c * k, (c + 1) * k);
        assertClose(probabilities, nativeProbabilities.get(row.reference.id), f16 ? 1e-2 : TOLERANCE, `${row.id} probabilities vs f32`);
      });
      const native = parseAnnotations(nativeAnnotate(bundle.dir, files.csv, `native-fixture-cells-${f16 ? "f16" : "f32"}`, { precision: f16 ? "f16" : "f32" }));
      const shown = parseAnnotations((await downloadCsv(page)).text);
      assert.deepEqual(shown.cells.map((c) => [c.id, c.type]), native.cells.map((c) => [c.id, c.type]));
      shown.cells.forEach((cell, c) => assert.ok(Math.abs(cell.confidence - native.cells[c].confidence) <= 2e-3, `${cell.id}: ${cell.raw} vs native ${native.cells[c].raw}`));
      assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
      await page.close();
    });
  }
});

describe("speed panel", () => {
  for (const backend of ["cpu", "webgpu"]) {
    test(`"Measure speed" on ${backend}: figures for what fits, a reason for what does not`, { timeout: 300_000 }, async (t) => {
      // 16 tokens runs in milliseconds; 16,384 tokens needs gigabytes of attention scores.
      const opened = await openPage(t, backend, { model: bundle.url, ...CALL_ALL, benchBatches: "1,2", benchLengths: "16,16384" });
      if (!opened) return;
      const { page, logs } = opened;
      await page.click("#bench");
      await page.waitForFunction(() => ["done", "error", "stopped"].includes(document.body.dataset.bench), null, { timeout: 240_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.bench), "done", `${await page.textContent("#bench-note")}\n${logs.join("\n")}`);
      const run = await page.evaluate(() => window.tesseraBenchmark);
      assert.equal(run.backend, backend);
      assert.deepEqual(run.rows.map((r) => [r.batch, r.length]), [[1, 16], [2, 16], [1, 16384], [2, 16384]]);
      for (const row of run.rows.slice(0, 2)) {
        assert.equal(row.skipped, undefined, JSON.stringify(row));
        assert.ok(row.cellsPerSecond > 0 && row.passes >= 1, JSON.stringify(row));
        assert.ok(Math.abs(row.tokensPerSecond - 16 * row.cellsPerSecond) < 1e-6 * row.tokensPerSecond);
        // The model's weights are on the heap at least on the CPU.
        if (backend === "cpu") assert.ok(row.peakHeapBytes > statSync(bundle.archive).size / 2, JSON.stringify(row));
      }
      for (const row of run.rows.slice(2)) assert.match(row.skipped ?? "", /GiB/, JSON.stringify(row));
      const cells = await page.$$eval("#bench-table tbody tr", (trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
      assert.equal(cells.length, 4);
      assert.deepEqual(cells[0].slice(0, 2), ["1", "16"]);
      assert.equal(Number(cells[1][2]), Number(run.rows[1].cellsPerSecond.toFixed(2)));
      assert.match(cells[3][2], /^skipped: /);
      t.diagnostic(`${backend}: ${cells.map((c) => c.join(" | ")).join("; ")}`);
      assert.ok(!logs.some((l) => l.startsWith("pageerror") || /panicked|RuntimeError|unreachable/.test(l)), logs.join("\n"));
      await page.close();
    });
  }
});

describe("too few of the model's genes", () => {
  test("a data set with fewer model genes than the minimum is refused, naming both counts", async (t) => {
    const { page, logs } = await openPage(t, "cpu", { model: bundle.url });
    assert.equal(await annotateFiles(page, files.csv), "error", logs.join("\n"));
    const { error } = await failure(page);
    assert.match(error, /fixture-cells\.csv: `var_names`: only 110 of the model's \d+ genes are in the data, fewer than the \d+ it needs/);
    assert.equal(await page.isVisible("#results"), false);
    await page.close();
  });
});

describe("files from other tools", () => {
  test("a CELLxGENE-style .h5ad (Ensembl ids as the index, symbols in var['feature_name']) is matched by its symbols, as natively", async (t) => {
    if (!existsSync(SHIPPED_MODEL)) return t.skip("www/models/rna-pbmc3k.tar is not there yet");
    const data = join(shared, "data/pbmc3k/pbmc3k_counts_labeled.h5ad");
    const cxg = join(out, "cxg-dendritic.h5ad");
    execFileSync(tessera, ["data", "subset", "--data", data, "--where", "cell_type=Dendritic", "--var-index", "gene_id", "--out", cxg], { stdio: "pipe" });
    const { page, logs } = await openPage(t, "cpu", {});
    assert.equal(await annotateFiles(page, cxg), "done", `${(await failure(page)).error}\n${logs.join("\n")}`);
    assert.match(await page.textContent("#dataset"), /cxg-dendritic\.h5ad \(h5ad\): 36 cells × 16,579 genes; 2,048 of them are in the model's vocabulary \(matched by var\['feature_name'\]\)/);
    assert.equal(await page.textContent("#gene-source"), "var['feature_name']");
    const shown = parseAnnotations((await downloadCsv(page)).text);
    const native = parseAnnotations(nativeAnnotate(SHIPPED_MODEL, cxg, "native-cxg-dendritic", { rule: {} }));
    assert.deepEqual(shown.cells.map((c) => [c.id, c.type, c.reason]), native.cells.map((c) => [c.id, c.type, c.reason]));
    await page.close();
  });
});

describe("errors", () => {
  test("bad files and models show a readable message, and the page keeps working", async (t) => {
    const { page, logs } = await openPage(t, "cpu", { model: bundle.url, ...CALL_ALL });
    const bad = (name, content) => {
      const path = join(out, name);
      writeFileSync(path, content);
      return path;
    };
    const cases = [
      [bad("broken.h5ad", "this is not HDF5 at all"), /broken\.h5ad: not an \.h5ad file/],
      [bad("notes.pdf", "%PDF-1.4"), /notes\.pdf: unrecognised file type/],
      [bad("other-genes.csv", "cell,FOO,BAR\nc1,1,2\n"), /other-genes\.csv: `var_names`: none of its 2 genes \(e\.g\. FOO, BAR\) is in the model's vocabulary/],
      [bad("normalised.csv", `cell,${table.genes.slice(0, 3).join(",")}\nc1,0.5,1.25,2\n`), /normalised\.csv: `X`: holds 0\.5 .*raw integer counts are required/],
      [bad("ragged.csv", `cell,${table.genes.slice(0, 3).join(",")}\nc1,1,2\n`), /ragged\.csv.*line 2/],
      [[files.tenx.files[0], files.tenx.files[2]], /not a 10x matrix folder: no `barcodes\.tsv\[\.gz\]`/],
      [[files.csv, files.csvGz], /expected one \.h5ad or CSV file/],
    ];
    for (const [paths, message] of cases) {
      const state = await annotateFiles(page, paths);
      const { error } = await failure(page);
      assert.equal(state, "error", `${paths}: expected an error, got ${state}`);
      assert.match(error, message);
      assert.equal(await page.isVisible("#results"), false);
    }
    // Still working: a good file after all those.
    assert.equal(await annotateFiles(page, files.csv), "done", logs.join("\n"));
    assert.equal(await page.isVisible("#error"), false);

    // A model file that is not a bundle: the model panel says so, and data then says why it
    // cannot be annotated.
    await page.setInputFiles("#model-file", bad("not-a-model.tar", "plain text"));
    await page.waitForFunction(() => /No model/.test(document.getElementById("model-info").textContent));
    assert.match(await page.textContent("#model-info"), /No model: not-a-model\.tar: .*bundle archive/);
    assert.equal(await annotateFiles(page, files.csv), "error");
    assert.match((await failure(page)).error, /the model could not be loaded/);
    // And a good model file brings it back.
    await page.setInputFiles("#model-file", bundle.archive);
    await page.waitForFunction(() => /predicts/.test(document.getElementById("model-info").textContent));
    assert.equal(await annotateFiles(page, files.csv), "done");

    assert.ok(!logs.some((l) => l.startsWith("pageerror") || /panicked|RuntimeError|unreachable/.test(l)), logs.join("\n"));
    await page.close();
  });

  test("Cancel stops an annotation between batches, and the next one runs", async (t) => {
    const many = writeCsv(fixtureTable(100), "fixture-cells-600");
    const { page, logs } = await openPage(t, "cpu", { model: bundle.url, ...CALL_ALL, batch: "1" });
    await page.setInputFiles("#files", many);
    await page.waitForFunction(() => document.getElementById("cells-progress").value >= 5, null, { timeout: 60_000 });
    await page.click("#cancel");
    assert.equal(await settled(page), "ready");
    assert.equal((await page.textContent("#error")).trim(), "Annotation cancelled.");
    assert.equal(await page.isVisible("#results"), false);
    assert.equal(await annotateFiles(page, files.csv), "done", logs.join("\n"));
    assert.match(await page.textContent("#throughput"), /36 cells in .* \(batches of 1\)/);
    await page.close();
  });

  test("a missing model shows a message instead of a broken page", async (t) => {
    const { page } = await openPage(t, "cpu", { model: "/tests/out/no-such-model.tar" });
    assert.match(await page.textContent("#model-info"), /No model: .*no-such-model\.tar: HTTP 404/);
    assert.equal(await annotateFiles(page, files.csv), "error");
    assert.match((await failure(page)).error, /the model could not be loaded/);
    await page.close();
  });

  test("a model or sample from another site is refused", async (t) => {
    const { page } = await openPage(t, "cpu", { model: "https://example.com/model.tar" });
    assert.match(await page.textContent("#error"), /only this site's files can be loaded/);
    await page.close();
  });
});
