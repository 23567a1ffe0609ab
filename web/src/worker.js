// The worker behind tessera.js: loads the CPU or the WebGPU wasm module, keeps loaded models
// and data sets by handle, and answers requests. Every failure is posted back as an error message.

import { Channel } from "./tessera.js";

let api = null;
let runtime = null;
/** The wasm module's exports (its memory's size guides how many helper workers fit). */
let wasmExports = null;
/** Where the page said the wasm modules are (`base`), or null: then `MODULES` finds them. */
let moduleBase = null;
/** The module this worker runs and the precision asked for: what helper workers start with. */
let engine = null;
/** The compiled CPU module (a Promise), handed to helper workers so they skip compiling it. */
let compiledModule = null;
/** The annotation page's extras (UMAP, the annotated .h5ad), loaded when first asked for. */
let extras = null;
const models = new Map();
/** RNA models' and game agents' sources (by handle), for helper workers to load the same bundle. */
const modelSources = new Map();
/** Helper workers by RNA model handle (see `annotate`) or game agent (see `gameScore`). */
const pools = new Map();
const datasets = new Map();
let nextHandle = 1;
/** Ids of requests the page asked to stop (checked between batches). */
const cancelled = new Set();

/** WebGPU is worth trying only when the browser hands out an adapter. */
async function gpuAdapterAvailable() {
  if (!("gpu" in navigator)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/**
 * Whether the engine runs WebAssembly relaxed SIMD: a one-function module using
 * `f32x4.relaxed_madd` validates (Chromium 114+, Firefox 145+).
 */
const relaxedSimd = (() => {
  const v128 = [0xfd, 0x0c, ...new Array(16).fill(0)]; // v128.const 0
  const body = [0x00, ...v128, ...v128, ...v128, 0xfd, 0x85, 0x02, 0x1a, 0x0b]; // madd, drop, end
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ];
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
})();

/**
 * The wasm module of a model family and backend (scripts/build-wasm.sh builds them). `simd`
 * (auto | relaxed | plain) picks between the two builds of the RNA and MAMMAL CPU modules: relaxed
 * SIMD's fused multiply-add where the engine has it ("auto"), or plain SIMD. (The game's agent
 * has no matrix products worth a second build.)
 */
function moduleName(family, gpu, simd = "auto") {
  if (!["rna", "mammal", "game"].includes(family)) throw new Error(`unknown model family ${family}`);
  if (!["auto", "relaxed", "plain"].includes(simd)) throw new Error(`simd: expected auto, relaxed or plain, not ${simd}`);
  const prefix = family === "rna" ? "tessera" : `tessera_${family}`;
  if (gpu) return `${prefix}_webgpu`;
  if (family === "game" || simd === "plain") return `${prefix}_cpu`;
  if (simd === "relaxed" && !relaxedSimd) throw new Error("simd: relaxed was asked for, but this browser has no WebAssembly relaxed SIMD");
  return relaxedSimd ? `${prefix}_cpu_relaxed` : `${prefix}_cpu`;
}

/**
 * Every wasm module (scripts/build-wasm.sh builds them; scripts/pack-npm.sh reads this table to
 * know what the package ships), each as a glue import and a wasm URL written literally: the only
 * form bundlers (webpack 5, Vite, Parcel) follow, copying the files into the build. Used when
 * the page gave no `base`; with one, `moduleFiles` resolves the same names against it.
 */
const MODULES = {
  tessera_cpu: { glue: () => import("./tessera_cpu.js"), wasm: new URL("./tessera_cpu_bg.wasm", import.meta.url) },
  tessera_cpu_relaxed: { glue: () => import("./tessera_cpu_relaxed.js"), wasm: new URL("./tessera_cpu_relaxed_bg.wasm", import.meta.url) },
  tessera_webgpu: { glue: () => import("./tessera_webgpu.js"), wasm: new URL("./tessera_webgpu_bg.wasm", import.meta.url) },
  tessera_mammal_cpu: { glue: () => import("./tessera_mammal_cpu.js"), wasm: new URL("./tessera_mammal_cpu_bg.wasm", import.meta.url) },
  tessera_mammal_cpu_relaxed: { glue: () => import("./tessera_mammal_cpu_relaxed.js"), wasm: new URL("./tessera_mammal_cpu_relaxed_bg.wasm", import.meta.url) },
  tessera_mammal_webgpu: { glue: () => import("./tessera_mammal_webgpu.js"), wasm: new URL("./tessera_mammal_webgpu_bg.wasm", import.meta.url) },
  tessera_game_cpu: { glue: () => import("./tessera_game_cpu.js"), wasm: new URL("./tessera_game_cpu_bg.wasm", import.meta.url) },
  tessera_anndata_cpu: { glue: () => import("./tessera_anndata_cpu.js"), wasm: new URL("./tessera_anndata_cpu_bg.wasm", import.meta.url) },
};

/** Module `name`'s glue (a function importing it) and wasm URL: under `moduleBase` where the
 * page gave one, else from `MODULES`. */
function moduleFiles(name) {
  if (!(name in MODULES)) throw new Error(`no wasm module ${name}`);
  if (!moduleBase) return MODULES[name];
  // Resolved at run time: the comments keep webpack and Vite from trying to bundle it.
  const glue = new URL(`${name}.js`, moduleBase).href;
  return { glue: () => import(/* webpackIgnore: true */ /* @vite-ignore */ glue), wasm: new URL(`${name}_bg.wasm`, moduleBase) };
}

/** Families with a WebGPU module (the game's agent is small enough for the CPU alone). */
const gpuFamilies = new Set(["rna", "mammal"]);

/**
 * A wasm module compiled from `url`: streamed where the server sends `application/wasm`, else
 * from its bytes.
 */
async function compileModule(url) {
  try {
    return await WebAssembly.compileStreaming(fetch(url));
  } catch {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return WebAssembly.compile(await response.arrayBuffer());
  }
}

/**
 * Starts the module. `helper` (`{ name, compiled }`) starts a helper worker of another one's
 * annotation (see `annotate`): that worker's module, already compiled, on the CPU.
 */
async function init({ backend, base, family = "rna", precision = "f32", simd = "auto", helper = null }, progress) {
  if (backend === "webgpu" && !gpuFamilies.has(family)) {
    throw new Error(`the ${family} module runs on the CPU only`);
  }
  const wantGpu =
    !helper && gpuFamilies.has(family) && backend !== "cpu" && (backend === "webgpu" || (await gpuAdapterAvailable()));
  const name = helper?.name ?? moduleName(family, wantGpu, simd);
  moduleBase = base ?? null;
  progress({ stage: `init ${name}`, loaded: 0, total: 1 });
  const files = moduleFiles(name);
  api = await files.glue();
  const url = files.wasm;
  // The CPU module is compiled here rather than by the loader, so that helper workers can be
  // handed the compiled module (and its optimised code) instead of compiling it again each.
  if (helper) compiledModule = Promise.resolve(helper.compiled);
  else if (!wantGpu) compiledModule = compileModule(url);
  wasmExports = await api.default({ module_or_path: compiledModule ? await compiledModule : url });
  engine = { name, precision };
  runtime = await api.initRuntime(wantGpu, precision);
  if (backend === "webgpu" && runtime.backend !== "webgpu") {
    throw new Error(`WebGPU was requested but is not available: ${runtime.note}`);
  }
  progress({ stage: `init ${name}`, loaded: 1, total: 1 });
  return {
    backend: runtime.backend,
    note: runtime.note,
    precision: runtime.precision,
    // (The WebGPU module may itself fall back to its CPU backend: plain SIMD.)
    simd: runtime.backend === "webgpu" ? null : name.endsWith("_relaxed") ? "relaxed" : "simd128",
  };
}

/** The CPU module with the annotation extras (`umap2d`, `annotatedH5ad`), loaded once. */
function anndataModule() {
  extras ??= (async () => {
    const files = moduleFiles("tessera_anndata_cpu");
    const module = await files.glue();
    await module.default({ module_or_path: files.wasm });
    return module;
  })().catch((error) => {
    extras = null;
    throw new Error(`the annotation extras module did not load: ${error.message ?? error}`);
  });
  return extras;
}

/** A data set's UMAP (seed 0), computed once. */
async function datasetUmap(entry) {
  if (!entry.umap) {
    const out = entry.model.results(entry.data);
    entry.umap = (await anndataModule()).umap2d(out.embedding, out.embeddingDim, 0);
  }
  return entry.umap;
}

/** Where downloaded bundles are kept between visits (the Cache API; cleared by `clearCache`). */
const CACHE_NAME = "tessera-models";

/**
 * The response for `url`, from the cache when it was downloaded before. A new download goes
 * straight into the cache (streamed to disk) and is then read back from there, so a large
 * bundle is never held in memory by a tee between the cache and the reader.
 */
async function cachedFetch(url) {
  const cache = "caches" in self ? await caches.open(CACHE_NAME).catch(() => null) : null;
  const hit = await cache?.match(url);
  if (hit) return { response: hit, cached: true };
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  if (cache && !url.startsWith("blob:")) {
    try {
      await cache.put(url, response.clone());
      const stored = await cache.match(url);
      if (stored) {
        response.body?.cancel().catch(() => {});
        return { response: stored, cached: false };
      }
    } catch {
      // Storage full or refused: read the network response itself.
    }
  }
  return { response, cached: false };
}

/** A model source as a byte stream: a URL (through the cache), a picked `File`, or bytes. */
async function openSource({ url, bytes, file, name }) {
  if (file) return { stream: file.stream(), total: file.size, name: name ?? file.name ?? "model.tar" };
  if (bytes) {
    const view = new Uint8Array(bytes);
    return { stream: new Blob([view]).stream(), total: view.byteLength, name: name ?? "model.tar" };
  }
  const { response, cached } = await cachedFetch(url);
  const total = Number(response.headers.get("Content-Length")) || 0;
  return { stream: response.body, total, name: url, cached };
}

/**
 * Reads a source chunk by chunk into `take`, reporting progress; resolves to its name. A
 * failure (of the read or of `take`) cancels the read and names the source.
 */
async function readChunks(source, progress, take) {
  const { stream, total, name, cached } = await openSource(source);
  const stage = cached ? "cache" : source.url ? "download" : "read";
  const reader = stream.getReader();
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return name;
      take(value);
      loaded += value.length;
      progress({ stage, loaded, total });
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw new Error(`${name}: ${error.message ?? error}`);
  }
}

