// Tessera browser client: a typed facade (see tessera.d.ts) over a Web Worker that owns the
// wasm module, so models load and run off the main thread.

export class TesseraError extends Error {
  constructor(message) {
    super(message);
    this.name = "TesseraError";
  }
}

/**
 * Request/response over postMessage, with progress events routed to the caller (the page to its
 * worker, and a worker to its helper workers).
 */
export class Channel {
  constructor(worker) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => this.failAll(event.message || "worker failed to start");
  }

  call(type, payload, onProgress, transfer = [], signal) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new TesseraError("cancelled"));
        return;
      }
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...payload }, transfer);
      // The worker checks between batches; the request then fails with "cancelled".
      signal?.addEventListener("abort", () => this.worker.postMessage({ id: 0, type: "cancel", target: id }), { once: true });
    });
  }

  receive(message) {
    const entry = this.pending.get(message.id);
    if (!entry) return;
    if (message.type === "progress") {
      entry.onProgress?.(message.progress);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === "error") entry.reject(new TesseraError(message.message));
    else entry.resolve(message.value);
  }

  failAll(message) {
    for (const entry of this.pending.values()) entry.reject(new TesseraError(message));
    this.pending.clear();
  }
}

export class EncoderClient {
  constructor(channel, handle, dModel) {
    this.channel = channel;
    this.handle = handle;
    this.dModel = dModel;
  }

  async forward(values, shape, mask) {
    const result = await this.channel.call("forward", {
      handle: this.handle,
      values: Float32Array.from(values),
      shape: Array.from(shape),
      mask: mask ? Float32Array.from(mask) : null,
    });
    return { values: result.values, shape: result.shape };
  }
}

/** A data set opened in the worker by an RnaAnnotatorClient (see tessera.d.ts). */
export class RnaDatasetClient {
  constructor(channel, summary) {
    this.channel = channel;
    this.handle = summary.handle;
    this.name = summary.name;
    this.format = summary.format;
    this.cells = summary.cells;
    this.genes = summary.genes;
    this.genesMatched = summary.genesMatched;
    this.geneSource = summary.geneSource;
    this.note = summary.note;
  }

  /**
   * Annotates every cell, `batchSize` (default 16) at a time, reporting progress per batch. On
   * the CPU, `workers` (default "auto": one per core as memory allows) share the batches.
   */
  async annotate({ batchSize = 16, workers = "auto", onProgress, signal } = {}) {
    const run = await this.channel.call(
      "annotate",
      { dataset: this.handle, batchSize, workers },
      onProgress,
      [],
      signal,
    );
    return { ...run, cellsPerSecond: run.seconds > 0 ? run.cells / run.seconds : 0 };
  }

  /** One forward pass over cells `start .. start + count`. */
  annotateBatch(start, count = 16) {
    return this.channel.call("annotateBatch", { dataset: this.handle, start, count });
  }

  /** Cell ids, predictions, embeddings and the 2-D map (once every cell is annotated). */
  results() {
    return this.channel.call("results", { dataset: this.handle });
  }

  /** The annotation CSV (`cell_id,predicted_type,confidence,…`) as `tessera rna annotate` writes it. */
  csv() {
    return this.channel.call("csv", { dataset: this.handle });
  }

  /** A UMAP of the embeddings (seed 0), `cells × 2`; loads the extras module the first time. */
  umap() {
    return this.channel.call("umap", { dataset: this.handle });
  }

  /** The annotated `.h5ad` (the data's counts, obs and var text columns, and the results). */
  annotatedH5ad(onProgress) {
    return this.channel.call("annotatedH5ad", { dataset: this.handle }, onProgress);
  }

  /** Frees the data set in the worker. */
  close() {
    return this.channel.call("closeData", { dataset: this.handle });
  }
}

/** A BMFM-RNA bundle loaded in the worker. */
export class RnaAnnotatorClient {
  constructor(channel, handle, info) {
    this.channel = channel;
    this.handle = handle;
    this.info = info;
  }

