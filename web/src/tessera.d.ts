/** Typed API of the Tessera browser client (src/tessera.js). */

/** Which backend to run on. `auto`: WebGPU when the browser gives an adapter, else the CPU. */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Progress of a long step, reported by the worker. */
export interface Progress {
  /**
   * What is happening: `"init …"`, `"download"` (bytes), `"load"`, `"read"` (bytes of the
   * user's files), `"parse"`, `"annotate"` (cells), `"benchmark"` (rows), `"score"` (boards).
   */
  stage: string;
  /** Units done and in all (bytes for downloads, cells when annotating); `total` is 0 when unknown. */
  loaded: number;
  total: number;
  /** `"annotate"` and `"score"`: seconds since the work began. */
  seconds?: number;
  /** `"annotate"` only: the batch just finished. */
  batch?: RnaBatchResult;
  /** `"annotate"` and `"score"`: how many workers share the work (see `RnaRun.workers`). */
  workers?: number;
  /** `"benchmark"` only: the row just measured (or skipped). */
  row?: RnaBenchRow;
}

export interface TesseraOptions {
  backend?: BackendChoice;
  /** The precision models compute in (default `"f32"`). `"f16"` halves the weights' memory
   * and, on a WebGPU adapter with `shader-f16`, the GPU's work; where the device has no f16
   * arithmetic the engine computes in f32 and its `note` says so. */
  precision?: "f32" | "f16";
  /** Which models the worker's module holds (one family per module keeps downloads small). */
  family?: "rna" | "mammal" | "game";
  /** Where the package's files (`dist/`: tessera.js, worker.js, the wasm modules and their glue)
   * are served from, resolved against the page. Without it the worker is started with
   * `new Worker(new URL("./worker.js", import.meta.url))` and finds the modules beside itself,
   * the form webpack 5, Vite and Parcel follow; give it where a bundler does not (esbuild), or
   * to serve the files from elsewhere. */
  base?: string | URL;
  /** The RNA and MAMMAL CPU modules' build: `"auto"` (default) takes the one with WebAssembly relaxed
   * SIMD's fused multiply-add where the browser validates it (its matrix products run ≈ 1.4×
   * faster), else plain SIMD; `"plain"` always the latter; `"relaxed"` fails where unsupported.
   * The game module has the plain build only. */
  simd?: "auto" | "relaxed" | "plain";
  onProgress?: (progress: Progress) => void;
}

export interface Tensor {
  values: Float32Array;
  shape: number[];
}

/** A bare encoder bundle loaded in the worker. */
export declare class EncoderClient {
  readonly dModel: number;
  /** Encodes `[batch, len, dModel]` hidden states; `mask` is `[batch, len]` of 0/1. */
  forward(values: Float32Array, shape: [number, number, number], mask?: Float32Array): Promise<Tensor>;
}

/** What loading a bundle cost in this tab. */
export interface LoadCost {
  /** From the first byte requested to the model on its device. */
  seconds: number;
  /** The WebAssembly heap's peak during the load, in bytes (WebGPU buffers not counted). */
  peakHeapBytes: number | null;
  /** Bytes WebGPU's allocator holds after the load (null on the CPU). */
  gpuBytes: number | null;
}

/** What an RNA bundle predicts and reads. */
export interface RnaModelInfo {
  load: LoadCost;
  /** The first label head's column (what the page predicts), or null without label heads. */
  labelColumn: string | null;
  /** Its class names, index = class id. */
  classNames: string[];
  /** Every label head. */
  labels: { column: string; classes: string[] }[];
  /** Gene vocabulary size (special tokens included). */
  vocabSize: number;
  embeddingDim: number;
  /** `"scbert"` or `"scllama"`. */
  modelType: string;
  /** Tokens per cell, `[CLS]` and `[SEP]` included. */
  maxLength: number;
  /** How the embedding is pooled, as tessera.json spells it. */
  pooling: string;
  defaultBatchSize: number;
}

