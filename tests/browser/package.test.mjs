// The npm package @tessera/web as an app gets it: scripts/pack-npm.sh packs it; a tiny app
// (fixtures/package-app/, copied to tests/out/package-app/) installs the tarball with npm,
// imports `pipeline` from "@tessera/web", is type-checked against the package's tessera.d.ts
// (tsc --strict: the types promise what the app reads from the answers), is bundled with esbuild — which does not follow
// `new URL("./worker.js", import.meta.url)`, so the package's dist/ is copied beside the bundle,
// as web/README.md tells esbuild users — and runs in headless Chromium on the CPU:
// - "cell-annotation" on the shipped sample through the shipped model, on two workers: every
//   cell, with the labels, best types, Unassigned reasons and confidences `tessera rna annotate`
//   writes for the same rule (float near-ties aside, as in annotate.test.mjs), embeddings whole;
// - "mammal" with the bundle's own task: the label and probability `tessera mammal run --task`
//   prints; an unknown task is refused listing the bundle's;
// - "attack-game" with an agent: the agent's and degree's moves on each board equal
//   `tessera game eval`'s on the file `tessera game boards` draws;
// - every engine file comes from the app's folder (none from www/pkg/); with `base` naming the
//   installed package's dist/ instead, the same bundle takes them from there;
// - the tarball holds dist/worker.js and every wasm module, and its version is the crate's;
// - pipeline("nope"), a missing model and a bad device reject in Node, naming the three tasks or
//   the field, before any worker is started (Node has none).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { launchChromium, out, recordedPage, repo, serveRepo, tessera } from "./support.mjs";
import { nativeAnnotate, nearTie, parseAnnotations } from "./rna-fixture.mjs";

const MODEL = "www/models/rna-pbmc3k.tar";
const SAMPLE = "www/samples/pbmc3k-test.h5ad";
const MAMMAL = "www/models/mammal-molecules.tar";
const AGENT = "www/models/game-agent-network.tar";
/** A rule under which both reasons for `Unassigned` occur on the sample (see annotate.test.mjs). */
const RULE = { minCellGenes: "300", minConfidence: "0.9" };
const CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C";
const BOARDS = { n: 10, p: 0.8, definition: "network", seed: 3, count: 4 };
const app = join(out, "package-app");

let tarball, installed, server, browser;

/** `[workspace.package] version` in Cargo.toml: the package's version. */
function crateVersion() {
  const section = readFileSync(join(repo, "Cargo.toml"), "utf8").split(/^\[workspace\.package\]$/m)[1];
  return section.match(/^version = "([^"]+)"/m)[1];
}