/** A whole source as bytes (for loaders without a streaming form), reporting progress. */
async function archiveBytes(source, progress) {
  const chunks = [];
  const name = await readChunks(source, progress, (chunk) => chunks.push(chunk));
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, name };
}

/**
 * Streams a bundle into a model with the runtime's `starter` (`streamMammalModel`,
 * `streamRnaModel`): each chunk goes into the wasm loader as it arrives, so the archive is
 * never held here or there.
 */
async function streamModel(starter, source, progress) {
  const loader = runtime[starter]();
  try {
    const name = await readChunks(source, progress, (chunk) => loader.push(chunk));
    try {
      return loader.finish();
    } catch (error) {
      throw new Error(`${name}: ${error.message ?? error}`);
    }
  } finally {
    loader.free?.();
  }
}

/** The user's files as `{ name, bytes }`: `File`s are read here, off the main thread. */
async function readFiles(files, progress) {
  const total = files.reduce((sum, f) => sum + (f.size ?? f.bytes?.byteLength ?? 0), 0);
  let loaded = 0;
  const out = [];
  for (const file of files) {
    if (typeof Blob !== "undefined" && file instanceof Blob) {
      const name = file.webkitRelativePath || file.name || "data";
      out.push({ name, bytes: new Uint8Array(await file.arrayBuffer()) });
      loaded += file.size;
    } else {
      const bytes = file.bytes instanceof Uint8Array ? file.bytes : new Uint8Array(file.bytes);
      out.push({ name: String(file.name), bytes });
      loaded += bytes.byteLength;
    }
    progress({ stage: "read", loaded, total });
  }
  return out;
}

