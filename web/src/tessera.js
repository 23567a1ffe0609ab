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

/** An attack game held by the worker (see tessera.d.ts); `state` is its latest state. */
export class GameClient {
  constructor(channel, state) {
    this.channel = channel;
    this.handle = state.handle;
    this.state = state;
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
    const base = new URL(options.base ?? ".", import.meta.url);
    const worker = new Worker(new URL("worker.js", base), { type: "module" });
    const channel = new Channel(worker);
    const info = await channel.call(
      "init",
      {
        backend: options.backend ?? "auto",
        base: base.href,
        family: options.family ?? "rna",
        precision: options.precision ?? "f32",
        simd: options.simd ?? "auto",
      },
      options.onProgress,
    );
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

  /** A game on a board-file line (`{"n":…,"p":…,"sites":"…"}`). */
  async gameFromBoard(line, definition) {
    return new GameClient(this.channel, await this.channel.call("gameFromBoard", { line, definition }));
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
