// Shared by the browser tests: paths, the reference fixture, the native CLI, a static server
// and headless Chromium.
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import { createReadStream, existsSync, mkdirSync, readFileSync, copyFileSync, statSync, writeFileSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";

export const repo = resolve(import.meta.dirname, "../..");
export const shared = process.env.TESSERA_SHARED ?? resolve(repo, "../shared");
export const out = join(repo, "tests/out");
export const tessera = join(repo, "target/release/tessera");

/** Tensors of a safetensors file: name → { shape, values } (f32 only). */
export function readSafetensors(path) {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  const data = 8 + headerLength;
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [start, end] = info.data_offsets;
    const slice = bytes.subarray(data + start, data + end);
    const values = new Float32Array(slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.length));
    tensors[name] = { shape: info.shape, values };
  }
  return tensors;
}

/** The encoder test bundle: our config, the reference SCBert fixture's weights, and its archive. */
export function encoderBundle() {
  const dir = join(out, "scbert-tiny-encoder");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(repo, "tests/fixtures/scbert-tiny-encoder.json"), join(dir, "config.json"));
  copyFileSync(join(shared, "fixtures/rna-scbert-tiny/model.safetensors"), join(dir, "model.safetensors"));
  const archive = join(out, "scbert-tiny-encoder.tar");
  execFileSync(tessera, ["bundle", "pack", dir, archive]);
  return { dir, archive, url: "/tests/out/scbert-tiny-encoder.tar" };
}

/** The fixture's cases: encoder input, mask and the reference's final hidden states. */
export function referenceCases() {
  const fixture = join(shared, "fixtures/rna-scbert-tiny");
  const expected = readSafetensors(join(fixture, "expected.safetensors"));
  const cases = JSON.parse(readFileSync(join(fixture, "cases.json"), "utf8")).cases;
  return cases.map((c, i) => ({
    name: c.name,
    input: expected[`case${i}.embedding_output`],
    mask: c.attention_mask.flat(),
    expected: expected[`case${i}.last_hidden_state`],
  }));
}

/** Runs `tessera encoder forward` on one case and returns the output values. */
export function nativeForward(bundleDir, testCase, backend = "cpu") {
  const input = join(out, `input-${testCase.name}.json`);
  const output = join(out, `native-${backend}-${testCase.name}.json`);
  writeFileSync(input, JSON.stringify({
    shape: testCase.input.shape,
    values: Array.from(testCase.input.values),
    attention_mask: testCase.mask,
  }));
  execFileSync(tessera, ["encoder", "forward", "--bundle", bundleDir, "--input", input, "--output", output, "--backend", backend], { stdio: "pipe" });
  return JSON.parse(readFileSync(output, "utf8"));
}

/** Largest |a − b| − rtol·|b|; ≤ atol means "equal within tolerance". */
export function worstExcess(actual, expected, rtol) {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let worst = -Infinity;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - rtol * Math.abs(expected[i]);
    if (!(excess <= worst)) worst = Number.isNaN(excess) ? Infinity : Math.max(worst, excess);
  }
  return worst;
}

const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css" };

/** A static file server for the repository root on 127.0.0.1 (random port). */
export async function serveRepo() {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    const file = join(repo, path);
    if (!file.startsWith(repo) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    // Streamed with its length, as `tessera serve` sends it (bundles run to hundreds of MB).
    response.writeHead(200, {
      "Content-Type": types[extname(file)] ?? "application/octet-stream",
      "Content-Length": statSync(file).size,
    });
    createReadStream(file).pipe(response);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** `tessera serve` on a free port; resolves once it is listening. */
export async function startTesseraServe() {
  const port = 18000 + Math.floor(Math.random() * 2000);
  const child = spawn(tessera, ["serve", "--dir", join(repo, "www"), "--port", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise((ok, fail) => {
    child.stdout.on("data", (d) => String(d).includes("serving") && ok());
    child.on("exit", (code) => fail(new Error(`tessera serve exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => child.kill() };
}

/** A new page that records its console lines, uncaught errors and every URL it requests. */
export async function recordedPage(browser, options = {}) {
  const page = await browser.newPage(options);
  const logs = [];
  const requests = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e}`));
  page.on("request", (r) => requests.push(r.url()));
  return { page, logs, requests };
}

/** Headless Debian Chromium, with WebGPU allowed (SwiftShader when there is no GPU). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
