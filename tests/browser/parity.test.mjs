// Cross-target parity: the same encoder bundle natively (CPU) and in headless Chromium on the
// CPU (wasm) and WebGPU backends; outputs equal within 1e-4 and equal to the reference.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { encoderBundle, launchChromium, nativeForward, referenceCases, serveRepo, worstExcess } from "./support.mjs";

const cases = referenceCases();
let bundle, server, browser;
const native = new Map();

before(async () => {
  bundle = encoderBundle();
  for (const c of cases) native.set(c.name, nativeForward(bundle.dir, c).values);
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("native CPU matches the reference fixture", () => {
  for (const c of cases) {
    const excess = worstExcess(native.get(c.name), c.expected.values, 1e-4);
    assert.ok(excess <= 1e-4, `${c.name}: off by ${excess}`);
  }
});

async function harness(backend) {
  const page = await browser.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(String(e)));
  await page.goto(`${server.url}/tests/browser/parity.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  const info = await page.evaluate((b) => window.harness.start(b), backend).catch((e) => ({ error: String(e) }));
  return { page, info, logs };
}

for (const backend of ["cpu", "webgpu"]) {
  test(`browser ${backend} matches native CPU within 1e-4`, async (t) => {
    const { page, info, logs } = await harness(backend);
    if (info.error) {
      if (backend === "webgpu" && process.env.TESSERA_REQUIRE_WEBGPU !== "1") {
        t.skip(`no WebGPU adapter in this browser: ${info.error}`);
        return;
      }
      assert.fail(`${backend} engine failed to start: ${info.error}\n${logs.join("\n")}`);
    }
    assert.equal(info.backend, backend, info.note);
    for (const c of cases) {
      const result = await page.evaluate(
        ([url, v, s, m]) => window.harness.forward(url, v, s, m),
        [bundle.url, Array.from(c.input.values), c.input.shape, c.mask],
      );
      assert.deepEqual(result.shape, c.input.shape);
      const vsNative = worstExcess(result.values, native.get(c.name), 0);
      assert.ok(vsNative <= 1e-4, `${c.name}: browser ${backend} differs from native by ${vsNative}`);
      const vsReference = worstExcess(result.values, c.expected.values, 1e-4);
      assert.ok(vsReference <= 1e-4, `${c.name}: browser ${backend} differs from the reference by ${vsReference}`);
    }
    await page.close();
  });
}

test("browser errors surface as JS exceptions, not traps", async () => {
  const { page, info } = await harness("cpu");
  assert.equal(info.backend, "cpu");
  const c = cases[0];
  const [b, l] = c.input.shape;
  // Wrong width: 32 instead of the model's 64.
  const wrongWidth = await page.evaluate(
    ([url, n, s]) => window.harness.errorOf(url, new Array(n).fill(0), s),
    [bundle.url, b * l * 32, [b, l, 32]],
  );
  assert.match(wrongWidth ?? "", /TesseraError: .*d_model is 64/);
  // A bundle that is not an archive at all.
  const notABundle = await page.evaluate(
    ([url, n, s]) => window.harness.errorOf(url, new Array(n).fill(0), s),
    ["/tests/fixtures/scbert-tiny-encoder.json", b * l * 64, [b, l, 64]],
  );
  assert.match(notABundle ?? "", /TesseraError: .*scbert-tiny-encoder\.json: bundle archive/);
  // The engine still works after both errors.
  const ok = await page.evaluate(
    ([url, v, s, m]) => window.harness.forward(url, v, s, m),
    [bundle.url, Array.from(c.input.values), c.input.shape, c.mask],
  );
  assert.equal(ok.values.length, c.input.values.length);
  await page.close();
});