before(async () => {
  const packed = execFileSync(join(repo, "scripts/pack-npm.sh"), { cwd: repo, encoding: "utf8" });
  tarball = join(repo, packed.trim().split("\n").pop().split(": ")[0]);
  // The app as a user writes it: a package.json naming the tarball, its code, its page.
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({
    name: "tessera-package-app",
    private: true,
    type: "module",
    dependencies: { "@tessera/web": `file:${tarball}` },
  }, null, 2));
  copyFileSync(join(repo, "tests/fixtures/package-app/app.ts"), join(app, "app.ts"));
  // --offline: everything comes from the tarball; nothing may be needed from a registry.
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline"], { cwd: app, stdio: "pipe" });
  installed = join(app, "node_modules/@tessera/web");
  const site = join(app, "public");
  mkdirSync(site);
  copyFileSync(join(repo, "tests/fixtures/package-app/index.html"), join(site, "index.html"));
  const bundled = await build({
    absWorkingDir: app,
    entryPoints: ["app.ts"],
    bundle: true,
    format: "esm",
    outfile: join(site, "app.js"),
    logLevel: "silent",
  });
  assert.deepEqual(bundled.errors, []);
  // The documented step for esbuild: the package's files beside the bundle, where
  // `new URL("./worker.js", import.meta.url)` in the bundle points.
  cpSync(join(installed, "dist"), site, { recursive: true });
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** tsc from tests/node_modules, on the app with the installed package's types. */
function typeCheck() {
  const tsc = join(repo, "tests/node_modules/typescript/bin/tsc");
  const flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom"];
  return execFileSync(process.execPath, [tsc, ...flags, "app.ts"], { cwd: app, encoding: "utf8" });
}

/** Opens the bundled app with `query`; what it reported, every URL it requested, its logs. */
async function runApp(query) {
  const { page, logs, requests } = await recordedPage(browser);
  page.on("worker", (w) => w.on("console", (m) => logs.push(`worker ${m.type()}: ${m.text()}`)));
  await page.goto(`${server.url}/tests/out/package-app/public/index.html?${new URLSearchParams(query)}`);
  await page.waitForFunction(() => document.body.dataset.state !== "running", null, { timeout: 240_000 });
  const report = await page.evaluate(() => window.report);
  await page.close();
  assert.equal(report.error, null, logs.join("\n"));
  assert.ok(!logs.some((l) => l.startsWith("pageerror") || /panicked|RuntimeError|unreachable|helper worker .* stopped/.test(l)), logs.join("\n"));
  return { report, requests: requests.filter((url) => !url.startsWith("data:") && !url.startsWith("blob:")), logs };
}

/** Asserts every request went to this server, for `folder`'s files or the shipped `files`. */
function assertRequestsFrom(requests, folder, files) {
  for (const url of requests) {
    const { origin, pathname } = new URL(url);
    assert.equal(origin, server.url, url);
    assert.ok(pathname.startsWith(folder) || files.some((f) => pathname === `/${f}`), `unexpected request: ${pathname}`);
  }
}

/** `tessera game eval` of the agent and degree on the boards `tessera game boards` draws for BOARDS. */
function nativeGame() {
  const boards = join(out, "package-game-boards.jsonl");
  execFileSync(tessera, ["game", "boards", "--size", String(BOARDS.n), "--p", String(BOARDS.p), "--count", String(BOARDS.count), "--seed", String(BOARDS.seed), "--out", boards], { stdio: "pipe" });
  const [agent, degree] = JSON.parse(execFileSync(tessera, ["game", "eval", "--boards", boards, "--definition", BOARDS.definition, "--policy", `agent=${join(repo, AGENT)},degree`, "--json"], { encoding: "utf8" }));
  return { agent: agent.per_board_steps, degree: degree.per_board_steps, firstBoard: readFileSync(boards, "utf8").split("\n")[0] };
}

/** Asserts the app's attack-game report equals the CLI's scores for BOARDS. */
function assertGame(game) {
  const native = nativeGame();
  assert.equal(game.trainedOn, BOARDS.definition);
  assert.deepEqual(game.scores.agent.moves, native.agent);
  assert.deepEqual(game.scores.degree.moves, native.degree);
  assert.equal(game.firstBoard, native.firstBoard);
}

describe("the package", () => {
  test("the tarball holds the client and every wasm module, at the crate's version", () => {
    const entries = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n").filter(Boolean);
    const wasm = readdirSync(join(repo, "www/pkg")).filter((f) => f.endsWith("_bg.wasm"));
    assert.ok(wasm.length >= 8, `www/pkg holds ${wasm.length} wasm modules`);
    for (const file of ["tessera.js", "worker.js", "tessera.d.ts", ...wasm, ...wasm.map((f) => f.replace(/_bg\.wasm$/, ".js"))]) {
      assert.ok(entries.includes(`package/dist/${file}`), `the tarball has no dist/${file}`);
    }
    assert.ok(entries.every((e) => e.startsWith("package/dist/") || ["package/package.json", "package/README.md"].includes(e)), entries.join("\n"));
    const packed = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
    assert.equal(packed.version, crateVersion());
    assert.equal(JSON.parse(readFileSync(join(repo, "web/package.json"), "utf8")).version, crateVersion(), "web/package.json's version");
    assert.equal(basename(tarball), `tessera-web-${crateVersion()}.tgz`);
    // The installed package resolves through its exports map.
    const require = createRequire(join(app, "package.json"));
    assert.equal(require.resolve("@tessera/web"), join(installed, "dist/tessera.js"));
    assert.equal(require.resolve("@tessera/web/worker.js"), join(installed, "dist/worker.js"));
    assert.equal(require("@tessera/web/package.json").types, "./dist/tessera.d.ts");
  });

  test("the app type-checks against the package's tessera.d.ts (tsc --strict)", () => {
    // The app below reads the answers it asserts through these types, so a field the types
    // promise but the answers lack fails there, and a field they lack fails here.
    assert.equal(typeCheck(), "");
  });

  test("pipeline() refuses an unknown task, a missing model and a bad device before starting a worker", async () => {
    const { pipeline, TesseraError } = await import(pathToFileURL(join(installed, "dist/tessera.js")).href);
    const refused = (promise, pattern) =>
      assert.rejects(promise, (error) => error instanceof TesseraError && pattern.test(error.message));
    await refused(pipeline("nope", "model.tar"), /^task: unknown task "nope"; expected one of "cell-annotation", "mammal", "attack-game"$/);
    await refused(pipeline("cell-annotation"), /^model: "cell-annotation" needs a BMFM-RNA bundle/);
    await refused(pipeline("mammal", 42), /^model: "mammal" needs a MAMMAL bundle/);
    await refused(pipeline("cell-annotation", "model.tar", { device: "gpu" }), /^device: expected "auto", "webgpu", "cpu", not "gpu"$/);
    await refused(pipeline("cell-annotation", "model.tar", { dtype: "q4" }), /^dtype: /);
  });

  test("an app bundled with esbuild runs the three pipelines as the native CLI does", { timeout: 300_000 }, async (t) => {
    for (const file of [MODEL, SAMPLE, MAMMAL, AGENT]) {
      if (!existsSync(join(repo, file))) return t.skip(`${file} is not there`);
    }
    const began = performance.now();
    const { report, requests } = await runApp({
      model: `/${MODEL}`,
      sample: `/${SAMPLE}`,
      workers: "2",
      ...RULE,
      mammal: `/${MAMMAL}`,
      mammalTask: "b3db-bbb",
      mammalInputs: JSON.stringify({ SMILES: CAFFEINE }),
      agent: `/${AGENT}`,
      boards: JSON.stringify(BOARDS),
    });
    t.diagnostic(`the app ran in ${((performance.now() - began) / 1000).toFixed(1)} s`);

    // Cell annotation: the CLI's calls for the same model, data and rule.
    const annotation = report.annotation;
    const native = parseAnnotations(nativeAnnotate(join(repo, MODEL), join(repo, SAMPLE), "native-package-pbmc3k-test", { rule: RULE }));
    assert.equal(annotation.labelColumn, "cell_type");
    assert.equal(annotation.data.cells, native.cells.length);
    assert.equal(annotation.cells.length, native.cells.length);
    assert.equal(annotation.run.cells, native.cells.length);
    assert.deepEqual(annotation.cells.map((c) => c.id), native.cells.map((c) => c.id));
    const k = annotation.classCount;
    let ties = 0;
    annotation.cells.forEach((cell, c) => {
      const theirs = native.cells[c];
      if (cell.label !== theirs.type || cell.best !== theirs.best) {
        const tie = nearTie(annotation.probabilities.slice(c * k, (c + 1) * k), Number(RULE.minConfidence));
        assert.ok(tie, `${cell.id}: the package says ${cell.label} (${cell.score}), native ${theirs.type} (${theirs.raw})`);
        ties += 1;
        return;
      }
      assert.equal(cell.unassigned ?? "", theirs.reason, cell.id);
      assert.ok(Math.abs(cell.score - theirs.confidence) <= 2e-4, `${cell.id}: ${cell.score} vs native ${theirs.raw}`);
    });
    assert.ok(ties <= native.cells.length / 100, `${ties} near-tie label differences`);
    for (const reason of ["too_few_genes", "low_confidence"]) {
      assert.ok(annotation.cells.some((c) => c.unassigned === reason && c.label === "Unassigned"), `no cell is unassigned for ${reason}`);
    }
    assert.deepEqual(annotation.embedding, { type: "Float32Array", length: native.cells.length * annotation.embedding.dim, dim: annotation.embedding.dim, finite: true });
    // Two workers shared the batches: the helper worker started from the packaged worker.js.
    assert.equal(annotation.run.backend, "cpu");
    assert.equal(annotation.run.workers, 2);
    assert.ok(annotation.run.workerCells.every((n) => n > 0), JSON.stringify(annotation.run.workerCells));
    const stages = report.stages["cell-annotation"];
    for (const stage of ["init tessera_cpu_relaxed", "download", "load", "read", "parse", "annotate"]) {
      assert.ok(stages.includes(stage), `progress_callback had no "${stage}": ${stages.join(", ")}`);
    }
    t.diagnostic(`${native.cells.length} cells, ${annotation.cells.filter((c) => c.label === "Unassigned").length} unassigned, ${ties} near-ties; ` +
      `${annotation.run.cellsPerSecond.toFixed(1)} cells/s on ${annotation.run.workers} workers`);

    // MAMMAL: the bundle's task, as `tessera mammal run --task` answers it.
    const mammal = report.mammal;
    const printed = execFileSync(tessera, ["mammal", "run", "--model", join(repo, MAMMAL), "--task", "b3db-bbb", "--input", CAFFEINE], { encoding: "utf8" });
    assert.equal(mammal.label, printed.match(/^predicted: (.+)$/m)[1]);
    const probability = Number(printed.match(new RegExp(`^\\s+${mammal.label.replace(/[+]/g, "\\+")}\\s+([0-9.]+)$`, "m"))[1]);
    assert.ok(Math.abs(mammal.score - probability) <= 1e-4, `${mammal.score} vs native ${probability}`);
    assert.equal(mammal.answer.kind, "classes");
    assert.match(mammal.prompt, new RegExp(`${CAFFEINE.replace(/[()=]/g, "\\$&")}<SEQUENCE_NATURAL_END>`));
    assert.equal(mammal.unknown, `TesseraError: task: "no-such-task" is not one of this bundle's tasks (${mammal.tasks.join(", ")})`);

    // The attack game: the agent's and degree's moves on each board, as the CLI scores them.
    assertGame(report.game);

    // The engine came from the app's folder: nothing from www/pkg/, and nothing from elsewhere.
    const site = "/tests/out/package-app/public/";
    assertRequestsFrom(requests, site, [MODEL, SAMPLE, MAMMAL, AGENT]);
    for (const file of ["app.js", "worker.js", "tessera.js", "tessera_cpu_relaxed.js", "tessera_cpu_relaxed_bg.wasm", "tessera_mammal_cpu_relaxed_bg.wasm", "tessera_game_cpu_bg.wasm"]) {
      assert.ok(requests.some((url) => new URL(url).pathname === site + file), `${file} was not fetched from the app's folder`);
    }
  });

  test("with `base`, the same bundle takes the package's files from there", { timeout: 120_000 }, async (t) => {
    if (!existsSync(join(repo, AGENT))) return t.skip(`${AGENT} is not there`);
    const dist = "/tests/out/package-app/node_modules/@tessera/web/dist/";
    const { report, requests } = await runApp({ tasks: "attack-game", base: dist, agent: `/${AGENT}`, boards: JSON.stringify(BOARDS) });
    assertGame(report.game);
    const site = "/tests/out/package-app/public/";
    const fromSite = requests.map((url) => new URL(url).pathname).filter((path) => path.startsWith(site));
    assert.deepEqual(fromSite.sort(), [`${site}app.js`, `${site}index.html`]);
    assertRequestsFrom(requests.filter((url) => !new URL(url).pathname.startsWith(site)), dist, [AGENT]);
    for (const file of ["worker.js", "tessera_game_cpu.js", "tessera_game_cpu_bg.wasm"]) {
      assert.ok(requests.some((url) => new URL(url).pathname === dist + file), `${file} was not fetched from ${dist}`);
    }
  });
});
