// The worker behind tessera.js: loads the CPU or the WebGPU wasm module, keeps loaded models
// and data sets by handle, and answers requests. Every failure is posted back as an error message.

let api = null;
let runtime = null;
/** Where the wasm modules are (for the ones loaded on demand). */
let moduleBase = null;
/** The annotation page's extras (UMAP, the annotated .h5ad), loaded when first asked for. */
let extras = null;
const models = new Map();
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

/** The wasm module of a model family and backend (scripts/build-wasm.sh builds them). */
function moduleName(family, gpu) {
  if (!["rna", "mammal", "game"].includes(family)) throw new Error(`unknown model family ${family}`);
  const prefix = family === "rna" ? "tessera" : `tessera_${family}`;
  return `${prefix}_${gpu ? "webgpu" : "cpu"}`;
}

/** Families with a WebGPU module (the game's agent is small enough for the CPU alone). */
const gpuFamilies = new Set(["rna", "mammal"]);

async function init({ backend, base, family = "rna", precision = "f32" }, progress) {
  if (backend === "webgpu" && !gpuFamilies.has(family)) {
    throw new Error(`the ${family} module runs on the CPU only`);
  }
  const wantGpu =
    gpuFamilies.has(family) && backend !== "cpu" && (backend === "webgpu" || (await gpuAdapterAvailable()));
  const name = moduleName(family, wantGpu);
  moduleBase = base;
  progress({ stage: `init ${name}`, loaded: 0, total: 1 });
  api = await import(new URL(`${name}.js`, base).href);
  await api.default({ module_or_path: new URL(`${name}_bg.wasm`, base) });
  runtime = await api.initRuntime(wantGpu, precision);
  if (backend === "webgpu" && runtime.backend !== "webgpu") {
    throw new Error(`WebGPU was requested but is not available: ${runtime.note}`);
  }
  progress({ stage: `init ${name}`, loaded: 1, total: 1 });
  return { backend: runtime.backend, note: runtime.note, precision: runtime.precision };
}

/** The CPU module with the annotation extras (`umap2d`, `annotatedH5ad`), loaded once. */
function anndataModule() {
  extras ??= (async () => {
    const module = await import(new URL("tessera_anndata_cpu.js", moduleBase).href);
    await module.default({ module_or_path: new URL("tessera_anndata_cpu_bg.wasm", moduleBase) });
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

/** Everything the page draws of a game. */
function gameState(handle) {
  const game = gameSession(handle);
  return {
    handle,
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
    return keepGame(new api.GameSession(n, p, definition, seed));
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
  async openData({ handle, files, minGenes, minCellGenes, minConfidence }, progress) {
    const model = rnaModel(handle);
    const read = await readFiles(files, progress);
    progress({ stage: "parse", loaded: 0, total: 1 });
    const data = model.openData(read, minGenes ?? undefined, minCellGenes ?? undefined, minConfidence ?? undefined);
    progress({ stage: "parse", loaded: 1, total: 1 });
    const id = nextHandle++;
    // The files are kept (a `File` is only a reference) for the annotated .h5ad.
    datasets.set(id, { model, data, files });
    return { handle: id, ...summary(data) };
  },
  async annotateBatch({ dataset: id, start, count }) {
    const { model, data } = dataset(id);
    return batchResult(await model.annotateBatch(data, start, count));
  },
  /** Every cell, `batchSize` at a time, with progress after each batch; stops when cancelled. */
  async annotate({ dataset: id, batchSize, start = 0 }, progress, request) {
    const { model, data } = dataset(id);
    const size = Math.max(1, Math.floor(batchSize || 16));
    const total = data.cells;
    const began = performance.now();
    let firstBatch = null;
    let done = start;
    progress({ stage: "annotate", loaded: done, total, seconds: 0 });
    while (done < total) {
      await yieldToEvents();
      if (cancelled.delete(request)) throw new Error("cancelled");
      if (!datasets.has(id)) throw new Error("the data set was closed");
      const t0 = performance.now();
      const out = await model.annotateBatch(data, done, size);
      if (firstBatch === null) firstBatch = (performance.now() - t0) / 1000;
      done += out.count;
      progress({
        stage: "annotate",
        loaded: done,
        total,
        seconds: (performance.now() - began) / 1000,
        batch: batchResult(out),
      });
    }
    const seconds = (performance.now() - began) / 1000;
    return { cells: total - start, seconds, firstBatchSeconds: firstBatch ?? 0, backend: runtime.backend };
  },
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
        const plan = model.benchPlan(batch, length);
        let row;
        if (!plan.fits) {
          row = { batch, length, skipped: plan.reason };
        } else if (estimate > maxSeconds) {
          row = { batch, length, skipped: `a pass would take about ${Math.round(estimate)} s (limit ${maxSeconds} s)` };
        } else {
          api.resetHeapPeak();
          await model.benchPass(batch, length);
          const times = [];
          const began = performance.now();
          while (times.length === 0 || (times.length < 15 && performance.now() - began < 3000)) {
            const t0 = performance.now();
            await model.benchPass(batch, length);
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
const TRANSFERS = new Set(["results", "umap", "annotatedH5ad"]);

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