/**
 * A model's source as helper workers load it again: a URL (from the cache this download filled),
 * or a `File`/`Blob`, which reaches another worker without a copy (bytes become one, once).
 */
function keptSource({ url, bytes, file, name }) {
  if (file) return { file, name };
  if (bytes) return { file: new Blob([bytes]), name };
  return { url };
}

/** Loaders that have a streaming form: the bundle goes to the device tensor by tensor. */
const streamers = { loadMammalModel: "streamMammalModel", loadRnaModel: "streamRnaModel" };

/** Loads a bundle with the runtime's `loader` (`loadRnaModel`, …) and keeps it by handle. */
async function loadModel(loader, source, progress) {
  if (!runtime) throw new Error("not initialised");
  if (typeof runtime[loader] !== "function") {
    throw new Error(`this engine's module cannot ${loader} (start it with the model's family)`);
  }
  const starter = streamers[loader];
  api.resetHeapPeak?.();
  const started = performance.now();
  let model;
  if (starter && typeof runtime[starter] === "function") {
    model = await streamModel(starter, source, progress);
  } else {
    const { bytes, name } = await archiveBytes(source, progress);
    progress({ stage: "load", loaded: 0, total: 1 });
    try {
      model = runtime[loader](bytes);
    } catch (error) {
      throw new Error(`${name}: ${error.message ?? error}`);
    }
  }
  progress({ stage: "load", loaded: 1, total: 1 });
  const handle = nextHandle++;
  models.set(handle, model);
  if (loader === "loadRnaModel" || loader === "loadGameAgent") modelSources.set(handle, keptSource(source));
  // What the load cost: its time, the wasm heap's peak during it (the archive included where a
  // loader has no streaming form) and, on WebGPU, the bytes its buffers hold.
  const load = {
    seconds: (performance.now() - started) / 1000,
    peakHeapBytes: api.heapPeakBytes?.() ?? null,
    gpuBytes: runtime.gpuBytes?.() ?? null,
  };
  return { handle, info: { ...model.info(), load } };
}

function rnaModel(handle) {
  const model = models.get(handle);
  if (!model || typeof model.openData !== "function") throw new Error(`no RNA model with handle ${handle}`);
  return model;
}

function mammalModel(handle) {
  const model = models.get(handle);
  if (!model || typeof model.tokenize !== "function") throw new Error(`no MAMMAL model with handle ${handle}`);
  return model;
}

function gameSession(handle) {
  const game = models.get(handle);
  if (!game || typeof game.attack !== "function") throw new Error(`no game with handle ${handle}`);
  return game;
}

function gameAgent(handle) {
  const agent = models.get(handle);
  if (!agent || typeof agent.movesLeft !== "function") throw new Error(`no game agent with handle ${handle}`);
  return agent;
}

function boardRenderer(handle) {
  const renderer = models.get(handle);
  if (!renderer || typeof renderer.setScene !== "function") throw new Error(`no board renderer with handle ${handle}`);
  return renderer;
}

/** A renderer's frame: the heat map with null where a site is not Alive (NaN has no JSON). */
function heatFrame(heat) {
  return heat ? { heat: Array.from(heat, (v) => (Number.isNaN(v) ? null : v)) } : null;
}

/** Everything the page draws of a game. */
function gameState(handle) {
  const game = gameSession(handle);
  return {
    handle,
    kind: game.kind,
    n: game.n,
    definition: game.definition,
    sites: game.sites(),
    moves: game.moves(),
    over: game.isOver(),
    curve: game.curve(),
    robustness: game.robustness(),
    boardLine: game.boardLine(),
  };
}

function keepGame(game) {
  const handle = nextHandle++;
  models.set(handle, game);
  return gameState(handle);
}

function dataset(handle) {
  const entry = datasets.get(handle);
  if (!entry) throw new Error(`no data set with handle ${handle} (closed?)`);
  return entry;
}

function summary(data) {
  return {
    name: data.name,
    format: data.format,
    cells: data.cells,
    genes: data.genes,
    genesMatched: data.genesMatched,
    geneSource: data.geneSource,
    note: data.note ?? null,
  };
}

/**
 * Lets queued messages (a "cancel") run: on the CPU a batch's Promise settles without ever
 * returning to the event loop, so without this a loop of batches would never see them.
 */
function yieldToEvents() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** An annotated data set's results as a plain object (wasm returns a live JS object). */
function plainResults(out) {
  const keys = [
    "labelColumn", "classNames", "cellIds", "predicted", "confidence", "unassigned", "totalCounts", "nGenes",
    "nModelGenes", "minCellGenes", "minConfidence", "probabilities", "embedding", "embeddingDim", "map",
  ];
  return Object.fromEntries(keys.map((key) => [key, out[key]]));
}