  /**
   * Embedding speed on this backend: cells/s, tokens/s and peak heap for each batch size ×
   * sequence length, on the synthetic cells `tessera bench rna` uses. `onProgress` gets each
   * row as it is measured; `signal` stops between rows.
   */
  benchmark({ batches = [1, 32, 256], lengths = [256, 1024], maxSeconds = 20, onProgress, signal } = {}) {
    return this.channel.call(
      "benchmark",
      { handle: this.handle, batches: Array.from(batches), lengths: Array.from(lengths), maxSeconds },
      onProgress,
      [],
      signal,
    );
  }

  /**
   * Opens a data set from `File`s (an .h5ad, a CSV/TSV, or a 10x folder's files) or
   * `{ name, bytes }` objects; the files are read in the worker.
   */
  async openData(files, onProgress, options = {}) {
    const list = Array.from(files, (f) =>
      typeof Blob !== "undefined" && f instanceof Blob ? f : { name: f.name, bytes: f.bytes },
    );
    const request = {
      handle: this.handle,
      files: list,
      minGenes: options.minGenes,
      minCellGenes: options.minCellGenes,
      minConfidence: options.minConfidence,
    };
    const summary = await this.channel.call("openData", request, onProgress);
    return new RnaDatasetClient(this.channel, summary);
  }

  /** Frees the model (and its data sets) in the worker. */
  close() {
    return this.channel.call("closeModel", { handle: this.handle });
  }
}

/** A MAMMAL bundle loaded in the worker (see tessera.d.ts). */
export class MammalClient {
  constructor(channel, handle, info) {
    this.channel = channel;
    this.handle = handle;
    this.info = info;
  }

  /** A prompt's ids, tokens and each token's sub-tokenizer (`sources`). */
  tokenize(prompt) {
    return this.channel.call("mammalTokenize", { handle: this.handle, prompt: String(prompt) });
  }

  /** The prompt of one of the bundle's own tasks, its holes filled from `inputs`. */
  taskPrompt(name, inputs) {
    return this.channel.call("mammalTaskPrompt", { handle: this.handle, name, inputs: { ...inputs } });
  }

  /** Runs `prompt` with `task` (generate / classify / regress, or a bundle task's readout). */
  run(prompt, task) {
    return this.channel.call("mammalRun", { handle: this.handle, prompt: String(prompt), task });
  }

  close() {
    return this.channel.call("closeModel", { handle: this.handle });
  }
}

/** An attack game held by the worker (see tessera.d.ts); `state` is its latest state, `graph`
 * the network a graph game is played on (null on a lattice). */
export class GameClient {
  constructor(channel, state) {
    this.channel = channel;
    this.handle = state.handle;
    const { graph = null, ...rest } = state;
    this.graph = graph;
    this.state = rest;
  }

  async #update(request) {
    this.state = await request;
    return this.state;
  }

  /** Attacks an Alive site (row-major index); rejects, naming it, otherwise. */
  attack(site) {
    return this.#update(this.channel.call("gameAttack", { handle: this.handle, site }));
  }

  reset() {
    return this.#update(this.channel.call("gameReset", { handle: this.handle }));
  }

  /** A baseline's moves on this board from its start: `{ moves }` or `{ moves: null, reason }`. */
  baseline(name) {
    return this.channel.call("gameBaseline", { handle: this.handle, name });
  }

  close() {
    return this.channel.call("closeModel", { handle: this.handle });
  }
}

/** A trained attack agent held by the worker. */
export class GameAgentClient {
  constructor(channel, handle, info) {
    this.channel = channel;
    this.handle = handle;
    this.info = info;
  }

  /** `{ site, movesLeft }`: its next move in `game` and −Q·n per site (NaN where not Alive). */
  move(game) {
    return this.channel.call("agentMove", { agent: this.handle, game: game.handle });
  }

