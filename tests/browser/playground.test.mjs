// The MAMMAL playground (www/playground.html) as a user drives it, on the CPU (wasm) and WebGPU
// backends, with the shipped model (www/models/mammal-molecules.tar):
// - the model's own tasks: the class probabilities and the solubility value equal
//   `tessera mammal run --task …` on the same bundle and molecule, and the tokens shown (text and
//   sub-tokenizer) equal `tessera mammal tokenize`'s;
// - MAMMAL's other formats: a prompt whose gene tokens the small model does not know is refused
//   with the id named, and a malformed prompt with its position, and the page works afterwards;
// - a task with a wrong, missing or unknown field is refused naming the field, and every field
//   tessera.d.ts declares for a task is one the module takes;
// - no request leaves the site.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, out, recordedPage, repo, serveRepo, tessera } from "./support.mjs";

const MODEL = join(repo, "www/models/mammal-molecules.tar");
const CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C";
const ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O";
const requireWebGpu = process.env.TESSERA_REQUIRE_WEBGPU === "1";

let server, browser;

before(async () => {
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** `tessera mammal run --task NAME --input SMILES`: class → probability, or the value. */
function nativeRun(task, smiles) {
  const text = execFileSync(tessera, ["mammal", "run", "--model", MODEL, "--task", task, "--input", smiles], { encoding: "utf8" });
  const value = text.match(/^value: (\S+)/m);
  if (value) return { value: Number(value[1]) };
  const probabilities = {};
  for (const [, label, p] of text.matchAll(/^ {2}(\S+)\s+([0-9.]+)$/gm)) probabilities[label] = Number(p);
  return { probabilities, predicted: text.match(/^predicted: (\S+)/m)[1] };
}

/** `tessera mammal tokenize` on one prompt (a case file): tokens and their sub-tokenizers. */
function nativeTokens(prompt) {
  const cases = join(out, "playground-case.json");
  const result = join(out, "playground-tokens.json");
  writeFileSync(cases, JSON.stringify({ cases: [{ name: "p", prompt }] }));
  execFileSync(tessera, ["mammal", "tokenize", "--tokenizer", MODEL, "--cases", cases, "--out", result], { stdio: "pipe" });
  return JSON.parse(readFileSync(result, "utf8"))[0];
}

async function openPage(t, backend) {
  const { page, logs, requests } = await recordedPage(browser);
  await page.goto(`${server.url}/www/playground.html?backend=${backend}`);
  await page.waitForFunction(() => !["starting", "loading"].includes(document.body.dataset.state), null, { timeout: 120_000 });
  const engine = await page.getAttribute("#engine", "data-state");
  if (engine === "error" || (backend === "webgpu" && engine !== "webgpu")) {
    const note = await page.textContent("#note");
    await page.close();
    if (backend === "webgpu" && !requireWebGpu) {
      t.skip(`no WebGPU adapter in this browser: ${note}`);
      return null;
    }
    assert.fail(`${backend} engine failed to start: ${note}\n${logs.join("\n")}`);
  }
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", `${await page.textContent("#error")}\n${logs.join("\n")}`);
  return { page, logs, requests };
}

/** Picks a template, types `smiles` into its first input, runs; returns the page's state. */
async function runTemplate(page, id, smiles) {
  await page.selectOption("#template", id);
  if (smiles !== undefined) await page.fill("#inputs input", smiles);
  await page.waitForFunction(() => document.querySelectorAll("#tokens .token").length > 0 || !document.getElementById("error").hidden);
  await page.click("#run");
  await page.waitForFunction(() => ["answered", "error"].includes(document.body.dataset.state));
  return page.evaluate(() => document.body.dataset.state);
}

async function shownTokens(page) {
  return page.$$eval("#tokens .token", (spans) => spans.map((s) => ({ token: s.textContent, source: s.dataset.source })));
}

describe("MAMMAL playground", () => {
  for (const backend of ["cpu", "webgpu"]) {
    test(`the shipped model's tasks answer as the native CLI does (${backend})`, async (t) => {
      const opened = await openPage(t, backend);
      if (!opened) return;
      const { page, requests, logs } = opened;
      const templates = await page.$$eval("#template option", (os) => os.map((o) => o.value));
      assert.deepEqual(templates.slice(0, 2), ["task:b3db-bbb", "task:esol"]);

      // Blood–brain barrier: each class's probability, the predicted label, the tokens.
      for (const smiles of [CAFFEINE, ASPIRIN]) {
        assert.equal(await runTemplate(page, "task:b3db-bbb", smiles), "answered", await page.textContent("#error"));
        const native = nativeRun("b3db-bbb", smiles);
        const shown = await page.$$eval(".bars .p", (ps) => Object.fromEntries(ps.map((p) => [p.dataset.class, Number(p.textContent)])));
        assert.deepEqual(Object.keys(shown).sort(), Object.keys(native.probabilities).sort());
        for (const [label, p] of Object.entries(native.probabilities)) {
          assert.ok(Math.abs(shown[label] - p) <= 2e-4, `${smiles} ${label}: page ${shown[label]} vs native ${p}`);
        }
        assert.equal(await page.textContent("#predicted"), native.predicted);
        const prompt = await page.inputValue("#prompt");
        assert.ok(prompt.includes(`<SEQUENCE_NATURAL_START>${smiles}<SEQUENCE_NATURAL_END>`), prompt);
        const expected = nativeTokens(prompt);
        assert.deepEqual(await shownTokens(page), expected.tokens.map((token, i) => ({ token, source: expected.sources[i] })));
      }

      // Solubility: the de-normalised value.
      assert.equal(await runTemplate(page, "task:esol", CAFFEINE), "answered", await page.textContent("#error"));
      const value = Number(await page.textContent("#value"));
      const native = nativeRun("esol", CAFFEINE).value;
      assert.ok(Math.abs(value - native) <= 2e-3, `page ${value} vs native ${native}`);
      assert.match(await page.textContent("#answer-meta"), new RegExp(`ms on ${backend === "webgpu" ? "WebGPU" : "CPU"}`));

      const allowed = ["/www/playground.html", "/www/style.css", "/www/playground.css", "/www/playground.js",
        "/www/engine.js", "/www/pkg/", "/www/models/mammal-molecules.tar"];
      for (const url of requests) {
        if (url.startsWith("data:") || url.startsWith("blob:")) continue;
        const parsed = new URL(url);
        assert.equal(parsed.origin, server.url, `request left the site: ${url}`);
        assert.ok(allowed.some((a) => (a.endsWith("/") ? parsed.pathname.startsWith(a) : parsed.pathname === a)), `unexpected request: ${parsed.pathname}`);
      }
      assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
      await page.close();
    });
  }

  test("prompts the model cannot take are refused by name, and the page goes on", async (t) => {
    const opened = await openPage(t, "cpu");
    if (!opened) return;
    const { page } = opened;
    // Gene tokens (ids from 5000) are outside the small model's vocabulary.
    assert.equal(await runTemplate(page, "cell-type"), "error");
    assert.match(await page.textContent("#error"), /outside the vocabulary|vocabulary of 4352/);
    assert.match(await page.textContent("#token-summary"), /outside this model's 4,352-token vocabulary/);
    const genes = await shownTokens(page);
    assert.ok(genes.some((g) => g.source === "GENE" && g.token === "[MALAT1]"), JSON.stringify(genes.slice(0, 5)));

    // No leading meta token: the tokenizer names the fragment.
    await page.selectOption("#template", "custom");
    await page.fill("#prompt", "CCO<EOS>");
    await page.waitForFunction(() => !document.getElementById("error").hidden);
    assert.match(await page.textContent("#error"), /meta token|TOKENIZER-TYPE/);

    // And the page still answers.
    assert.equal(await runTemplate(page, "task:b3db-bbb", CAFFEINE), "answered", await page.textContent("#error"));
    await page.close();
  });

  test("a task with a wrong, missing or unknown field is refused naming the field", async (t) => {
    const opened = await openPage(t, "cpu");
    if (!opened) return;
    const { page } = opened;
    const errors = await page.evaluate(async (declared) => {
      const { Tessera } = await import("./pkg/tessera.js");
      const tessera = await Tessera.create({ backend: "cpu", family: "mammal" });
      const model = await tessera.loadMammalModel("models/mammal-molecules.tar");
      const prompt = await model.taskPrompt("esol", { smiles: "CCO" });
      const failure = (task) => model.run(prompt, task).then((r) => r.answer.kind, (e) => e.message);
      const out = {
        mean: await failure({ kind: "regress", mean: "1.5", std: 1 }),
        unknown: await failure({ kind: "regress", meen: 1 }),
        nan: await failure({ kind: "regress", mean: NaN }),
        array: await failure({ kind: "classify", classes: new Float32Array(2) }),
        cyclic: await (async () => {
          const task = { kind: "regress" };
          task.std = task; // structured-cloned to the worker with its cycle
          return failure(task);
        })(),
        kind: await failure({ kind: "regres" }),
        noKind: await failure({ mean: 1 }),
        classes: await failure({ kind: "classify" }),
        classToken: await failure({ kind: "classify", classes: ["<0>", 1] }),
        tokens: await failure({ kind: "generate", maxNewTokens: 2.5 }),
        range: await failure({ kind: "generate", maxNewTokens: 100000 }),
        input: await model.taskPrompt("esol", { smiles: 5 }).then(() => "filled", (e) => e.message),
        regress: await failure({ kind: "regress", mean: -3, std: 2 }),
        readout: await failure(model.info.tasks[1].readout),
        declared: await Promise.all(declared.map(failure)),
      };
      tessera.terminate();
      return out;
    }, declaredTasks());
    assert.deepEqual(errors.declared, ["text", "classes", "value"], "every task field tessera.d.ts declares is taken");
    assert.equal(errors.mean, 'task.mean: invalid type: string "1.5", expected f64');
    assert.equal(errors.unknown, "task.meen: unknown field `meen`, expected `mean` or `std`");
    assert.equal(errors.nan, "task.mean: NaN is not a finite number");
    assert.equal(errors.array, "task.classes: not a plain value (a number, string, boolean, array or object)");
    assert.match(errors.cyclic, /^task(\.std)+\.kind: nested more than 32 deep/);
    assert.equal(errors.kind, "task.kind: unknown variant `regres`, expected one of `generate`, `classify`, `regress`");
    assert.equal(errors.noKind, "task: missing field `kind`");
    assert.equal(errors.classes, "task: missing field `classes`");
    assert.match(errors.classToken, /^task\.classes\[1\]: a class token/);
    assert.equal(errors.tokens, "task.maxNewTokens: invalid type: floating point `2.5`, expected u32");
    assert.equal(errors.range, "task.maxNewTokens: 100000 is not a whole number from 1 to 512");
    assert.equal(errors.input, "inputs.smiles: invalid type: integer `5`, expected a string");
    assert.equal(errors.regress, "value");
    assert.equal(errors.readout, "value");
    await page.close();
  });
});

/**
 * One task per kind of tessera.d.ts's `MammalTaskSpec`, with every field it declares set (numbers
 * to 1, string lists to one class token), so a field the types promise but the module refuses
 * fails the test.
 */
function declaredTasks() {
  const types = readFileSync(join(repo, "web/src/tessera.d.ts"), "utf8");
  const spec = types.match(/export type MammalTaskSpec =([\s\S]*?);\n/)[1];
  const tasks = [...spec.matchAll(/\{ kind: "(\w+)";([^}]*)\}/g)].map(([, kind, fields]) => {
    const task = { kind };
    for (const [, name, type] of fields.matchAll(/(\w+)\??: ([^;]+)/g)) {
      task[name] = type.trim() === "number" ? 1 : ["<1>"];
    }
    return task;
  });
  assert.deepEqual(tasks.map((t) => t.kind), ["generate", "classify", "regress"], spec);
  return tasks;
}