/** One batch's predictions (first label head). */
export interface RnaBatchResult {
  start: number;
  count: number;
  /** The most probable class index per cell (assigned or not). */
  predicted: Uint32Array;
  /** Probability of that class. */
  confidence: Float32Array;
  /** Per cell: 0 assigned, 1 `Unassigned` (too few of the model's genes), 2 `Unassigned`
   * (confidence under `minConfidence`). */
  unassigned: Uint8Array;
  /** Cells annotated so far. */
  done: number;
}

export interface RnaRun {
  cells: number;
  /** Wall-clock seconds for all batches (the first includes GPU shader compilation). */
  seconds: number;
  firstBatchSeconds: number;
  cellsPerSecond: number;
  backend: "webgpu" | "cpu";
  /** Workers the batches were shared among: the engine's own and helper workers, each with its
   * own module instance, model and copy of the data (CPU only; 1 on WebGPU). A helper that
   * fails is stopped, its batches done by the others, and not counted. */
  workers: number;
  /** Cells each worker annotated, the engine's own worker first. */
  workerCells: number[];
}

/** One batch size × sequence length of `RnaAnnotatorClient.benchmark`. */
export interface RnaBenchRow {
  batch: number;
  length: number;
  /** Why the size was not measured (does not fit the backend, or would take too long). */
  skipped?: string;
  /** Median seconds of a pass (after one warm-up pass) and how many passes were timed. */
  seconds?: number;
  passes?: number;
  cellsPerSecond?: number;
  tokensPerSecond?: number;
  /** Most wasm heap bytes in use at once during the row, model included (not GPU buffers). */
  peakHeapBytes?: number;
}

export interface RnaBenchmark {
  backend: "webgpu" | "cpu";
  rows: RnaBenchRow[];
}

/** Everything computed for a data set, in cell order. */
export interface RnaResults {
  labelColumn: string | null;
  classNames: string[];
  cellIds: string[];
  /** The most probable class index per cell (assigned or not). */
  predicted: Uint32Array;
  confidence: Float32Array;
  /** Per cell: 0 assigned, 1 `Unassigned` for too few model genes, 2 for low confidence. */
  unassigned: Uint8Array;
  /** Per-cell QC: counts, genes expressed, and of those the model's genes. */
  totalCounts: Float32Array;
  nGenes: Uint32Array;
  nModelGenes: Uint32Array;
  /** The rule that made the `Unassigned` calls. */
  minCellGenes: number;
  minConfidence: number;
  /** `cells × classNames.length`, row-major. */
  probabilities: Float32Array;
  /** `cells × embeddingDim`, row-major. */
  embedding: Float32Array;
  embeddingDim: number;
  /** The embeddings' first two principal components (PCA, seed 0), `cells × 2`. */
  map: Float32Array;
}

/** A user's file: a browser `File` (read in the worker) or bytes with a name. */
export type DataFile = File | Blob | { name: string; bytes: Uint8Array };

/** A data set read in the worker. */
export declare class RnaDatasetClient {
  readonly name: string;
  /** `"h5ad"`, `"10x"` or `"csv"`. */
  readonly format: "h5ad" | "10x" | "csv";
  readonly cells: number;
  readonly genes: number;
  /** Genes of the data that are in the model's vocabulary. */
  readonly genesMatched: number;
  /** Which names of the genes matched: `"var_names"` (the index) or `"var['COLUMN']"`, a symbol
   * column (CELLxGENE's `feature_name`, …) used where it matches more genes than the index. */
  readonly geneSource: string;
  /** How the data was read, when worth saying (e.g. a CSV read as genes × cells). */
  readonly note: string | null;
  /**
   * Annotates every cell; progress (`stage: "annotate"`) after each batch; `signal` cancels.
   * On the CPU module, `workers` workers share the batches (default `"auto"`: one per core,
   * `navigator.hardwareConcurrency`, as far as memory allows — each holds the model, the data
   * and a batch's activations — and at most one per batch); the results are the same to the bit
   * as one worker's. WebGPU always uses one. Anything but `"auto"` or a whole number from 1 is
   * refused (`workers: …`).
   */
  annotate(options?: {
    batchSize?: number;
    workers?: number | "auto";
    onProgress?: (progress: Progress) => void;
    signal?: AbortSignal;
  }): Promise<RnaRun>;
  annotateBatch(start: number, count?: number): Promise<RnaBatchResult>;
  /** Fails until every cell is annotated. */
  results(): Promise<RnaResults>;
  /** `cell_id,predicted_type,confidence,best_type,unassigned_reason,total_counts,n_genes,
   * n_model_genes` (confidence with 4 decimals), as `tessera rna annotate` writes it. */
  csv(): Promise<string>;
  /** A UMAP of the embeddings (15 neighbours, seed 0), `cells × 2` row-major; the first call
   * loads the small extras module (tessera_anndata_cpu). Fails until every cell is annotated. */
  umap(): Promise<Float32Array>;
  /** The annotated `.h5ad`: the data's counts (as read), `obs` and `var` text columns, with
   * `obs['tessera_cell_type']`, `tessera_confidence`, … , `obsm['X_tessera']`,
   * `obsm['tessera_probabilities']` and `obsm['X_umap']`, as `tessera rna annotate --out-h5ad`
   * adds them (which, natively, also keeps an `.h5ad` input's layers, obsm and uns). */
  annotatedH5ad(onProgress?: (progress: Progress) => void): Promise<Uint8Array>;
  close(): Promise<boolean>;
}