  /** Its whole game on `game`'s board from the start: `{ moves, curve }`. */
  play(game) {
    return this.channel.call("agentPlay", { agent: this.handle, game: game.handle });
  }

  close() {
    return this.channel.call("closeModel", { handle: this.handle });
  }
}

/** A game board drawn through WebGPU in the worker (wgpu in the game module), on a canvas the
 * page handed over (see tessera.d.ts). */
export class BoardRendererClient {
  constructor(channel, handle) {
    this.channel = channel;
    this.handle = handle;
  }

  /** What the board is: `{ kind: "lattice", n }`, or `{ kind: "graph", points: [[x, y], …],
   * radius }` in canvas pixels (where the page draws and picks nodes). */
  scene(scene) {
    return this.channel.call("rendererScene", { handle: this.handle, scene });
  }

  /** Draws `game`'s board, Alive sites in the agent's heat ramp when `heat` (−Q·n per site, NaN
   * where not Alive) is given: `{ items, milliseconds }`. */
  draw(game, heat = null) {
    return this.channel.call("rendererDraw", { handle: this.handle, game: game.handle, heat });
  }

  /** The frame `draw` would show, read back: RGBA pixels (a `Uint8Array`), rows from the top. */
  snapshot(game, heat = null) {
    return this.channel.call("rendererSnapshot", { handle: this.handle, game: game.handle, heat });
  }

  close() {
    return this.channel.call("closeModel", { handle: this.handle });
  }
}

/** A model source as the worker takes it: a URL, or the bytes of a file the user picked. */
async function sourcePayload(source) {
  if (typeof source === "string" || source instanceof URL) {
    return { url: new URL(source, globalThis.location?.href).href };
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    // A File goes to the worker as it is (no copy): the worker streams it.
    return { name: source.name ?? "model.tar", file: source };
  }
  return { name: source.name ?? "model.tar", bytes: source.bytes };
}

export class Tessera {
  constructor(worker, channel, info) {
    this.worker = worker;
    this.channel = channel;
    this.backend = info.backend;
    this.note = info.note;
    this.precision = info.precision;
    this.simd = info.simd;
  }

  static async create(options = {}) {
    // An explicit `base` (where the package's files are served from) is resolved against the
    // page, like a model URL; without one, the worker and the modules are found beside this file.
    const base = options.base == null ? null : new URL(options.base, globalThis.location?.href ?? import.meta.url);
    // Bundlers (webpack 5, Vite, Parcel) find the worker, and through it the wasm modules, only
    // by this literal form: keep it as it is.
    const worker = base
      ? new Worker(new URL("worker.js", base), { type: "module" })
      : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    const channel = new Channel(worker);
    const info = await channel.call(
      "init",
      {
        backend: options.backend ?? "auto",
        base: base?.href ?? null,
        family: options.family ?? "rna",
        precision: options.precision ?? "f32",
        simd: options.simd ?? "auto",
      },
      options.onProgress,
    ).catch((error) => {
      worker.terminate();
      throw error;
    });
    return new Tessera(worker, channel, info);
  }

  async loadEncoder(url, onProgress) {
    const absolute = new URL(url, globalThis.location?.href).href;
    const info = await this.channel.call("loadEncoder", { url: absolute }, onProgress);
    return new EncoderClient(this.channel, info.handle, info.dModel);
  }

  /**
   * Loads a BMFM-RNA bundle: a URL of the site's (fetched with download progress), or a
   * `File`/`Blob`/`{ name, bytes }` the user picked.
   */
  async loadRnaModel(source, onProgress) {
    const { handle, info } = await this.channel.call("loadRnaModel", await sourcePayload(source), onProgress);
    return new RnaAnnotatorClient(this.channel, handle, info);
  }

