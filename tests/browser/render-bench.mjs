// A benchmark, not a test (it prints figures and asserts nothing): the game board's frame time
// in headless Chromium, through the WebGPU renderer (wgpu in the game module, in the worker) and
// through the 2-D canvas drawing the same shapes, for a 10,000-node random geometric graph and a
// 256×256 lattice. Run from tests/: `node browser/render-bench.mjs` (after scripts/build-wasm.sh
// game). The WebGPU figures are five successive frames, each until the device has processed it.
import { launchChromium, serveRepo, recordedPage } from "./support.mjs";
const server = await serveRepo();
const browser = await launchChromium();
const { page } = await recordedPage(browser);
await page.goto(`${server.url}/www/game.html?delay=0&renderer=canvas&n=8`);
await page.waitForFunction(() => document.body.dataset.state !== "starting", null, { timeout: 120_000 });
const out = await page.evaluate(async () => {
  // A random geometric graph of 10,000 nodes (mean degree ~4) as a graph file.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const n = 10000;
  const nodes = Array.from({ length: n }, (_, i) => ({ id: String(i), x: rand(), y: rand() }));
  const r = Math.sqrt(4 / (Math.PI * n));
  const cell = new Map();
  const key = (x, y) => `${Math.floor(x / r)},${Math.floor(y / r)}`;
  nodes.forEach((p, i) => { const k = key(p.x, p.y); if (!cell.has(k)) cell.set(k, []); cell.get(k).push(i); });
  const edges = [];
  nodes.forEach((p, i) => {
    const cx = Math.floor(p.x / r), cy = Math.floor(p.y / r);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) for (const j of cell.get(`${cx + dx},${cy + dy}`) ?? []) {
      if (j > i && Math.hypot(p.x - nodes[j].x, p.y - nodes[j].y) < r) edges.push([String(i), String(j)]);
    }
  });
  const text = JSON.stringify({ name: "rgg", attribution: "random", nodes, edges });
  const game = await window.tessera.gameFromGraph(text, "network");
  const canvas = Object.assign(document.createElement("canvas"), { width: 480, height: 480 });
  const renderer = await window.tessera.boardRenderer(canvas);
  const points = nodes.map((p) => [24 + p.x * 432, 24 + p.y * 432]);
  await renderer.scene({ kind: "graph", points, radius: 2 });
  const times = [];
  for (let k = 0; k < 5; k++) times.push((await renderer.draw(game)).milliseconds);
  const lattice = await window.tessera.newGame({ n: 256, p: 0.8, definition: "network", seed: 1 });
  await renderer.scene({ kind: "lattice", n: 256 });
  const ltimes = [];
  for (let k = 0; k < 5; k++) ltimes.push((await renderer.draw(lattice)).milliseconds);
  // The 2-D canvas drawing the same: discs and lines, then squares.
  const c2 = Object.assign(document.createElement("canvas"), { width: 480, height: 480 }).getContext("2d");
  const t0 = performance.now();
  for (const [a, b] of edges) { c2.beginPath(); c2.moveTo(...points[a]); c2.lineTo(...points[b]); c2.stroke(); }
  for (const [x, y] of points) { c2.beginPath(); c2.arc(x, y, 2, 0, 7); c2.fill(); }
  c2.getImageData(0, 0, 1, 1);
  const t1 = performance.now();
  const size = 480 / 256;
  for (let i = 0; i < 65536; i++) { c2.fillStyle = i % 3 ? "#2aa35a" : "#dfe3ea"; c2.fillRect((i % 256) * size, Math.floor(i / 256) * size, size, size); }
  c2.getImageData(0, 0, 1, 1);
  const t2 = performance.now();
  return { edges: edges.length, graphGpu: times, latticeGpu: ltimes, graph2d: t1 - t0, lattice2d: t2 - t1 };
});
const ms = (values) => values.map((v) => v.toFixed(1)).join(", ");
console.log(`10,000 nodes, ${out.edges} links: WebGPU ${ms(out.graphGpu)} ms a frame; 2-D canvas ${out.graph2d.toFixed(1)} ms`);
console.log(`256×256 lattice: WebGPU ${ms(out.latticeGpu)} ms a frame; 2-D canvas ${out.lattice2d.toFixed(1)} ms`);
await browser.close(); server.close();
