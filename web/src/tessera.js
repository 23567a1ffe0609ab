// Tessera browser client: a typed facade (see tessera.d.ts) over a Web Worker that owns the
// wasm module, so models load and run off the main thread.

export class TesseraError extends Error {
  constructor(message) {
    super(message);
    this.name = "TesseraError";
  }
}

/** Request/response over postMessage, with progress events routed to the caller. */
class Channel {
  constructor(worker) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => this.failAll(event.message || "worker failed to start");
  }

  call(type, payload, onProgress, transfer = []) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...payload }, transfer);
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

export class Tessera {
  constructor(worker, channel, info) {
    this.worker = worker;
    this.channel = channel;
    this.backend = info.backend;
    this.note = info.note;
  }

  static async create(options = {}) {
    const base = new URL(options.base ?? ".", import.meta.url);
    const worker = new Worker(new URL("worker.js", base), { type: "module" });
    const channel = new Channel(worker);
    const info = await channel.call(
      "init",
      { backend: options.backend ?? "auto", base: base.href },
      options.onProgress,
    );
    return new Tessera(worker, channel, info);
  }

  async loadEncoder(url, onProgress) {
    const absolute = new URL(url, globalThis.location?.href).href;
    const info = await this.channel.call("loadEncoder", { url: absolute }, onProgress);
    return new EncoderClient(this.channel, info.handle, info.dModel);
  }

  terminate() {
    this.worker.terminate();
    this.channel.failAll("terminated");
  }
}
