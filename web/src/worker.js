// The worker behind tessera.js: loads the CPU or the WebGPU wasm module, keeps loaded models
// by handle, and answers requests. Every failure is posted back as an error message.

let api = null;
let runtime = null;
const models = new Map();
let nextHandle = 1;

/** WebGPU is worth trying only when the browser hands out an adapter. */
async function gpuAdapterAvailable() {
  if (!("gpu" in navigator)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

async function init({ backend, base }, progress) {
  const wantGpu = backend !== "cpu" && (backend === "webgpu" || (await gpuAdapterAvailable()));
  const name = wantGpu ? "tessera_webgpu" : "tessera_cpu";
  progress({ stage: `init ${name}`, loaded: 0, total: 1 });
  api = await import(new URL(`${name}.js`, base).href);
  await api.default({ module_or_path: new URL(`${name}_bg.wasm`, base) });
  runtime = await api.initRuntime(wantGpu);
  if (backend === "webgpu" && runtime.backend !== "webgpu") {
    throw new Error(`WebGPU was requested but is not available: ${runtime.note}`);
  }
  progress({ stage: `init ${name}`, loaded: 1, total: 1 });
  return { backend: runtime.backend, note: runtime.note };
}

/** Fetches `url` as bytes, reporting download progress. */
async function download(url, progress) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress({ stage: "download", loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

const handlers = {
  init,
  async loadEncoder({ url }, progress) {
    if (!runtime) throw new Error("not initialised");
    const bytes = await download(url, progress);
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
};

self.onmessage = async (event) => {
  const { id, type, ...payload } = event.data;
  const progress = (p) => self.postMessage({ id, type: "progress", progress: p });
  try {
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown request ${type}`);
    const value = await handler(payload, progress);
    self.postMessage({ id, type: "result", value });
  } catch (error) {
    self.postMessage({ id, type: "error", message: String(error?.message ?? error) });
  }
};