/** A BMFM-RNA bundle loaded in the worker. */
export declare class RnaAnnotatorClient {
  readonly info: RnaModelInfo;
  /**
   * One `.h5ad`, one `.csv`/`.tsv` (optionally `.gz`, cells × genes; genes × cells is
   * recognised), or a 10x folder's `matrix.mtx`, `barcodes.tsv` and `features.tsv`/`genes.tsv`
   * (optionally `.gz`). Rejects with a readable `TesseraError` otherwise, or when no gene is in
   * the model's vocabulary.
   */
  openData(
    files: Iterable<DataFile> | ArrayLike<DataFile>,
    onProgress?: (progress: Progress) => void,
    options?: {
      /** The fewest of the model's genes the data must hold (default: half of them, at most
       * 1,000; 0: no minimum). Fewer are refused: the answers would be confident and wrong. */
      minGenes?: number;
      /** A cell expressing fewer of the model's genes is `Unassigned` (default 50). */
      minCellGenes?: number;
      /** A cell whose most probable type is less likely is `Unassigned` (default 0.5). */
      minConfidence?: number;
    },
  ): Promise<RnaDatasetClient>;
  /**
   * Embedding speed on this backend for each batch size × sequence length (defaults 1/32/256 ×
   * 256/1024, a pass estimated over `maxSeconds` = 20 skipped), on the synthetic full-length
   * cells `tessera bench rna` times; progress (`stage: "benchmark"`) after each row.
   */
  benchmark(options?: {
    batches?: number[];
    lengths?: number[];
    maxSeconds?: number;
    onProgress?: (progress: Progress) => void;
    signal?: AbortSignal;
  }): Promise<RnaBenchmark>;
  close(): Promise<boolean>;
}

/** A task a fine-tuned MAMMAL bundle was trained for (its `tessera.json`). */
export interface MammalTask {
  name: string;
  title: string;
  /** The prompt with `{INPUT}` holes. */
  prompt: string;
  inputs: string[];
  readout: { kind: "classify"; classes: [label: string, token: string][] } | { kind: "regress"; mean: number; std: number };
}

export interface MammalInfo {
  load: LoadCost;
  tasks: MammalTask[];
  model: { dModel: number; layers: number; heads: number; vocab: number; parameters: number };
  /** Sub-tokenizer names in config order (`AA`, `SMILES`, `CELL_ATTRIBUTES`, `GENE`). */
  tokenizers: string[];
}

export interface MammalEncoding {
  ids: number[];
  tokens: string[];
  /** Per token: the sub-tokenizer that made it, or `SCALARS_LITERALS`. */
  sources: string[];
  scalars: number[];
  scalarsValid: boolean[];
  /** Pieces outside a sub-tokenizer's vocabulary (became `<UNK>`). */
  warnings: string[];
}

/**
 * What to read from the model; a bundle task's `readout` is accepted too. A wrong, missing or
 * unknown field rejects naming it (`task.mean: invalid type: string "1.5", expected f64`);
 * `maxNewTokens` is 1–512 and `beams` 1–16 (whole numbers); without `mean` and `std` a value is
 * the head's raw output. (The browser tests check that every field declared here is accepted.)
 */