  /** Loads a MAMMAL bundle (needs `family: "mammal"` at `create`). */
  async loadMammalModel(source, onProgress) {
    const { handle, info } = await this.channel.call("loadMammalModel", await sourcePayload(source), onProgress);
    return new MammalClient(this.channel, handle, info);
  }

  /** Deletes the bundles kept from earlier downloads (the Cache API's "tessera-models"). */
  clearCache() {
    return this.channel.call("clearCache", {});
  }

  /** A new attack game (needs `family: "game"` at `create`): the board `tessera game boards`
   * draws for the same n, p and seed. */
  async newGame({ n, p, definition, seed }) {
    return new GameClient(this.channel, await this.channel.call("gameNew", { n, p, definition, seed }));
  }

  /** A game on a real network: a graph file's text (`www/graphs/`, `tessera game graph
   * import`), `flow` between the file's own sides. */
  async gameFromGraph(text, definition) {
    return new GameClient(this.channel, await this.channel.call("gameFromGraph", { text: String(text), definition }));
  }

  /** A game on a board-file line (`{"n":…,"p":…,"sites":"…"}`). */
  async gameFromBoard(line, definition) {
    return new GameClient(this.channel, await this.channel.call("gameFromBoard", { line, definition }));
  }

  /** A board renderer drawing on `canvas` through WebGPU in the worker (the canvas is handed
   * over: the page no longer draws on it); rejects where there is no adapter. */
  async boardRenderer(canvas) {
    if (typeof canvas?.transferControlToOffscreen !== "function") {
      throw new TesseraError("boardRenderer: canvas: not a <canvas> element that can be handed to the worker");
    }
    const offscreen = canvas.transferControlToOffscreen();
    const { handle } = await this.channel.call("boardRenderer", { canvas: offscreen }, undefined, [offscreen]);
    return new BoardRendererClient(this.channel, handle);
  }

  /** Loads an attack-game agent bundle (a URL of the site's, or a picked file). */
  async loadGameAgent(source, onProgress) {
    const { handle, info } = await this.channel.call("loadGameAgent", await sourcePayload(source), onProgress);
    return new GameAgentClient(this.channel, handle, info);
  }

  /**
   * Scores `players` (`random`, `degree`, `greedy`, `ci`, `corehd`, `optimal`, and `agent` with
   * `agent` a loaded GameAgentClient) on `count` boards drawn as `tessera game boards --size n
   * --p p --seed seed --count count` draws them, under `definition`: what `tessera game eval`
   * reports on that file, board by board. `workers` (default "auto": one per core) share the
   * boards; progress after each run of boards.
   */
  scoreBoards({ n, p, definition, seed = 0, count, players, agent = null, workers = "auto", onProgress, signal }) {
    return this.channel.call(
      "gameScore",
      { n, p, definition, seed, count, players, agent: agent?.handle ?? null, workers },
      onProgress,
      [],
      signal,
    );
  }

  terminate() {
    this.worker.terminate();
    this.channel.failAll("terminated");
  }
}

// ---- pipeline() ---------------------------------------------------------------------------
//
// One call from a task name and a model to an async function that answers it, as
// transformers.js's `pipeline` does. Each pipeline owns its engine (worker + wasm module) and
// is a thin layer over the clients above: it holds no worker logic of its own.

/** The tasks `pipeline` knows, with the model family each runs on and what its `model` is. */
const PIPELINE_TASKS = {
  "cell-annotation": { family: "rna", model: "a BMFM-RNA bundle" },
  mammal: { family: "mammal", model: "a MAMMAL bundle" },
  "attack-game": { family: "game", model: "an attack-game agent bundle (optional)" },
};

const DEVICES = ["auto", "webgpu", "cpu"];
/** transformers.js's `dtype` names for the engine's precisions. */
const DTYPES = { fp32: "f32", fp16: "f16" };

