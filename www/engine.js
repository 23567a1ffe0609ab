// Shared by the demo pages: starting the engine (worker + wasm module) and showing which backend
// runs, the site-only rule for fetched files, and HTML escaping.
import { Tessera } from "./pkg/tessera.js";

export const backendLabel = (backend) => (backend === "webgpu" ? "WebGPU" : "CPU (WebAssembly)");

/** The engine line's words for the SIMD a CPU module uses. */
const simdLabel = (simd) => (simd === "relaxed" ? ", relaxed SIMD" : "");

/** Only paths of this site: the pages never fetch anything from elsewhere. */
export function sameSite(path) {
  const url = new URL(path, location.href);
  if (url.origin !== location.origin) throw new Error(`${path}: only this site's files can be loaded`);
  return url;
}

/** What a model's load cost, for a page's model line (`info.load` from the worker). */
export function loadCost(load) {
  if (!load) return "";
  const mib = (bytes) => Math.round(bytes / 2 ** 20).toLocaleString("en-US");
  const heap = load.peakHeapBytes == null ? "" : `, peak memory ${mib(load.peakHeapBytes)} MiB (WebAssembly heap)`;
  const gpu = load.gpuBytes == null ? "" : `, ${mib(load.gpuBytes)} MiB of GPU buffers`;
  return `<span id="load-cost" class="small muted">Loaded in ${load.seconds.toFixed(1)} s${heap}${gpu}.</span>`;
}

/**
 * Adds to the model line how long the first answer after a load took (`what` names it), once
 * per load: with the load figures it is what a user waits for before seeing anything.
 */
export function noteFirstAnswer(seconds, what = "first answer") {
  const cost = document.getElementById("load-cost");
  if (!cost || cost.dataset.first) return;
  cost.dataset.first = String(seconds);
  cost.append(` The ${what} took ${seconds.toFixed(1)} s.`);
}

export function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/**
 * Starts the engine for a model `family` on `backend` (auto | webgpu | cpu), with `simd` (auto |
 * relaxed | plain: the CPU module's build, see `TesseraOptions.simd`), and shows the result
 * in the page's `#engine`, `#backend` and `#note`; resolves to the `Tessera`, or rejects after
 * showing why it could not start.
 */
export async function startEngine({ backend, family, precision, simd, onProgress }) {
  const engine = document.getElementById("engine");
  const label = document.getElementById("backend");
  const note = document.getElementById("note");
  try {
    const tessera = await Tessera.create({ backend, family, precision, simd, base: new URL("./pkg/", location.href), onProgress });
    label.textContent = backendLabel(tessera.backend) + simdLabel(tessera.simd) + (tessera.precision === "f16" ? ", f16" : "");
    engine.dataset.simd = tessera.simd ?? "";
    note.textContent = tessera.note;
    engine.dataset.state = tessera.backend;
    window.tessera = tessera;
    return tessera;
  } catch (error) {
    label.textContent = "unavailable";
    note.textContent = String(error.message ?? error);
    engine.dataset.state = "error";
    throw error;
  }
}