export type MammalTaskSpec =
  | { kind: "generate"; maxNewTokens?: number; beams?: number }
  | { kind: "classify"; classes: string[] }
  | { kind: "regress"; mean?: number; std?: number }
  | MammalTask["readout"];

export type MammalAnswer =
  | { kind: "text"; text: string; ids: number[]; score: number | null }
  | { kind: "classes"; text: string; probabilities: number[]; predicted: number }
  | { kind: "value"; value: number; raw: number };

/** A MAMMAL bundle loaded in the worker. */
export declare class MammalClient {
  readonly info: MammalInfo;
  /** Tokenizes a prompt; a malformed one rejects naming the fragment and its position. */
  tokenize(prompt: string): Promise<MammalEncoding>;
  /** The prompt of the bundle's task `name` with its holes filled (`{ SMILES: "CCO" }`). */
  taskPrompt(name: string, inputs: Record<string, string>): Promise<string>;
  /** Answers one prompt; token ids outside the model's vocabulary reject with the id named. */
  run(prompt: string, task: MammalTaskSpec): Promise<{ encoding: MammalEncoding; answer: MammalAnswer; seconds: number; backend: "webgpu" | "cpu" }>;
  close(): Promise<boolean>;
}

/** An attack game's state (../shared/specs/lattice-game.md). */
export interface GameState {
  handle: number;
  /** A lattice, or a real network (`Tessera.gameFromGraph`). */
  kind: "lattice" | "graph";
  /** A lattice's side, or a graph's node count. */
  n: number;
  definition: "network" | "flow" | "noodle";
  /** Site states (row-major on a lattice, node order on a graph): 0 Wall, 1 Alive, 2 Dead, 3 Attacked. */
  sites: Uint8Array;
  /** The attacked sites in order. */
  moves: Uint32Array;
  over: boolean;
  /** f(t) = Alive / occupied after each move, from t = 0. */
  curve: Float64Array;
  /** R = Σ_t f(t) / occupied. */
  robustness: number;
  /** The board as a board-file line, for `tessera game eval --boards`; a graph's file, for `--graph`. */
  boardLine: string;
  /** Sites that died with the last attack (after `attack`). */
  killed?: number;
}

/** The network a graph game is played on, to draw. */
export interface GameGraph {
  name: string;
  /** Where the network comes from and whom to credit (show it with the drawing). */
  attribution: string;
  /** Node ids, labels and positions (longitude, latitude for geographic networks), in node order. */
  nodes: { id: string; label?: string; x: number; y: number }[];
  /** Links as node-index pairs: `[a0, b0, a1, b1, …]`. */
  edges: Uint32Array;
  /** `flow`'s two sides (node indices). */
  source: number[];
  sink: number[];
}

/** A game held in the worker. */
export declare class GameClient {
  readonly handle: number;
  /** The latest state. */
  readonly state: GameState;
  /** The network of a graph game (`Tessera.gameFromGraph`); null on a lattice. */
  readonly graph: GameGraph | null;
  /** Attacks an Alive site; any other site rejects, naming it. */
  attack(site: number): Promise<GameState>;
  reset(): Promise<GameState>;
  /** `degree`, `greedy`, `random`, `ci`, `corehd` or `optimal` on this board from its start. */
  baseline(name: string): Promise<{ moves: number | null; reason: string | null }>;
  close(): Promise<boolean>;
}

/** An agent bundle's config.json. */
export interface GameAgentInfo {
  load: LoadCost;
  model: "tessera-game-agent";
  net: { features: number; depth: number };
  definition: { kind: "network" | "flow" | "noodle"; direction?: string; d?: number };
  size: number;
  p: number;
  steps: number;
  validation_moves: number | null;
}

/** A trained attack agent held in the worker. */
export declare class GameAgentClient {
  readonly info: GameAgentInfo;
  /** Its next move (null once the game is over) and −Q·n per site (NaN where not Alive). */
  move(game: GameClient): Promise<{ site: number | null; movesLeft: Float32Array }>;
  /** Its whole greedy game on the game's board from the start: the attacked sites in order and
   * f(t) after each move from t = 0. */
  play(game: GameClient): Promise<{ moves: Uint32Array; curve: Float64Array }>;
  close(): Promise<boolean>;
}