// ---- helper workers -------------------------------------------------------------------------
//
// The CPU module runs on one thread (no wasm threads), so annotation uses further cores through
// helper workers: each its own module instance with the same model bundle and the same files,
// computing whole batches whose raw outputs (probabilities, embeddings) come back here, where
// `storeBatch` puts them into the one data set the results, the CSV and the .h5ad are read from.
// Batches keep the single-worker run's boundaries and each runs the same code on the same
// input, so the results are the same to the bit, whichever worker ran a batch.

/** Most workers one annotation uses, whatever is asked for. */
const MAX_WORKERS = 64;
/** The memory workers may take where the browser does not say how much the device has. */
const DEFAULT_MEMORY_BUDGET = 2 ** 30;
/** Batches queued at each helper, so it never waits for this worker (busy with its own batch). */
const HELPER_QUEUE = 2;

/** A helper worker, spoken to with the request protocol the page's client uses (`Channel`). */
class Helper {
  constructor() {
    // This module's own URL: unbundled it is this file, and Vite (8.3) and webpack (5.112) map
    // it to the bundled worker itself (checked with the packed package, web/README.md).
    this.worker = new Worker(new URL(import.meta.url), { type: "module", name: "tessera helper" });
    this.channel = new Channel(this.worker);
    this.failed = null;
    /** Promise that it runs the module, once asked to start. */
    this.module = null;
    /** Promise of its RNA model's handle, once asked to load it. */
    this.model = null;
    /** Promise of its game agent's handle (null for baselines only), once asked to start a game. */
    this.agent = null;
    /** Data sets it holds, by this worker's handle: `{ handle: Promise<number>, users }`. */
    this.data = new Map();
    this.worker.onerror = (event) => {
      event.preventDefault?.();
      this.fail(new Error(event.message || "a helper worker failed to start"));
    };
  }

  call(type, payload = {}) {
    return this.failed ? Promise.reject(this.failed) : this.channel.call(type, payload);
  }

  /** Stops the worker; whatever it was asked fails with `error`. */
  fail(error) {
    this.failed ??= error;
    this.worker.terminate();
    this.channel.failAll(this.failed.message);
  }

  terminate() {
    this.fail(new Error("the helper worker was stopped"));
  }

  /** Resolves once it runs this worker's module (compiled once, here, for every helper). */
  started() {
    this.module ??= (async () => {
      const compiled = await (compiledModule ??= compileModule(moduleFiles(engine.name).wasm));
      // The helper runs this very file, so with no `base` its `MODULES` finds the same files.
      await this.call("init", {
        backend: "cpu",
        base: moduleBase,
        precision: engine.precision,
        helper: { name: engine.name, compiled },
      });
    })();
    return this.module;
  }

  /** Its handle of the game agent from `source` (loaded the first time), or null without one. */
  startGame(source) {
    this.agent ??= this.started().then(async () => (source ? (await this.call("loadGameAgent", source)).handle : null));
    return this.agent;
  }

  /** Its handle of data set `id` (opened the first time), with the model loaded first. */
  open(id, entry) {
    this.model ??= this.started().then(async () => (await this.call("loadRnaModel", modelSources.get(entry.modelHandle))).handle);
    let held = this.data.get(id);
    if (!held) {
      // `File`s reach another worker as references; bytes are made one (once) for the same.
      entry.files = entry.files.map((f) =>
        f instanceof Blob ? f : new File([f.bytes], String(f.name)),
      );
      const files = entry.files.map((f) => new File([f], f.webkitRelativePath || f.name || "data"));
      const handle = this.model.then((model) => this.call("openData", { handle: model, files, ...entry.options }));
      held = { handle: handle.then((summary) => summary.handle), users: 0 };
      this.data.set(id, held);
    }
    held.users += 1;
    return held.handle;
  }

  /** Frees its copy of data set `id` once no annotation uses it. */
  release(id) {
    const held = this.data.get(id);
    if (!held || --held.users > 0) return;
    this.data.delete(id);
    held.handle.then((dataset) => this.call("closeData", { dataset })).catch(() => {});
  }
}

/**
 * How many workers fit in memory: each holds what this one does (its wasm memory, which only
 * grows: the model, the data, the load's peak) plus a batch's activations, against half the
 * device's memory where the browser says (`navigator.deviceMemory`, GiB, which Chromium rounds
 * and caps at 8), else 1 GiB. (`performance.memory` is no guide: it counts the JS heap, not
 * wasm memories, and workers do not have it.)
 */
function memoryCap(entry, batchSize) {
  let working = 0;
  try {
    working = entry.model.benchPlan({ batch: batchSize, length: entry.model.info().maxLength }).workingBytes;
  } catch {
    // No estimate: the memory already in use still counts.
  }
  const perWorker = (wasmExports?.memory?.buffer.byteLength ?? 0) + working;
  const deviceMemory = Number(navigator.deviceMemory) || 0;
  const budget = deviceMemory > 0 ? (deviceMemory * 2 ** 30) / 2 : DEFAULT_MEMORY_BUDGET;
  return Math.max(1, Math.floor(budget / Math.max(perWorker, 1)));
}

/**
 * Workers for an annotation of `batches` batches: one on WebGPU (the GPU is shared; more would
 * only queue on it); on the CPU `requested` (a positive integer), else one per core as far as
 * memory allows; never more than there are batches.
 */
/** `workers` as asked: `"auto"` or a whole number from 1 (a numeric string counts). */
function checkedWorkers(workers) {
  if (workers === "auto") return workers;
  const n = typeof workers === "string" && workers.trim() !== "" ? Number(workers) : workers;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`workers: ${JSON.stringify(workers)} is not "auto" or a whole number from 1`);
  }
  return n;
}

