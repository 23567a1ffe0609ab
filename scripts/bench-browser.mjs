// The browser's CPU speed beside native's, measured in one run on this machine with the shipped
// BMFM-RNA model (www/models/rna-pbmc3k.tar):
// 1. per core: `tessera bench rna` with one thread on one core against the annotation page's
//    "Measure speed" on the CPU module (one worker: WebAssembly here has no threads), on the
//    same synthetic cells, batches and lengths, for both builds of the module: relaxed SIMD
//    (what Chromium gets) and plain SIMD (`?simd=plain`, what engines without it get);
// 2. the sample annotation (www/samples/pbmc3k-test.h5ad): `tessera rna annotate` on one core
//    against the page's "Try the sample" with one worker and with one per core.
// Each row prints both figures and native / browser (per core: lower is better for the browser;
// the goal is at most 1.5×).
//
//   node scripts/bench-browser.mjs      (after scripts/build-wasm.sh and a release build;
//                                        needs tests/'s npm packages and Chromium: see dev.sh)
// BATCHES and LENGTHS (comma-separated) change the per-core rows; ROUNDS (default 3) repeats
// everything and prints each round, since a shared machine's speed drifts between minutes.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium, recordedPage, repo, serveRepo, tessera } from "../tests/browser/support.mjs";

const batches = process.env.BATCHES ?? "1,16";
const lengths = process.env.LENGTHS ?? "256";
const rounds = Number(process.env.ROUNDS ?? 3);
const model = join(repo, "www/models/rna-pbmc3k.tar");
const sample = join(repo, "www/samples/pbmc3k-test.h5ad");
const scratch = mkdtempSync(join(tmpdir(), "tessera-bench-browser-"));
/** One core and one thread for the native side. */
const oneCore = { ...process.env, RAYON_NUM_THREADS: "1" };
const pinned = (args) => ["taskset", ["-c", "0", tessera, ...args]];

function nativeBench() {
  const [command, args] = pinned(["bench", "rna", "--model", model, "--batch", batches, "--length", lengths, "--backend", "cpu", "--json"]);
  const text = execFileSync(command, args, { encoding: "utf8", env: oneCore });
  return text.trim().split("\n").map((line) => JSON.parse(line)).filter((row) => row.per_second !== undefined);
}

function nativeAnnotate() {
  const [command, args] = pinned(["rna", "annotate", "--model", model, "--data", sample, "--batch-size", "16", "--out", join(scratch, "calls.csv")]);
  const run = spawnSync(command, args, { encoding: "utf8", env: oneCore });
  if (run.status !== 0) throw new Error(`tessera rna annotate failed:\n${run.stderr}`);
  // The line the CLI prints after the annotation loop (reading and writing not counted).
  const match = /(\d+) cells in [\d.]+ s \(([\d.]+) cells\/s\)/.exec(run.stderr);
  if (!match) throw new Error(`no speed in tessera rna annotate's output:\n${run.stderr}`);
  return Number(match[2]);
}

async function pageBench(browser, url, simd) {
  const { page, logs } = await recordedPage(browser);
  await page.goto(`${url}/www/annotate.html?backend=cpu&simd=${simd}&benchBatches=${batches}&benchLengths=${lengths}`);
  await page.waitForFunction(() => /predicts|No model/.test(document.getElementById("model-info").textContent), null, { timeout: 120_000 });
  await page.click("#bench");
  await page.waitForFunction(() => ["done", "error", "stopped"].includes(document.body.dataset.bench), null, { timeout: 600_000 });
  const run = await page.evaluate(() => window.tesseraBenchmark);
  if (!run) throw new Error(`the page's benchmark failed: ${await page.textContent("#bench-note")}\n${logs.join("\n")}`);
  await page.close();
  return run.rows;
}

async function pageAnnotate(browser, url, workers, simd = "auto") {
  const { page, logs } = await recordedPage(browser);
  await page.goto(`${url}/www/annotate.html?backend=cpu&simd=${simd}&workers=${workers}`);
  await page.waitForFunction(() => /predicts|No model/.test(document.getElementById("model-info").textContent), null, { timeout: 120_000 });
  await page.click("#sample");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 600_000 });
  const run = await page.evaluate(() => window.tesseraAnnotation?.run);
  if (!run) throw new Error(`the page's annotation failed: ${await page.textContent("#error")}\n${logs.join("\n")}`);
  await page.close();
  return run;
}

const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : "–");
const server = await serveRepo();
const browser = await launchChromium();
try {
  console.log(`${availableParallelism()} cores; native: one thread pinned to core 0; browser: ${browser.version()} (CPU module)`);
  for (let round = 1; round <= rounds; round++) {
    console.log(`== round ${round}/${rounds}`);
    const native = nativeBench();
    for (const simd of ["relaxed", "plain"]) {
      const browserRows = await pageBench(browser, server.url, simd);
      console.log(`per core, ${simd.padEnd(7)} SIMD         native cells/s  browser cells/s  native/browser`);
      for (const row of browserRows) {
        if (row.skipped) continue;
        const match = native.find((n) => n.batch === row.batch && n.length === row.length);
        const label = `batch ${row.batch} × ${row.length}`.padEnd(28);
        console.log(`${label} ${String(match?.per_second.toFixed(2) ?? "–").padStart(14)}  ${row.cellsPerSecond.toFixed(2).padStart(15)}  ${ratio(match?.per_second, row.cellsPerSecond).padStart(14)}`);
      }
    }
    const oneCoreNative = nativeAnnotate();
    const one = await pageAnnotate(browser, server.url, 1);
    const onePlain = await pageAnnotate(browser, server.url, 1, "plain");
    const every = await pageAnnotate(browser, server.url, "auto");
    console.log("sample annotation            cells/s  browser/native one core");
    console.log(`native, one core            ${oneCoreNative?.toFixed(1).padStart(8)}`);
    console.log(`browser, 1 worker           ${one.cellsPerSecond.toFixed(1).padStart(8)}  ${ratio(one.cellsPerSecond, oneCoreNative).padStart(8)}`);
    console.log(`browser, 1 worker, plain    ${onePlain.cellsPerSecond.toFixed(1).padStart(8)}  ${ratio(onePlain.cellsPerSecond, oneCoreNative).padStart(8)}`);
    console.log(`browser, ${String(every.workers).padEnd(2)} workers         ${every.cellsPerSecond.toFixed(1).padStart(8)}  ${ratio(every.cellsPerSecond, oneCoreNative).padStart(8)}`);
  }
} finally {
  await browser.close();
  server.close();
}