/** Where a board renderer draws: a lattice filling the canvas, or a network's nodes at the
 * page's layout (canvas pixels) as discs of `radius`. */
export type BoardScene =
  | { kind: "lattice"; n: number }
  | { kind: "graph"; points: Array<[number, number]>; radius: number };

/** A game board drawn through WebGPU in the worker (wgpu in the game module). */
export declare class BoardRendererClient {
  scene(scene: BoardScene): Promise<null>;
  /** Draws the game's board; with `heat` (−Q·n per site, NaN where not Alive) the Alive sites
   * take the agent's heat ramp. */
  draw(game: GameClient, heat?: Float32Array | null): Promise<{ items: number; milliseconds: number }>;
  /** The frame `draw` would show, read back from a texture: RGBA, rows from the top. */
  snapshot(game: GameClient, heat?: Float32Array | null): Promise<Uint8Array>;
  close(): Promise<boolean>;
}

/** One player's scores on an evaluation's boards, in board order. */
export interface PlayerScores {
  /** Moves to finish each board; null (with `reason`) where the player cannot play them. */
  moves: number[] | null;
  /** Each board's robustness area R (lower is a stronger attack). */
  robustness: number[] | null;
  /** Why there are no scores (the exact optimum beyond small boards), else null. */
  reason: string | null;
}

/** `scoreBoards`' result: the boards' parameters and each player's scores. */
export interface BoardScores {
  n: number;
  p: number;
  seed: number;
  definition: "network" | "flow" | "noodle";
  count: number;
  scores: Record<string, PlayerScores>;
  seconds: number;
  /** Workers that scored to the end (this one and helpers). */
  workers: number;
}

export declare class Tessera {
  /** Starts the worker, loads the right wasm module and picks the backend. */
  static create(options?: TesseraOptions): Promise<Tessera>;
  /** `"webgpu"` or `"cpu"`: what the models actually run on. */
  readonly backend: "webgpu" | "cpu";
  /** Why that backend (e.g. "WebGPU unavailable …; using the CPU"), and the precision. */
  readonly note: string;
  /** The precision models compute in: what was asked for where the device has it, else f32. */
  readonly precision: "f32" | "f16";
  /** On the CPU, the SIMD the module's matrix products use: `"relaxed"` (fused multiply-add) or
   * `"simd128"`; `null` on WebGPU. */
  readonly simd: "relaxed" | "simd128" | null;
  /** Fetches a bundle archive (.tar) and loads it as an encoder. */
  loadEncoder(url: string | URL, onProgress?: (progress: Progress) => void): Promise<EncoderClient>;
  /** Loads a BMFM-RNA bundle (.tar) from a URL, or from a file the user picked. */
  loadRnaModel(source: string | URL | DataFile, onProgress?: (progress: Progress) => void): Promise<RnaAnnotatorClient>;
  /** Loads a MAMMAL bundle (.tar: config, weights, tokenizer/, tessera.json); needs `family: "mammal"`.
   * The archive is streamed: each tensor goes to the device as it arrives (a URL is kept in the
   * Cache API for the next visit; a picked `File` is read as a stream). */
  loadMammalModel(source: string | URL | DataFile, onProgress?: (progress: Progress) => void): Promise<MammalClient>;
  /** A new attack game (needs `family: "game"`): the board `tessera game boards` draws for the
   * same n, p and seed. */
  newGame(options: { n: number; p: number; definition: string; seed: number }): Promise<GameClient>;
  /** A game on one line of a board file. */
  gameFromBoard(line: string, definition: string): Promise<GameClient>;
  /** A game on a real network: a graph file's text (`www/graphs/`, `tessera game graph import`);
   * `flow` connects the file's own sides. Graph agents (game-agent-graph-*.tar) play it; the
   * lattice agents refuse it. */
  gameFromGraph(text: string, definition: string): Promise<GameClient>;
  /** Draws game boards on `canvas` through WebGPU in the worker (needs `family: "game"`); the
   * canvas is handed over. Rejects where the browser has no WebGPU adapter. */
  boardRenderer(canvas: HTMLCanvasElement): Promise<BoardRendererClient>;
  /** Loads an attack-game agent bundle (.tar: config.json, model.safetensors). */
  loadGameAgent(source: string | URL | DataFile, onProgress?: (progress: Progress) => void): Promise<GameAgentClient>;
  /** `players` (`random`, `degree`, `greedy`, `ci`, `corehd`, `optimal`, `agent` with `agent`)
   * on `count` boards drawn as `tessera game boards --size n --p p --seed seed --count count`
   * draws them: what `tessera game eval` reports on that file, board by board. `workers`
   * (default "auto": one per core) share the boards; cancel with `signal`. */
  scoreBoards(options: {
    n: number;
    p: number;
    definition: string;
    seed?: number;
    count: number;
    players: string[];
    agent?: GameAgentClient | null;
    workers?: "auto" | number;
    onProgress?: (progress: Progress) => void;
    signal?: AbortSignal;
  }): Promise<BoardScores>;
  /** Deletes the bundles kept from earlier downloads; resolves to whether there were any. */
  clearCache(): Promise<boolean>;
  /** Stops the worker. */
  terminate(): void;
}

