// Annotation on several CPU workers (the engine's worker and helper workers, each with its own
// module instance):
// - the pbmc3k sample through the shipped model on the annotation page with `?workers=1` and
//   `?workers=2`: the same predictions, probabilities and CSV to the bit, embeddings within 1e-6,
//   the page names how many workers ran, and the helper annotated some of the cells;
// - the module's `batchOutputs` / `storeBatch` pair on its own: stored outputs give what
//   `annotateBatch` gives, and outputs of the wrong kind or length are refused, naming the
//   argument.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, recordedPage, repo, serveRepo } from "./support.mjs";

const MODEL = join(repo, "www/models/rna-pbmc3k.tar");
const SAMPLE = join(repo, "www/samples/pbmc3k-test.h5ad");

let server, browser;

before(async () => {
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** "Try the sample" on the CPU with `workers` workers; what the page computed and shows. */
async function annotateSample(workers) {
  const { page, logs } = await recordedPage(browser);
  page.on("worker", (w) => w.on("console", (m) => logs.push(`worker ${m.type()}: ${m.text()}`)));
  await page.goto(`${server.url}/www/annotate.html?backend=cpu&workers=${workers}`);
  await page.waitForFunction(() => /predicts|No model/.test(document.getElementById("model-info").textContent), null, { timeout: 120_000 });
  await page.click("#sample");
  // The progress line names the workers while they run.
  await page.waitForFunction(() => / workers? · /.test(document.getElementById("cells-text").textContent) || document.body.dataset.state === "done" || document.body.dataset.state === "error", null, { timeout: 120_000 });
  const progressLine = await page.textContent("#cells-text");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 600_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  assert.equal(state, "done", `${await page.textContent("#error")}\n${logs.join("\n")}`);
  const shown = {
    progressLine,
    throughput: (await page.textContent("#throughput")).trim(),
    workers: await page.textContent("#workers"),
  };
  const computed = await page.evaluate(() => {
    const { results: r, run, csv } = window.tesseraAnnotation;
    return {
      run,
      csv,
      cellIds: r.cellIds,
      predicted: Array.from(r.predicted),
      confidence: Array.from(r.confidence),
      unassigned: Array.from(r.unassigned),
      probabilities: Array.from(r.probabilities),
      embedding: Array.from(r.embedding),
      map: Array.from(r.map),
    };
  });
  assert.ok(!logs.some((l) => l.startsWith("pageerror") || /panicked|RuntimeError|unreachable|helper worker .* stopped/.test(l)), logs.join("\n"));
  await page.close();
  return { ...computed, shown };
}

function worstDifference(a, b) {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe("annotation on several CPU workers", () => {
  test("?workers=2 annotates the sample exactly as one worker does, and the page says 2 workers", { timeout: 900_000 }, async (t) => {
    if (!existsSync(MODEL) || !existsSync(SAMPLE)) return t.skip("the shipped model or sample is not there");
    const one = await annotateSample(1);
    const two = await annotateSample(2);

    assert.equal(one.run.workers, 1);
    assert.deepEqual(one.run.workerCells, [564]);
    assert.equal(one.shown.workers, "1 worker");
    assert.equal(two.run.workers, 2);
    assert.equal(two.shown.workers, "2 workers");
    assert.match(two.shown.throughput, /cells\/s on CPU \(WebAssembly\) · 2 workers: 564 cells in/);
    assert.match(two.shown.progressLine, /CPU \(WebAssembly\) · 2 workers · |564 \/ 564/);
    assert.equal(two.run.workerCells.length, 2);
    assert.equal(two.run.workerCells[0] + two.run.workerCells[1], 564);
    assert.ok(two.run.workerCells[1] > 0, `the helper annotated no cell: ${two.run.workerCells}`);

    assert.deepEqual(two.cellIds, one.cellIds);
    assert.deepEqual(two.predicted, one.predicted);
    assert.deepEqual(two.confidence, one.confidence);
    assert.deepEqual(two.unassigned, one.unassigned);
    assert.deepEqual(two.probabilities, one.probabilities);
    assert.equal(two.csv, one.csv);
    const embedding = worstDifference(two.embedding, one.embedding);
    assert.ok(embedding <= 1e-6, `embeddings differ by ${embedding}`);
    assert.ok(worstDifference(two.map, one.map) <= 1e-4, "the PCA map");

    const rate = (r) => r.run.cells / r.run.seconds;
    t.diagnostic(`1 worker: ${one.shown.throughput}`);
    t.diagnostic(`2 workers: ${two.shown.throughput} (cells per worker ${two.run.workerCells.join(" / ")}; ${(rate(two) / rate(one)).toFixed(2)}× one worker)`);
  });

  test("?workers= that is not a whole number from 1 is refused by name on the page", async (t) => {
    if (!existsSync(MODEL) || !existsSync(SAMPLE)) return t.skip("the shipped model or sample is not there");
    const { page } = await recordedPage(browser);
    await page.goto(`${server.url}/www/annotate.html?backend=cpu&workers=0`);
    await page.waitForFunction(() => /predicts|No model/.test(document.getElementById("model-info").textContent), null, { timeout: 120_000 });
    await page.click("#sample");
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.state), "error");
    assert.match(await page.textContent("#error"), /workers: "0" is not "auto" or a whole number from 1/);
    await page.close();
  });

  test("storeBatch takes batchOutputs' outputs as annotateBatch stores them, and refuses bad ones by name", async (t) => {
    if (!existsSync(MODEL) || !existsSync(SAMPLE)) return t.skip("the shipped model or sample is not there");
    const { page, logs } = await recordedPage(browser);
    await page.goto(`${server.url}/www/annotate.css`);
    const outcome = await page.evaluate(async () => {
      const api = await import("/www/pkg/tessera_cpu.js");
      await api.default({ module_or_path: "/www/pkg/tessera_cpu_bg.wasm" });
      const runtime = await api.initRuntime(false, "f32");
      const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
      const model = runtime.loadRnaModel(await bytes("/www/models/rna-pbmc3k.tar"));
      const sample = await bytes("/www/samples/pbmc3k-test.h5ad");
      const open = () => model.openData([{ name: "pbmc3k-test.h5ad", bytes: sample }]);
      const [raw, stored] = [open(), open()];
      const out = await model.batchOutputs(raw, { start: 560, count: 16 });
      const expected = await model.annotateBatch(stored, { start: 560, count: 16 });
      const got = model.storeBatch(raw, out.start, out.probabilities, out.embedding);
      const other = runtime.loadRnaModel(await bytes("/www/models/rna-pbmc3k.tar"));
      const refusal = (f) => {
        try {
          f();
          return null;
        } catch (error) {
          return String(error.message ?? error);
        }
      };
      const p = out.probabilities;
      const e = out.embedding;
      return {
        count: out.count,
        classes: p.length / out.count,
        dim: e.length / out.count,
        same: JSON.stringify([Array.from(got.predicted), Array.from(got.confidence), Array.from(got.unassigned)]) ===
          JSON.stringify([Array.from(expected.predicted), Array.from(expected.confidence), Array.from(expected.unassigned)]),
        done: got.done,
        refusals: {
          shortProbabilities: refusal(() => model.storeBatch(raw, 0, p.subarray(1), e)),
          ragged: refusal(() => model.storeBatch(raw, 0, p, e.subarray(1))),
          empty: refusal(() => model.storeBatch(raw, 0, p, new Float32Array(0))),
          pastTheEnd: refusal(() => model.storeBatch(raw, 562, p, e)),
          array: refusal(() => model.storeBatch(raw, 0, Array.from(p), e)),
          missing: refusal(() => model.storeBatch(raw, 0, p, undefined)),
          otherModel: refusal(() => other.storeBatch(raw, 560, p, e)),
          incomplete: refusal(() => model.results(raw)),
        },
      };
    });
    assert.equal(outcome.count, 4, "cells 560..576 clamped to the 564");
    assert.ok(outcome.same, "stored outputs give annotateBatch's calls");
    assert.equal(outcome.done, 4);
    const { refusals: r } = outcome;
    assert.match(r.shortProbabilities, new RegExp(`^\`probabilities\`: ${4 * outcome.classes - 1} values for 4 cells of ${outcome.classes} classes$`));
    assert.match(r.ragged, new RegExp(`^\`embedding\`: ${4 * outcome.dim - 1} values are not a whole number of cells of ${outcome.dim} dimensions$`));
    assert.match(r.empty, /^`embedding`: 0 values/);
    assert.equal(r.pastTheEnd, "`start`: cells 562..566: the data set has 564 cells");
    assert.equal(r.array, "`probabilities` is not a Float32Array");
    assert.equal(r.missing, "`embedding` is not a Float32Array");
    assert.equal(r.otherModel, "this data set was opened with another model");
    assert.match(r.incomplete, /only \d+ of 564 cells are annotated/);
    assert.ok(!logs.some((l) => l.startsWith("pageerror") || /panicked|RuntimeError|unreachable/.test(l)), logs.join("\n"));
    await page.close();
  });
});