function workerCount(requested, entry, batchSize, batches) {
  if (runtime.backend !== "cpu" || !modelSources.has(entry.modelHandle) || typeof Worker === "undefined") return 1;
  const wanted = requested === "auto"
    ? Math.min(navigator.hardwareConcurrency || 1, memoryCap(entry, batchSize), MAX_WORKERS)
    : Math.min(requested, MAX_WORKERS);
  return Math.max(1, Math.min(wanted, batches));
}

/** `count` helper workers of RNA model `handle` (started where there are fewer). */
function helpersFor(handle, count) {
  const pool = pools.get(handle) ?? { helpers: [], active: 0 };
  pools.set(handle, pool);
  pool.helpers = pool.helpers.filter((h) => !h.failed);
  // Extra helpers go only while no annotation is using them.
  if (pool.active === 0) while (pool.helpers.length > count) pool.helpers.pop().terminate();
  while (pool.helpers.length < count) {
    try {
      pool.helpers.push(new Helper());
    } catch (error) {
      // No nested workers in this browser: the annotation runs here alone.
      console.warn(`tessera: no helper worker (${error.message ?? error})`);
      break;
    }
  }
  return { pool, helpers: pool.helpers.slice(0, count) };
}

/**
 * Runs `tasks` (taken from the end) on this worker and `helpers`, each taking the next task as
 * it frees up; a helper keeps `HELPER_QUEUE` asked for, so it never waits for this worker (busy
 * with its own task). Between tasks `stopped()` is asked: an Error ends the run with it.
 * - `ready(helper)`: what a helper needs before its first task (its handles);
 * - `here(task)` and `atHelper(helper, ready, task)`: one task's result, here or at a helper (a
 *   helper that fails is stopped, and its task goes back to the queue for the others);
 * - `done(result, worker, running)`: takes each result in this worker (`worker` 0 is this one);
 *   its throwing ends the run.
 * Waits for the tasks at helpers (helpers still starting are not waited for); returns how many
 * workers ran to the end.
 */
async function shareTasks({ tasks, helpers, ready, here, atHelper, done, stopped: stop }) {
  let running = helpers.length + 1;
  /** Tasks helpers hold (asked for, not yet taken in or put back). */
  let atHelpers = 0;
  /** Wakes this worker when a helper is done with a task. */
  let wakeUp = null;
  const wake = () => {
    wakeUp?.();
    wakeUp = null;
  };
  /** Why the run stopped early (cancelled, closed, or an error here). */
  let stopped = null;
  const check = () => {
    stopped ??= stop();
    return stopped !== null;
  };
  const own = async () => {
    for (;;) {
      await yieldToEvents();
      if (check()) return;
      const task = tasks.pop();
      if (task === undefined) return;
      try {
        done(await here(task), 0, running);
      } catch (error) {
        stopped ??= error;
        return;
      }
    }
  };
  const help = async (helper, worker) => {
    let dropped = false;
    const drop = (error) => {
      if (dropped) return;
      dropped = true;
      running -= 1;
      console.warn(`tessera: helper worker ${worker} stopped: ${error.message ?? error}`);
      helper.fail(error);
    };
    let handles;
    try {
      handles = await ready(helper);
    } catch (error) {
      if (!check()) drop(error);
      return;
    }
    const pump = async () => {
      for (;;) {
        if (check()) return;
        const task = tasks.pop();
        if (task === undefined) return;
        atHelpers += 1;
        try {
          let result;
          try {
            result = await atHelper(helper, handles, task);
          } catch (error) {
            if (!check()) {
              tasks.push(task);
              drop(error);
            }
            return;
          }
          if (check()) return;
          try {
            done(result, worker, running);
          } catch (error) {
            stopped ??= error;
            return;
          }
        } finally {
          atHelpers -= 1;
          wake();
        }
      }
    };
    await Promise.all(Array.from({ length: HELPER_QUEUE }, pump));
  };
  for (const [i, helper] of helpers.entries()) help(helper, i + 1);
  // This worker takes tasks until none is left, then waits for those at helpers (a helper that
  // fails puts its tasks back).
  for (;;) {
    await own();
    if (stopped || (atHelpers === 0 && tasks.length === 0)) break;
    if (tasks.length === 0) await new Promise((resolve) => (wakeUp = resolve));
  }
  if (stopped) throw stopped;
  return running;
}

/** Why a request stops early: the page cancelled it, or `gone()` says what it used is closed. */
function stopCheck(request, gone) {
  return () => {
    if (cancelled.delete(request)) return new Error("cancelled");
    return gone();
  };
}

/**
 * Every cell, `batchSize` at a time, on `workers` workers (see `workerCount`): this one and
 * helper workers, which compute whole batches whose outputs are stored here. Progress after each
 * batch; stops when cancelled (between batches). A helper that fails is stopped and its batches
 * run elsewhere.
 */