/** An error raised in the worker (bad bundle, bad input), with its message. */
export declare class TesseraError extends Error {}

// ---- pipeline() ---------------------------------------------------------------------------

/** The tasks `pipeline` runs. */
export type PipelineTask = "cell-annotation" | "mammal" | "attack-game";

/** A model bundle (.tar): a URL (fetched with progress, kept in the Cache API), or a picked file. */
export type ModelSource = string | URL | DataFile;

export interface PipelineOptions {
  /** The engine's `backend` (default `"auto"`: WebGPU where the browser gives an adapter, else
   * the CPU). The attack game runs on the CPU only. */
  device?: BackendChoice;
  /** transformers.js's name for `precision`: `"fp32"` (default) or `"fp16"`. */
  dtype?: "fp32" | "fp16";
  /** The engine's `precision` (see `TesseraOptions.precision`); give this or `dtype`. */
  precision?: "f32" | "f16";
  /** See `TesseraOptions.simd`. */
  simd?: "auto" | "relaxed" | "plain";
  /** Where the package's files are served from (see `TesseraOptions.base`); needed with esbuild
   * unless `dist/` is copied beside the bundle. */
  base?: string | URL;
  /**
   * The engine's progress events (`Progress`: `{ stage, loaded, total }`), as they come: the
   * engine's start (`"init …"`) and the model's `"download"`/`"cache"`/`"read"` and `"load"` while
   * `pipeline` resolves, then each call's (`"read"`, `"parse"`, `"annotate"` per batch; `"score"`).
   */
  progress_callback?: (progress: Progress) => void;
}

/** One cell's call, in the style of transformers.js's classification outputs. */
export interface CellLabel {
  /** The data's cell id (`obs_names`, the barcode, or the CSV's first column). */
  id: string;
  /** The predicted type, or `"Unassigned"` (see `unassigned`); null for a bundle without a
   * label head. */
  label: string | null;
  /** The probability of the most probable type (`best`), assigned or not. */
  score: number;
  best: string | null;
  /** Why the cell is `Unassigned` (the CSV's `unassigned_reason`), or null. */
  unassigned: "too_few_genes" | "low_confidence" | null;
}

/** What a `cell-annotation` pipeline resolves to. */
export interface CellAnnotation {
  /** Per cell, in the data's order. */
  cells: CellLabel[];
  /** Everything computed, typed arrays whole: probabilities, embeddings, QC, the PCA map. */
  results: RnaResults;
  run: RnaRun;
  /** The data set as it was read. */
  data: {
    name: string;
    format: "h5ad" | "10x" | "csv";
    cells: number;
    genes: number;
    genesMatched: number;
    geneSource: string;
    note: string | null;
  };
}

