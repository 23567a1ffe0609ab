/** Typed API of the Tessera browser client (src/tessera.js). */

/** Which backend to run on. `auto`: WebGPU when the browser gives an adapter, else the CPU. */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Progress of a long step, reported by the worker. */
export interface Progress {
  /** What is happening, e.g. `"download"`, `"load"`, `"init"`. */
  stage: string;
  /** Units done and in all (bytes for downloads); `total` is 0 when unknown. */
  loaded: number;
  total: number;
}

export interface TesseraOptions {
  backend?: BackendChoice;
  /** URL of the folder holding tessera.js, worker.js and the wasm modules (default: this module's folder). */
  base?: string | URL;
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

export declare class Tessera {
  /** Starts the worker, loads the right wasm module and picks the backend. */
  static create(options?: TesseraOptions): Promise<Tessera>;
  /** `"webgpu"` or `"cpu"`: what the models actually run on. */
  readonly backend: "webgpu" | "cpu";
  /** Why that backend (e.g. "WebGPU unavailable …; using the CPU"). */
  readonly note: string;
  /** Fetches a bundle archive (.tar) and loads it as an encoder. */
  loadEncoder(url: string | URL, onProgress?: (progress: Progress) => void): Promise<EncoderClient>;
  /** Stops the worker. */
  terminate(): void;
}

/** An error raised in the worker (bad bundle, bad input), with its message. */
export declare class TesseraError extends Error {}