async function annotate({ dataset: id, batchSize, start = 0, workers = "auto" }, progress, request) {
  workers = checkedWorkers(workers);
  const entry = dataset(id);
  const { model, data } = entry;
  const size = Math.max(1, Math.floor(batchSize || 16));
  const total = data.cells;
  const queue = [];
  for (let s = start; s < total; s += size) queue.push(s);
  queue.reverse();
  const planned = workerCount(workers, entry, size, queue.length);
  const { pool, helpers } = planned > 1 ? helpersFor(entry.modelHandle, planned - 1) : { pool: null, helpers: [] };
  /** Cells each worker annotated, this one first. */
  const workerCells = new Array(helpers.length + 1).fill(0);
  const began = performance.now();
  let firstBatch = null;
  let done = start;
  progress({ stage: "annotate", loaded: done, total, seconds: 0, workers: helpers.length + 1 });
  let running;
  if (pool) pool.active += 1;
  try {
    running = await shareTasks({
      tasks: queue,
      helpers,
      ready: (helper) => helper.open(id, entry),
      here: async (s) => {
        const t0 = performance.now();
        const out = await model.annotateBatch(data, { start: s, count: size });
        firstBatch ??= (performance.now() - t0) / 1000;
        return out;
      },
      atHelper: (helper, handle, s) => helper.call("batchOutputs", { dataset: handle, start: s, count: size }),
      done: (out, worker, running) => {
        // A helper's batch is stored here; this worker's stored itself.
        if (worker > 0) out = model.storeBatch(data, out.start, out.probabilities, out.embedding);
        workerCells[worker] += out.count;
        done += out.count;
        progress({
          stage: "annotate",
          loaded: done,
          total,
          seconds: (performance.now() - began) / 1000,
          batch: batchResult(out),
          workers: running,
        });
      },
      stopped: stopCheck(request, () => (datasets.has(id) ? null : new Error("the data set was closed"))),
    });
  } finally {
    if (pool) pool.active -= 1;
    for (const helper of helpers) helper.release(id);
  }
  const seconds = (performance.now() - began) / 1000;
  return {
    cells: total - start,
    seconds,
    firstBatchSeconds: firstBatch ?? 0,
    backend: runtime.backend,
    workers: running,
    workerCells,
  };
}

/** Most boards one page evaluation scores (the module's `MAX_SCORED_BOARDS`). */
const MAX_SCORED_BOARDS = 10_000;
/** Tasks per worker an evaluation is cut into, so that workers finish together. */
const TASKS_PER_WORKER = 8;

/**
 * `players` (baseline names, and `"agent"` for the agent of handle `agent`) on `count` boards
 * drawn as `tessera game boards --size n --p p --seed seed --count count` draws them, under
 * `definition`: runs of boards shared among this worker and helper workers (each its own module
 * instance, with the agent loaded again). Progress after each run; stops when cancelled.
 * Returns each player's per-board moves and R in board order (`null`s and a reason where it
 * cannot play, e.g. the optimum on large boards).
 */
async function gameScore({ n, p, definition, seed = 0, count, players, agent = null, workers = "auto" }, progress, request) {
  if (!api?.scoreBoards) throw new Error("this engine's module has no game (start it with family \"game\")");
  workers = checkedWorkers(workers);
  // wasm-bindgen would truncate or wrap numbers silently (n = 8.5 → 8, seed −1 → 2³² − 1).
  const whole = (name, value, low, high) => {
    if (!Number.isInteger(value) || value < low || value > high) {
      throw new Error(`${name}: ${JSON.stringify(value)} is not a whole number from ${low} to ${high}`);
    }
  };
  whole("count", count, 1, MAX_SCORED_BOARDS);
  whole("n", n, 2, 256);
  whole("seed", seed, 0, 2 ** 32 - 1);
  if (!Array.isArray(players) || players.length === 0) throw new Error("players: give at least one player name");
  const agentModel = players.includes("agent") ? gameAgent(agent) : null;
  const share = { n, p, seed, definition, players };
  const wanted = workers === "auto" ? navigator.hardwareConcurrency || 1 : workers;
  const planned = typeof Worker === "undefined" ? 1 : Math.min(wanted, MAX_WORKERS, count);
  const run = Math.max(1, Math.ceil(count / (planned * TASKS_PER_WORKER)));
  const tasks = [];
  for (let first = 0; first < count; first += run) tasks.push({ first, count: Math.min(run, count - first) });
  tasks.reverse();
  const key = `game:${agentModel ? agent : "baselines"}`;
  const { pool, helpers } = planned > 1 ? helpersFor(key, planned - 1) : { pool: null, helpers: [] };
  const scores = Object.fromEntries(
    players.map((name) => [name, { moves: new Array(count).fill(null), robustness: new Array(count).fill(null), reason: null }]),
  );
  const began = performance.now();
  let scored = 0;
  progress({ stage: "score", loaded: 0, total: count, seconds: 0, workers: helpers.length + 1 });
  let running;
  if (pool) pool.active += 1;
  try {
    running = await shareTasks({
      tasks,
      helpers,
      ready: (helper) => helper.startGame(agentModel ? modelSources.get(agent) : null),
      here: async (task) => scoreShare({ ...share, ...task }, agentModel),
      atHelper: (helper, agentHandle, task) => helper.call("gameScoreShare", { ...share, ...task, agent: agentHandle }),
      done: (result, worker, running) => {
        for (const [name, part] of Object.entries(result.scores)) {
          const into = scores[name];
          into.reason ??= part.reason;
          part.moves?.forEach((m, i) => (into.moves[result.first + i] = m));
          part.robustness?.forEach((r, i) => (into.robustness[result.first + i] = r));
        }
        scored += result.count;
        progress({ stage: "score", loaded: scored, total: count, seconds: (performance.now() - began) / 1000, workers: running });
      },
      stopped: stopCheck(request, () => (agentModel && !models.has(agent) ? new Error("the agent was closed") : null)),
    });
  } finally {
    if (pool) pool.active -= 1;
  }
  for (const score of Object.values(scores)) {
    if (score.reason) score.moves = score.robustness = null;
  }
  return { n, p, seed, definition, count, scores, seconds: (performance.now() - began) / 1000, workers: running };
}