export interface CellAnnotationOptions {
  /** Cells per forward pass (default 16). */
  batchSize?: number;
  /** Workers sharing the batches on the CPU (default `"auto"`; see `RnaDatasetClient.annotate`). */
  workers?: number | "auto";
  /** See `RnaAnnotatorClient.openData`. */
  minGenes?: number;
  minCellGenes?: number;
  minConfidence?: number;
  /** Stops between batches; the call then rejects with "cancelled". */
  signal?: AbortSignal;
  /** This call's progress (default: the pipeline's `progress_callback`). */
  progress_callback?: (progress: Progress) => void;
}

/** `pipeline("cell-annotation", model)`: annotates every cell of a data set. */
export interface CellAnnotationPipeline {
  /** Reads `files` (one `.h5ad` or CSV, or a 10x folder's files), annotates every cell and frees
   * the data in the worker. For the CSV, UMAP or annotated `.h5ad`, use `model.openData`. */
  (files: DataFile | Iterable<DataFile> | ArrayLike<DataFile>, options?: CellAnnotationOptions): Promise<CellAnnotation>;
  readonly task: "cell-annotation";
  readonly info: RnaModelInfo;
  /** The loaded bundle, for the rest of the API (`openData`, `benchmark`). */
  readonly model: RnaAnnotatorClient;
  readonly engine: Tessera;
  /** Stops the pipeline's worker, freeing the model. */
  dispose(): Promise<void>;
}

export interface MammalRun {
  encoding: MammalEncoding;
  answer: MammalAnswer;
  seconds: number;
  backend: "webgpu" | "cpu";
}

/** A bundle task's answer: the run, its prompt, and a class answer by the bundle's label. */
export interface MammalTaskRun extends MammalRun {
  task: string;
  prompt: string;
  /** Classification tasks: the predicted class's label and probability. */
  label?: string;
  score?: number;
}

/** `pipeline("mammal", model)`: answers prompts. */
export interface MammalPipeline {
  /** Runs a prompt with a readout (default `{ kind: "generate" }`). */
  (prompt: string, task?: MammalTaskSpec): Promise<MammalRun>;
  /** One of the bundle's own tasks (`info.tasks[].name`), its prompt's holes filled from
   * `inputs` and read with its readout; an unknown task rejects listing the bundle's. */
  (request: { task: string; inputs: Record<string, string> }): Promise<MammalTaskRun>;
  readonly task: "mammal";
  readonly info: MammalInfo;
  readonly model: MammalClient;
  readonly engine: Tessera;
  tokenize(prompt: string): Promise<MammalEncoding>;
  taskPrompt(name: string, inputs: Record<string, string>): Promise<string>;
  dispose(): Promise<void>;
}

/** `pipeline("attack-game", agent?)`: scores players on drawn boards; plays games. */
export interface AttackGamePipeline {
  /** `Tessera.scoreBoards` with the pipeline's agent: `players` may name `"agent"` when one was
   * loaded (and is `["agent"]` when omitted then). */
  (options: {
    n: number;
    p: number;
    definition: string;
    seed?: number;
    count: number;
    players?: string[];
    workers?: "auto" | number;
    signal?: AbortSignal;
    progress_callback?: (progress: Progress) => void;
  }): Promise<BoardScores>;
  readonly task: "attack-game";
  /** The agent's config, or null without one. */
  readonly info: GameAgentInfo | null;
  readonly agent: GameAgentClient | null;
  readonly engine: Tessera;
  newGame(options: { n: number; p: number; definition: string; seed: number }): Promise<GameClient>;
  gameFromBoard(line: string, definition: string): Promise<GameClient>;
  dispose(): Promise<void>;
}

/**
 * A ready-to-call pipeline, as transformers.js's `pipeline`: starts an engine (its own worker)
 * for the task's model family on `options.device`, loads `model`, and resolves to an async
 * function with `.info` and `.dispose()`. An unknown task, a missing model or a bad option
 * rejects with a `TesseraError` naming it, before any worker starts.
 */
export declare function pipeline(task: "cell-annotation", model: ModelSource, options?: PipelineOptions): Promise<CellAnnotationPipeline>;
export declare function pipeline(task: "mammal", model: ModelSource, options?: PipelineOptions): Promise<MammalPipeline>;
export declare function pipeline(task: "attack-game", model?: ModelSource | null, options?: PipelineOptions): Promise<AttackGamePipeline>;