/** A bundle source as `loadRnaModel` & co take it, or a TesseraError naming `model`. */
function checkedSource(task, model) {
  const source =
    typeof model === "string" ||
    model instanceof URL ||
    (typeof Blob !== "undefined" && model instanceof Blob) ||
    (model != null && typeof model === "object" && "bytes" in model);
  if (!source) {
    const given = model == null ? "none was given" : `got ${Object.prototype.toString.call(model)}`;
    throw new TesseraError(
      `model: "${task}" needs ${PIPELINE_TASKS[task].model}: a URL, a File/Blob or { name, bytes } (${given})`,
    );
  }
  return model;
}

/** The engine options for `pipeline`'s options, or a TesseraError naming the bad field. */
function engineOptions(family, { device = "auto", dtype, precision, simd, base, progress_callback } = {}) {
  if (!DEVICES.includes(device)) {
    throw new TesseraError(`device: expected ${DEVICES.map((d) => `"${d}"`).join(", ")}, not ${JSON.stringify(device)}`);
  }
  if (dtype !== undefined && !(dtype in DTYPES)) {
    throw new TesseraError(`dtype: expected "fp32" or "fp16", not ${JSON.stringify(dtype)}`);
  }
  if (dtype !== undefined && precision !== undefined && DTYPES[dtype] !== precision) {
    throw new TesseraError(`dtype: "${dtype}" contradicts precision: ${JSON.stringify(precision)}; give one of them`);
  }
  if (progress_callback !== undefined && typeof progress_callback !== "function") {
    throw new TesseraError("progress_callback: expected a function");
  }
  return {
    backend: device,
    family,
    precision: precision ?? (dtype === undefined ? undefined : DTYPES[dtype]),
    simd,
    base,
    onProgress: progress_callback,
  };
}

/** `fn` with `extras` as properties (the callable a pipeline resolves to). */
function callable(fn, extras) {
  return Object.assign(fn, extras);
}

/** Why cells are `Unassigned`, as `RnaResults.unassigned` codes them (the CSV's words). */
const UNASSIGNED_REASONS = [null, "too_few_genes", "low_confidence"];

/** `cell-annotation`: the callable over an RnaAnnotatorClient. */
function cellAnnotationPipeline(engine, annotator, progress) {
  const annotate = async (files, options = {}) => {
    const { batchSize, workers, minGenes, minCellGenes, minConfidence, signal } = options;
    const onProgress = options.progress_callback ?? progress;
    // One file (an .h5ad, a CSV) may come alone; a 10x folder's files come as a list.
    if ((typeof Blob !== "undefined" && files instanceof Blob) || (files != null && typeof files === "object" && "bytes" in files)) {
      files = [files];
    }
    if (files == null || typeof files !== "object" || (typeof files[Symbol.iterator] !== "function" && typeof files.length !== "number")) {
      throw new TesseraError("files: expected a File, { name, bytes }, or a list of them (an .h5ad, a CSV or a 10x folder's files)");
    }
    if (signal?.aborted) throw new TesseraError("cancelled");
    const data = await annotator.openData(files, onProgress, { minGenes, minCellGenes, minConfidence });
    try {
      const run = await data.annotate({ batchSize, workers, onProgress, signal });
      const results = await data.results();
      const names = results.classNames;
      const cells = results.cellIds.map((id, c) => {
        const best = names[results.predicted[c]] ?? null;
        const unassigned = UNASSIGNED_REASONS[results.unassigned[c]] ?? null;
        return { id, label: unassigned ? "Unassigned" : best, score: results.confidence[c], best, unassigned };
      });
      const { name, format, genes, genesMatched, geneSource, note } = data;
      return { cells, results, run, data: { name, format, cells: data.cells, genes, genesMatched, geneSource, note } };
    } finally {
      // The data set (its counts, embeddings and probabilities) is freed in the worker: the
      // results above are copies. Failing to free it must not hide the annotation's own error.
      await data.close().catch(() => {});
    }
  };
  return callable(annotate, {
    task: "cell-annotation",
    info: annotator.info,
    model: annotator,
    engine,
    dispose: async () => engine.terminate(),
  });
}