/** Boards `first..first + count` of an evaluation (`gameScore`) for every player, here. */
function scoreShare({ n, p, seed, first, count, definition, players }, agentModel) {
  const scores = {};
  for (const name of players) {
    const request = { n, p, seed, first, count, definition, player: name };
    scores[name] = name === "agent" ? agentModel.scoreBoards(request) : api.scoreBoards(request);
  }
  return { first, count, scores };
}

/** Plain copies of a batch result (wasm returns live JS objects; these are cloned anyway). */
function batchResult(out) {
  return {
    start: out.start,
    count: out.count,
    predicted: out.predicted,
    confidence: out.confidence,
    unassigned: out.unassigned,
    done: out.done,
  };
}

const handlers = {
  init,
  async loadEncoder({ url }, progress) {
    if (!runtime) throw new Error("not initialised");
    const { bytes } = await archiveBytes({ url }, progress);
    progress({ stage: "load", loaded: 0, total: 1 });
    let model;
    try {
      model = runtime.loadEncoder(bytes);
    } catch (error) {
      throw new Error(`${url}: ${error.message ?? error}`);
    }
    progress({ stage: "load", loaded: 1, total: 1 });
    const handle = nextHandle++;
    models.set(handle, model);
    return { handle, dModel: model.dModel };
  },
  async forward({ handle, values, shape, mask }) {
    const model = models.get(handle);
    if (!model) throw new Error(`no model with handle ${handle}`);
    const out = await model.forward(values, Uint32Array.from(shape), mask ?? undefined);
    return { values: out, shape };
  },

  loadRnaModel(source, progress) {
    return loadModel("loadRnaModel", source, progress);
  },
  loadMammalModel(source, progress) {
    return loadModel("loadMammalModel", source, progress);
  },
  async mammalTokenize({ handle, prompt }) {
    return mammalModel(handle).tokenize(prompt);
  },
  async mammalTaskPrompt({ handle, name, inputs }) {
    return mammalModel(handle).taskPrompt(name, inputs);
  },
  async mammalRun({ handle, prompt, task }) {
    const began = performance.now();
    const out = await mammalModel(handle).run(prompt, task);
    return { ...out, seconds: (performance.now() - began) / 1000, backend: runtime.backend };
  },
  async gameNew({ n, p, definition, seed }) {
    if (!api?.GameSession) throw new Error("this engine's module has no game (start it with family \"game\")");
    return keepGame(new api.GameSession({ n, p, definition, seed }));
  },
  async gameFromGraph({ text, definition }) {
    if (!api?.GameSession) throw new Error("this engine's module has no game (start it with family \"game\")");
    const game = api.GameSession.fromGraph(String(text), definition);
    return { ...keepGame(game), graph: game.graph() };
  },
  async gameFromBoard({ line, definition }) {
    if (!api?.GameSession) throw new Error("this engine's module has no game (start it with family \"game\")");
    return keepGame(api.GameSession.fromBoardLine(line, definition));
  },
  async gameAttack({ handle, site }) {
    const killed = gameSession(handle).attack(site);
    return { ...gameState(handle), killed };
  },
  async gameReset({ handle }) {
    gameSession(handle).reset();
    return gameState(handle);
  },
  async gameBaseline({ handle, name }) {
    return gameSession(handle).baseline(name);
  },
  /** A board renderer (wgpu on WebGPU, in the game module) on the page's OffscreenCanvas;
   * rejects where the browser offers no adapter, and the page keeps its 2-D canvas. */
  async boardRenderer({ canvas }) {
    if (!api?.GameRenderer) throw new Error("this engine's module has no board renderer (start it with family \"game\")");
    const renderer = await api.GameRenderer.create(canvas);
    const handle = nextHandle++;
    models.set(handle, renderer);
    return { handle };
  },
  async rendererScene({ handle, scene }) {
    boardRenderer(handle).setScene(scene);
    return null;
  },
  /** Draws a game's board; `heat` (−Q per site, NaN where not Alive) colours the Alive ones. */
  async rendererDraw({ handle, game, heat }) {
    const began = performance.now();
    const items = await boardRenderer(handle).draw(gameSession(game), heatFrame(heat));
    return { items, milliseconds: performance.now() - began };
  },
  /** The same frame read back from a texture: RGBA pixels, rows from the top. */
  async rendererSnapshot({ handle, game, heat }) {
    const pixels = await boardRenderer(handle).snapshot(gameSession(game), heatFrame(heat));
    return { value: pixels, transfer: [pixels.buffer] };
  },
  loadGameAgent(source, progress) {
    return loadModel("loadGameAgent", source, progress);
  },
  /** The agent's next move and its heat map (−Q·n per site, NaN where not Alive). */
  async agentMove({ agent, game }) {
    const session = gameSession(game);
    const movesLeft = gameAgent(agent).movesLeft(session);
    const site = session.isOver() ? null : gameAgent(agent).choose(session);
    return { site, movesLeft };
  },
  async agentPlay({ agent, game }) {
    return gameAgent(agent).play(gameSession(game));
  },
  gameScore,
  /** A run of an evaluation's boards (a helper worker's part of `gameScore`). */
  async gameScoreShare({ agent, ...share }) {
    return scoreShare(share, share.players.includes("agent") ? gameAgent(agent) : null);
  },
  async openData({ handle, files, minGenes, minCellGenes, minConfidence }, progress) {
    const model = rnaModel(handle);
    const read = await readFiles(files, progress);
    progress({ stage: "parse", loaded: 0, total: 1 });
    const data = model.openData(read, { minGenes, minCellGenes, minConfidence });
    progress({ stage: "parse", loaded: 1, total: 1 });
    const id = nextHandle++;
    // The files are kept (a `File` is only a reference) for the annotated .h5ad and for helper
    // workers, which open the same data with the same options.
    datasets.set(id, { model, modelHandle: handle, data, files, options: { minGenes, minCellGenes, minConfidence } });
    return { handle: id, ...summary(data) };
  },
  async annotateBatch({ dataset: id, start, count }) {
    const { model, data } = dataset(id);
    return batchResult(await model.annotateBatch(data, { start, count }));
  },
  /** One batch's raw outputs, stored nowhere (a helper worker's part of `annotate`). */
  async batchOutputs({ dataset: id, start, count }) {
    const { model, data } = dataset(id);
    const out = await model.batchOutputs(data, { start, count });
    const value = { start: out.start, count: out.count, probabilities: out.probabilities, embedding: out.embedding };
    return { value, transfer: [value.probabilities.buffer, value.embedding.buffer] };
  },
  annotate,
  /**
   * Embedding speed of synthetic full-length cells (the ones `tessera bench rna` times) for
   * each length × batch: the median of timed passes after a warm-up, and the heap's peak.
   * A size that does not fit the backend, or whose estimated pass exceeds `maxSeconds`, is
   * skipped with the reason.
   */
  async benchmark({ handle, batches, lengths, maxSeconds = 20 }, progress, request) {
    const model = rnaModel(handle);
    const total = batches.length * lengths.length;
    const rows = [];
    let secondsPerToken = null;
    progress({ stage: "benchmark", loaded: 0, total });
    for (const length of lengths) {
      for (const batch of batches) {
        await yieldToEvents();
        if (cancelled.delete(request)) throw new Error("cancelled");
        const tokens = batch * length;
        // Attention makes a token's cost grow with the length.
        const estimate = secondsPerToken === null ? 0 : secondsPerToken * tokens * (length / lengths[0]);
        const plan = model.benchPlan({ batch, length });
        let row;
        if (!plan.fits) {
          row = { batch, length, skipped: plan.reason };
        } else if (estimate > maxSeconds) {
          row = { batch, length, skipped: `a pass would take about ${Math.round(estimate)} s (limit ${maxSeconds} s)` };
        } else {
          api.resetHeapPeak();
          await model.benchPass({ batch, length });
          const times = [];
          const began = performance.now();
          while (times.length === 0 || (times.length < 15 && performance.now() - began < 3000)) {
            const t0 = performance.now();
            await model.benchPass({ batch, length });
            times.push((performance.now() - t0) / 1000);
          }
          times.sort((a, b) => a - b);
          const seconds = times[Math.floor(times.length / 2)];
          secondsPerToken ??= seconds / tokens;
          row = {
            batch,
            length,
            seconds,
            passes: times.length,
            cellsPerSecond: batch / seconds,
            tokensPerSecond: tokens / seconds,
            peakHeapBytes: api.heapPeakBytes(),
          };
        }
        rows.push(row);
        progress({ stage: "benchmark", loaded: rows.length, total, row });
      }
    }
    return { backend: runtime.backend, rows };
  },
  async results({ dataset: id }) {
    const { model, data } = dataset(id);
    const value = plainResults(model.results(data));
    const arrays = ["predicted", "confidence", "unassigned", "totalCounts", "nGenes", "nModelGenes", "probabilities", "embedding", "map"];
    return { value, transfer: arrays.map((key) => value[key].buffer) };
  },
  async umap({ dataset: id }) {
    const map = (await datasetUmap(dataset(id))).slice();
    return { value: map, transfer: [map.buffer] };
  },
  async annotatedH5ad({ dataset: id }, progress) {
    const entry = dataset(id);
    const umap = await datasetUmap(entry);
    const out = entry.model.results(entry.data);
    const read = await readFiles(entry.files, progress);
    const bytes = (await anndataModule()).annotatedH5ad(read, { ...plainResults(out), umap });
    return { value: bytes, transfer: [bytes.buffer] };
  },
  async csv({ dataset: id }) {
    const { model, data } = dataset(id);
    return model.csv(data);
  },
  async closeData({ dataset: id }) {
    const entry = datasets.get(id);
    datasets.delete(id);
    entry?.data.free();
    return true;
  },
  async clearCache() {
    return "caches" in self ? caches.delete(CACHE_NAME) : false;
  },
  async closeModel({ handle }) {
    const model = models.get(handle);
    if (!model) return false;
    for (const key of [handle, `game:${handle}`]) {
      for (const helper of pools.get(key)?.helpers ?? []) helper.terminate();
      pools.delete(key);
    }
    modelSources.delete(handle);
    for (const [id, entry] of datasets) {
      if (entry.model === model) {
        datasets.delete(id);
        entry.data.free();
      }
    }
    models.delete(handle);
    model.free();
    return true;
  },
};

/** Handlers that answer `{ value, transfer }`. */
const TRANSFERS = new Set(["results", "umap", "annotatedH5ad", "batchOutputs", "rendererSnapshot"]);

self.onmessage = async (event) => {
  const { id, type, ...payload } = event.data;
  if (type === "cancel") {
    cancelled.add(payload.target);
    return;
  }
  const progress = (p) => self.postMessage({ id, type: "progress", progress: p });
  try {
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown request ${type}`);
    let value = await handler(payload, progress, id);
    let transfer = [];
    // These hand over their typed arrays' buffers instead of copying them.
    if (TRANSFERS.has(type)) ({ value, transfer } = value);
    self.postMessage({ id, type: "result", value }, transfer);
  } catch (error) {
    self.postMessage({ id, type: "error", message: String(error?.message ?? error) });
  } finally {
    cancelled.delete(id);
  }
};
