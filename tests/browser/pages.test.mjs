// The demo site as a user meets it: `tessera serve`, the index page, the engine's backend.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { launchChromium, startTesseraServe } from "./support.mjs";

let site, browser;

before(async () => {
  site = await startTesseraServe();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.close();
});

// Chromium has WebAssembly relaxed SIMD, so the CPU module is its relaxed build.
for (const [choice, shown] of [["cpu", "CPU (WebAssembly), relaxed SIMD"], ["auto", null]]) {
  test(`index page starts the engine (backend=${choice}) and shows which backend runs`, async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/?backend=${choice}`);
    await page.waitForFunction(() => document.getElementById("engine").dataset.state !== "starting", null, { timeout: 60_000 });
    const state = await page.getAttribute("#engine", "data-state");
    const label = await page.textContent("#backend");
    assert.notEqual(state, "error", await page.textContent("#note"));
    if (shown) assert.equal(label, shown);
    else assert.ok(["WebGPU", "CPU (WebAssembly), relaxed SIMD"].includes(label), label);
    const demos = await page.$$eval(".demo h2", (hs) => hs.map((h) => h.textContent));
    assert.deepEqual(demos, ["Cell annotation", "Network attack game", "MAMMAL playground"]);
    // The annotation card opens its page, on the backend chosen here.
    const link = await page.getAttribute("#demo-annotate a.open", "href");
    assert.equal(link, choice === "auto" ? "annotate.html" : `annotate.html?backend=${choice}`);
    await page.close();
  });
}

/** GET with the path sent exactly as given (fetch would normalise `..` away). */
function rawGet(url, path) {
  return new Promise((ok, fail) => {
    http.get({ host: "127.0.0.1", port: new URL(url).port, path }, (response) => {
      response.resume();
      ok(response.statusCode);
    }).on("error", fail);
  });
}

test("the annotation page loads through tessera serve and names its backend", async () => {
  const page = await browser.newPage();
  await page.goto(`${site.url}/annotate.html?backend=cpu`);
  await page.waitForFunction(() => document.getElementById("engine").dataset.state !== "starting", null, { timeout: 60_000 });
  assert.equal(await page.textContent("#backend"), "CPU (WebAssembly), relaxed SIMD");
  for (const id of ["#files", "#folder", "#sample", "#drop"]) assert.equal(await page.$(id) !== null, true, id);
  await page.close();
});

test("tessera serve refuses paths outside the site", async () => {
  assert.equal(await rawGet(site.url, "/../Cargo.toml"), 404);
  assert.equal(await rawGet(site.url, "/index.html"), 200);
  const wasm = await fetch(`${site.url}/pkg/tessera_cpu_bg.wasm`);
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
});