/** `mammal`: the callable over a MammalClient. */
function mammalPipeline(engine, model) {
  const taskNamed = (name) => {
    const task = model.info.tasks.find((t) => t.name === name);
    if (!task) {
      const known = model.info.tasks.map((t) => t.name).join(", ") || "none";
      throw new TesseraError(`task: ${JSON.stringify(name)} is not one of this bundle's tasks (${known})`);
    }
    return task;
  };
  const run = async (request, spec = { kind: "generate" }) => {
    if (typeof request === "string") return model.run(request, spec);
    if (request == null || typeof request !== "object" || typeof request.task !== "string") {
      throw new TesseraError('expected a prompt and a task, or { task: "<bundle task>", inputs: { … } }');
    }
    const task = taskNamed(request.task);
    const prompt = await model.taskPrompt(task.name, request.inputs ?? {});
    const out = await model.run(prompt, task.readout);
    // A class answer also by its label, as the bundle names it (`classes` is [label, token][]).
    const named =
      out.answer.kind === "classes" && task.readout.kind === "classify"
        ? { label: task.readout.classes[out.answer.predicted][0], score: out.answer.probabilities[out.answer.predicted] }
        : {};
    return { task: task.name, prompt, ...named, ...out };
  };
  return callable(run, {
    task: "mammal",
    info: model.info,
    model,
    engine,
    tokenize: (prompt) => model.tokenize(prompt),
    taskPrompt: (name, inputs) => model.taskPrompt(name, inputs),
    dispose: async () => engine.terminate(),
  });
}

/** `attack-game`: scoring boards (with the agent, when one was loaded) and new games. */
function attackGamePipeline(engine, agent, progress) {
  const score = async (options = {}) => {
    const { players = agent ? ["agent"] : undefined } = options;
    if (Array.isArray(players) && players.includes("agent") && !agent) {
      throw new TesseraError('players: "agent" needs an agent bundle: pipeline("attack-game", model)');
    }
    return engine.scoreBoards({ ...options, players, agent, onProgress: options.progress_callback ?? progress });
  };
  return callable(score, {
    task: "attack-game",
    info: agent?.info ?? null,
    agent,
    engine,
    newGame: (options) => engine.newGame(options),
    gameFromBoard: (line, definition) => engine.gameFromBoard(line, definition),
    dispose: async () => engine.terminate(),
  });
}

/**
 * A ready-to-call pipeline for `task` (see tessera.d.ts): starts an engine for the task's model
 * family on `options.device`, loads `model` and resolves to an async function with `.info` and
 * `.dispose()`. Progress (the engine's start, the download, each batch) goes to
 * `options.progress_callback`.
 */
export async function pipeline(task, model, options = {}) {
  const spec = Object.hasOwn(PIPELINE_TASKS, task) ? PIPELINE_TASKS[task] : null;
  if (!spec) {
    const known = Object.keys(PIPELINE_TASKS).map((t) => `"${t}"`).join(", ");
    throw new TesseraError(`task: unknown task ${JSON.stringify(task)}; expected one of ${known}`);
  }
  // Everything that can be checked here is, before a worker starts.
  if (task !== "attack-game" || model != null) checkedSource(task, model);
  const engineSettings = engineOptions(spec.family, options);
  const progress = engineSettings.onProgress;
  const engine = await Tessera.create(engineSettings);
  try {
    if (task === "cell-annotation") return cellAnnotationPipeline(engine, await engine.loadRnaModel(model, progress), progress);
    if (task === "mammal") return mammalPipeline(engine, await engine.loadMammalModel(model, progress));
    return attackGamePipeline(engine, model == null ? null : await engine.loadGameAgent(model, progress), progress);
  } catch (error) {
    engine.terminate();
    throw error;
  }
}
