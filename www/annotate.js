// Cell annotation page: the engine (worker + wasm) loads a BMFM-RNA bundle, reads the user's
// cells locally, annotates them batch by batch, and shows a 2-D map, a legend and the CSV.
// Nothing but the site's own files (engine, model, sample) is ever fetched; data stays here.
import { backendLabel, escape, loadCost, noteFirstAnswer, sameSite, startEngine } from "./engine.js";

const params = new URLSearchParams(location.search);
const backendChoice = params.get("backend") ?? "auto";
/** `?precision=f16` computes in half precision where the device has it. */
const precisionChoice = params.get("precision") ?? "f32";
/** `?simd=plain` keeps the CPU module without relaxed SIMD where the browser has it. */
const simdChoice = params.get("simd") ?? "auto";
/** `?minGenes=N`: the fewest model genes a data set must hold (default: the model's rule). */
const minGenesChoice = /^\d+$/.test(params.get("minGenes") ?? "") ? Number(params.get("minGenes")) : undefined;
/** `?minCellGenes=N`, `?minConfidence=P`: when a cell is `Unassigned` (default: the CLI's rule). */
const minCellGenesChoice = /^\d+$/.test(params.get("minCellGenes") ?? "") ? Number(params.get("minCellGenes")) : undefined;
const minConfidenceChoice = /^(0|1)(\.\d+)?$|^\.\d+$/.test(params.get("minConfidence") ?? "")
  ? Number(params.get("minConfidence"))
  : undefined;
const batchSize = Math.max(1, Number.parseInt(params.get("batch") ?? "16", 10) || 16);
/** `?workers=N`: workers annotating on the CPU (default: one per core, as memory allows). */
// Passed as given: a value that is neither "auto" nor a whole number from 1 is refused by name.
const workersChoice = params.get("workers") ?? "auto";
const modelPath = params.get("model") ?? "models/rna-pbmc3k.tar";
const samplePath = params.get("sample") ?? "samples/pbmc3k-test.h5ad";
const list = (name, fallback) =>
  (params.get(name) ?? fallback).split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
// The speed panel's sizes (tests pass small ones).
const benchBatches = list("benchBatches", "1,32,256");
const benchLengths = list("benchLengths", "256,1024");

const $ = (id) => document.getElementById(id);
const ui = {
  modelInfo: $("model-info"),
  modelProgress: $("model-progress"),
  modelFile: $("model-file"),
  drop: $("drop"),
  files: $("files"),
  folder: $("folder"),
  sample: $("sample"),
  dataset: $("dataset"),
  error: $("error"),
  run: $("run"),
  cellsProgress: $("cells-progress"),
  cellsText: $("cells-text"),
  cancel: $("cancel"),
  results: $("results"),
  throughput: $("throughput"),
  map: $("map"),
  tooltip: $("tooltip"),
  legend: document.querySelector("#legend tbody"),
  qc: $("qc"),
  download: $("download"),
  downloadH5ad: $("download-h5ad"),
  h5adState: $("h5ad-state"),
  showUmap: $("show-umap"),
  showPca: $("show-pca"),
  umapState: $("umap-state"),
  bench: $("bench"),
  benchStop: $("bench-stop"),
  benchProgress: $("bench-progress"),
  benchTable: $("bench-table"),
  benchRows: document.querySelector("#bench-table tbody"),
  benchNote: $("bench-note"),
};

const state = {
  tessera: null,
  model: null, // Promise<RnaAnnotatorClient>
  modelName: "",
  dataset: null,
  abort: null,
  results: null,
  csv: null,
  /** The UMAP once computed (`cells × 2`), and which map is shown. */
  umap: null,
  mapKind: "pca",
  job: 0,
  benchAbort: null,
};

function setState(name) {
  document.body.dataset.state = name;
}

function showError(error) {
  const message = String(error?.message ?? error);
  ui.error.textContent = message;
  ui.error.hidden = false;
  setState("error");
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

const number = (n) => n.toLocaleString("en-US");
const workersLabel = (n) => `${number(n)} worker${n === 1 ? "" : "s"}`;

// ---- engine and model ---------------------------------------------------------------------

async function start() {
  try {
    state.tessera = await startEngine({ backend: backendChoice, family: "rna", precision: precisionChoice, simd: simdChoice });
  } catch (error) {
    ui.modelInfo.textContent = "The engine did not start, so no model can run.";
    showError(error);
    return;
  }
  setState("ready");
  try {
    const url = sameSite(modelPath);
    useModel(url.href, url.pathname.split("/").pop());
  } catch (error) {
    ui.modelInfo.textContent = `No model: ${error.message ?? error}`;
    showError(error);
  }
}

/** Starts loading a model (URL or File); data waits for it. */
function useModel(source, name) {
  ui.modelInfo.textContent = `Loading ${name}…`;
  ui.modelProgress.hidden = false;
  ui.modelProgress.removeAttribute("value");
  state.modelName = name;
  const previous = state.model;
  state.model = (async () => {
    const old = await previous?.catch(() => null);
    const model = await state.tessera.loadRnaModel(source, ({ stage, loaded, total }) => {
      if (stage === "download" && total) {
        ui.modelProgress.max = total;
        ui.modelProgress.value = loaded;
        ui.modelInfo.textContent = `Downloading ${name}: ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
      }
    });
    await old?.close().catch(() => {});
    return model;
  })();
  state.model.then(
    (model) => {
      const info = model.info;
      const head = info.labelColumn
        ? `predicts <strong>${escape(info.labelColumn)}</strong> (${info.classNames.length} types: ${info.classNames.map(escape).join(", ")})`
        : "has no label head: cells are embedded and mapped, not typed";
      ui.modelInfo.innerHTML = `<strong>${escape(name)}</strong> — ${escape(info.modelType)}, ` +
        `${number(info.vocabSize)}-token gene vocabulary, ${info.embeddingDim}-dimensional embeddings; ${head}. ` +
        loadCost(info.load);
      ui.modelProgress.hidden = true;
    },
    (error) => {
      ui.modelProgress.hidden = true;
      ui.modelInfo.textContent = `No model: ${error.message ?? error}. Choose a bundle (.tar) below.`;
    },
  );
  state.model.catch(() => {});
}

async function model() {
  if (!state.tessera) throw new Error("the engine is not running");
  try {
    return await state.model;
  } catch (error) {
    throw new Error(`the model could not be loaded (${error.message ?? error}); choose a model bundle (.tar) above`);
  }
}

// ---- data → annotation --------------------------------------------------------------------

/**
 * Opens the files (`files`: an array, or an async function giving one) and annotates every
 * cell; a newer call cancels an older one.
 */
async function annotate(files, label) {
  const job = ++state.job;
  state.abort?.abort();
  const abort = new AbortController();
  state.abort = abort;
  clearError();
  ui.results.hidden = true;
  ui.dataset.hidden = true;
  ui.run.hidden = false;
  ui.cancel.disabled = false;
  state.results = null;
  state.csv = null;
  state.umap = null;
  state.mapKind = "pca";
  const stale = () => job !== state.job;
  try {
    setState("reading");
    ui.cellsProgress.removeAttribute("value");
    ui.cellsText.textContent = `Reading ${label}…`;
    const annotator = await model();
    if (typeof files === "function") files = await files();
    if (stale()) return;
    const old = state.dataset;
    state.dataset = null;
    await old?.close().catch(() => {});
    const dataset = await annotator.openData(files, ({ stage, loaded, total }) => {
      if (stage === "read" && total && !stale()) {
        ui.cellsProgress.max = total;
        ui.cellsProgress.value = loaded;
      }
    }, { minGenes: minGenesChoice, minCellGenes: minCellGenesChoice, minConfidence: minConfidenceChoice });
    if (stale()) {
      dataset.close().catch(() => {});
      return;
    }
    state.dataset = dataset;
    const info = annotator.info;
    ui.dataset.innerHTML = `<strong>${escape(dataset.name)}</strong> (${dataset.format}): ` +
      `${number(dataset.cells)} cells × ${number(dataset.genes)} genes; ` +
      `<span id="matched">${number(dataset.genesMatched)}</span> of them are in the model's vocabulary` +
      (dataset.geneSource && dataset.geneSource !== "var_names" ? ` (matched by <span id="gene-source">${escape(dataset.geneSource)}</span>)` : "") + "." +
      (dataset.note ? ` <em>${escape(dataset.note)}</em>` : "");
    ui.dataset.hidden = false;

    setState("annotating");
    const backend = backendLabel(state.tessera.backend);
    ui.cellsProgress.max = dataset.cells;
    ui.cellsProgress.value = 0;
    ui.cellsText.textContent = `0 / ${number(dataset.cells)} cells · ${backend}`;
    const run = await dataset.annotate({
      batchSize,
      workers: workersChoice,
      signal: abort.signal,
      onProgress: ({ loaded, total, seconds, workers }) => {
        if (stale()) return;
        ui.cellsProgress.max = total;
        ui.cellsProgress.value = loaded;
        const who = workers ? ` · ${workersLabel(workers)}` : "";
        const rate = seconds > 0 ? ` · ${(loaded / seconds).toFixed(1)} cells/s` : "";
        if (loaded > 0 && seconds > 0) noteFirstAnswer(seconds, `first ${number(loaded)} cells`);
        ui.cellsText.textContent = `${number(loaded)} / ${number(total)} cells · ${backend}${who}${rate}`;
      },
    });
    if (stale()) return;
    ui.cancel.disabled = true;
    ui.cellsText.textContent = `${number(run.cells)} / ${number(dataset.cells)} cells · ${backend} · mapping…`;
    const results = await dataset.results();
    const csv = info.labelColumn ? await dataset.csv() : null;
    if (stale()) return;
    state.results = results;
    state.csv = csv;
    // For scripts and tests driving the page.
    window.tesseraAnnotation = { results, run, csv, dataset: { name: dataset.name, format: dataset.format, cells: dataset.cells } };
    show(results, run, dataset);
    ui.run.hidden = true;
    setState("done");
    computeUmap(dataset, stale);
  } catch (error) {
    if (stale()) return;
    ui.run.hidden = true;
    if (abort.signal.aborted) {
      setState("ready");
      ui.dataset.hidden = false;
      ui.error.hidden = false;
      ui.error.textContent = "Annotation cancelled.";
      return;
    }
    showError(error);
  }
}

// ---- results ------------------------------------------------------------------------------

const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#393b79",
  "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
  "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
];
const colour = (i) => PALETTE[i] ?? `hsl(${(i * 137.508) % 360} 55% 50%)`;
/** Cells the model cannot judge are drawn pale grey (no type's colour is grey). */
const UNASSIGNED_COLOUR = "#c9ced6";
const cellColour = (results, c) =>
  results.labelColumn === null ? "#2f6fdf" : results.unassigned[c] ? UNASSIGNED_COLOUR : colour(results.predicted[c]);

function show(results, run, dataset) {
  const n = results.cellIds.length;
  const typed = results.labelColumn !== null;
  ui.throughput.innerHTML = `<span id="rate">${run.cellsPerSecond.toFixed(1)}</span> cells/s on ` +
    `<strong>${backendLabel(run.backend)}</strong> · <span id="workers" data-count="${run.workers}">${workersLabel(run.workers)}</span>: ` +
    `${number(n)} cells in ${run.seconds.toFixed(1)} s ` +
    `(batches of ${batchSize}${run.backend === "webgpu" ? "; the first batch includes compiling GPU shaders" : ""}).`;

  // Legend: types by cell count, with their mean confidence; then the cells left unassigned.
  const stats = results.classNames.map((name, i) => ({ name, i, cells: 0, confidence: 0 }));
  const unassigned = { cells: 0, confidence: 0, fewGenes: 0, unsure: 0 };
  if (typed) {
    for (let c = 0; c < n; c++) {
      const s = results.unassigned[c] ? unassigned : stats[results.predicted[c]];
      s.cells += 1;
      s.confidence += results.confidence[c];
      if (results.unassigned[c] === 1) unassigned.fewGenes += 1;
      if (results.unassigned[c] === 2) unassigned.unsure += 1;
    }
  }
  const rows = stats.filter((s) => s.cells > 0).sort((a, b) => b.cells - a.cells || a.i - b.i);
  const row = (name, swatch, s) => {
    const tr = document.createElement("tr");
    tr.dataset.type = name;
    tr.innerHTML = `<td><span class="swatch" style="background:${swatch}"></span>${escape(name)}</td>` +
      `<td class="cells">${number(s.cells)}</td><td class="confidence">${(s.confidence / s.cells).toFixed(3)}</td>`;
    return tr;
  };
  ui.legend.replaceChildren(...rows.map((s) => row(s.name, colour(s.i), s)));
  if (unassigned.cells > 0) {
    const tr = row("Unassigned", UNASSIGNED_COLOUR, unassigned);
    tr.title = `${unassigned.fewGenes} cells express fewer than ${results.minCellGenes} of the model's genes; ` +
      `${unassigned.unsure} have no type at ${results.minConfidence.toFixed(2)} or more`;
    ui.legend.append(tr);
  }
  ui.qc.innerHTML = typed
    ? `<span id="unassigned">${number(unassigned.cells)}</span> of ${number(n)} cells <strong>Unassigned</strong>: ` +
      `${number(unassigned.fewGenes)} express fewer than ${results.minCellGenes} of the model's genes, ` +
      `${number(unassigned.unsure)} have no type at ${results.minConfidence.toFixed(2)} confidence or more. ` +
      `Per cell, the model's genes expressed: median ${number(median(results.nModelGenes))} ` +
      `(counts: median ${number(median(results.totalCounts))}).`
    : "";
  if (!typed) {
    ui.legend.innerHTML = `<tr><td colspan="3">This model has no label head.</td></tr>`;
  }
  ui.download.disabled = !typed;
  ui.downloadH5ad.disabled = !typed;
  ui.h5adState.textContent = "";
  ui.showUmap.disabled = true;
  ui.umapState.textContent = "";
  ui.results.hidden = false;
  draw(results);
}

/** Computes the UMAP in the worker, then shows it (the PCA map stays one click away). */
async function computeUmap(dataset, stale) {
  const cells = state.results?.cellIds.length ?? 0;
  ui.umapState.textContent = `computing a UMAP of ${number(cells)} cells…`;
  document.body.dataset.umap = "running";
  const began = performance.now();
  try {
    const map = await dataset.umap();
    if (stale()) return;
    state.umap = map;
    if (window.tesseraAnnotation) window.tesseraAnnotation.umap = map;
    ui.showUmap.disabled = false;
    ui.umapState.textContent = `UMAP: ${((performance.now() - began) / 1000).toFixed(1)} s`;
    showMap("umap");
    document.body.dataset.umap = "done";
  } catch (error) {
    if (stale()) return;
    ui.umapState.textContent = `no UMAP: ${error.message ?? error}`;
    document.body.dataset.umap = "error";
  }
}

function showMap(kind) {
  if (!state.results || (kind === "umap" && !state.umap)) return;
  state.mapKind = kind;
  ui.showUmap.setAttribute("aria-pressed", String(kind === "umap"));
  ui.showPca.setAttribute("aria-pressed", String(kind === "pca"));
  draw(state.results);
}

/** The scatter (UMAP or PCA 1 × PCA 2), coloured by predicted type; keeps the screen positions. */
function draw(results) {
  const canvas = ui.map;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640;
  const height = Math.round(width * 0.75);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const n = results.cellIds.length;
  const umap = state.mapKind === "umap" && state.umap;
  const map = umap ? state.umap : results.map;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let c = 0; c < n; c++) {
    x0 = Math.min(x0, map[2 * c]);
    x1 = Math.max(x1, map[2 * c]);
    y0 = Math.min(y0, map[2 * c + 1]);
    y1 = Math.max(y1, map[2 * c + 1]);
  }
  const pad = 14;
  const sx = (width - 2 * pad) / (x1 - x0 || 1);
  const sy = (height - 2 * pad) / (y1 - y0 || 1);
  const radius = n > 5000 ? 1.5 : n > 1000 ? 2.2 : 3;
  const points = new Float32Array(2 * n);
  ctx.globalAlpha = 0.8;
  for (let c = 0; c < n; c++) {
    const x = pad + (map[2 * c] - x0) * sx;
    const y = height - pad - (map[2 * c + 1] - y0) * sy;
    points[2 * c] = x;
    points[2 * c + 1] = y;
    ctx.fillStyle = cellColour(results, c);
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = "#5b6575";
  ctx.font = "12px system-ui, sans-serif";
  const [xLabel, yLabel] = umap ? ["UMAP 1 →", "UMAP 2 →"] : ["PC 1 →", "PC 2 →"];
  ctx.fillText(xLabel, width - 66, height - 2);
  ctx.save();
  ctx.translate(10, 66);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  state.points = points;
}

function median(values) {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[sorted.length >> 1];
}

function hover(event) {
  const results = state.results;
  if (!results || !state.points) return;
  const rect = ui.map.getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  let best = -1;
  let bestDistance = 64; // within 8 px
  for (let c = 0; c < results.cellIds.length; c++) {
    const d = (state.points[2 * c] - x) ** 2 + (state.points[2 * c + 1] - y) ** 2;
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best < 0) {
    ui.tooltip.hidden = true;
    return;
  }
  const bestType = results.classNames[results.predicted[best]];
  const type = results.labelColumn === null ? "—" : results.unassigned[best] ? `Unassigned (best: ${bestType})` : bestType;
  const confidence = results.labelColumn !== null ? results.confidence[best].toFixed(3) : "—";
  ui.tooltip.textContent = `${results.cellIds[best]} · ${type} · ${confidence} · ` +
    `${number(results.nModelGenes[best])} model genes, ${number(results.totalCounts[best])} counts`;
  ui.tooltip.style.left = `${state.points[2 * best] + 12}px`;
  ui.tooltip.style.top = `${state.points[2 * best + 1] + 8}px`;
  ui.tooltip.hidden = false;
}

function download() {
  if (!state.csv) return;
  const blob = new Blob([state.csv], { type: "text/csv" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  const base = (state.dataset?.name ?? "cells").replace(/\.(h5ad|csv|tsv|txt|tab)(\.gz)?$/i, "");
  a.download = `${base}-annotations.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Builds the annotated .h5ad in the worker and saves it. */
async function downloadH5ad() {
  const dataset = state.dataset;
  if (!dataset || !state.results) return;
  ui.downloadH5ad.disabled = true;
  ui.h5adState.textContent = "writing the .h5ad…";
  try {
    const bytes = await dataset.annotatedH5ad();
    const blob = new Blob([bytes], { type: "application/x-hdf5" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    const base = (dataset.name ?? "cells").replace(/\.(h5ad|h5|csv|tsv|txt|tab)(\.gz)?$/i, "");
    a.download = `${base}-annotated.h5ad`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    ui.h5adState.textContent = `${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB`;
  } catch (error) {
    ui.h5adState.textContent = `could not write the .h5ad: ${error.message ?? error}`;
  } finally {
    ui.downloadH5ad.disabled = false;
  }
}

// ---- speed --------------------------------------------------------------------------------

/** Times the loaded model on this backend and fills the speed table row by row. */
async function benchmark() {
  ui.bench.disabled = true;
  ui.benchStop.hidden = false;
  ui.benchRows.replaceChildren();
  ui.benchTable.hidden = false;
  ui.benchNote.textContent = "Measuring…";
  ui.benchProgress.hidden = false;
  ui.benchProgress.max = benchBatches.length * benchLengths.length;
  ui.benchProgress.value = 0;
  document.body.dataset.bench = "running";
  const abort = new AbortController();
  state.benchAbort = abort;
  try {
    const annotator = await model();
    const run = await annotator.benchmark({
      batches: benchBatches,
      lengths: benchLengths,
      signal: abort.signal,
      onProgress: ({ loaded, row }) => {
        ui.benchProgress.value = loaded;
        if (row) addBenchRow(row);
      },
    });
    ui.benchNote.textContent = `${backendLabel(run.backend)}, ${state.modelName}. Each figure is the median ` +
      "pass after a warm-up pass; memory is the WebAssembly heap's peak during the row, model included" +
      (run.backend === "webgpu" ? " (GPU buffers are not counted)." : ".");
    // For scripts and tests driving the page.
    window.tesseraBenchmark = run;
    document.body.dataset.bench = "done";
  } catch (error) {
    ui.benchNote.textContent = abort.signal.aborted
      ? "Stopped."
      : `The measurement failed: ${error.message ?? error}`;
    document.body.dataset.bench = abort.signal.aborted ? "stopped" : "error";
  } finally {
    ui.bench.disabled = false;
    ui.benchStop.hidden = true;
    ui.benchProgress.hidden = true;
  }
}

function addBenchRow(row) {
  const tr = document.createElement("tr");
  const cells = [number(row.batch), number(row.length)];
  tr.innerHTML = cells.map((c) => `<td>${c}</td>`).join("") + (row.skipped
    ? `<td class="skipped" colspan="3">skipped: ${escape(row.skipped)}</td>`
    : `<td>${row.cellsPerSecond.toFixed(2)}</td><td>${number(Math.round(row.tokensPerSecond))}</td>` +
      `<td>${(row.peakHeapBytes / 2 ** 20).toFixed(0)}</td>`);
  ui.benchRows.append(tr);
}

// ---- wiring -------------------------------------------------------------------------------

/** A folder dropped on the page: its files, recursively (webkitGetAsEntry). */
async function droppedFiles(items) {
  const entries = Array.from(items, (item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return null;
  const files = [];
  const walk = async (entry, path) => {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail));
      files.push(path ? new File([file], `${path}/${file.name}`, { type: file.type }) : file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, path ? `${path}/${entry.name}` : entry.name);
      }
    }
  };
  for (const entry of entries) await walk(entry, "");
  return files;
}

function describe(files) {
  return files.length === 1 ? files[0].name : `${files.length} files`;
}

ui.files.addEventListener("change", () => {
  const files = Array.from(ui.files.files);
  ui.files.value = "";
  if (files.length) annotate(files, describe(files));
});
ui.folder.addEventListener("change", () => {
  const files = Array.from(ui.folder.files);
  ui.folder.value = "";
  if (files.length) annotate(files, describe(files));
});
ui.sample.addEventListener("click", () => {
  const label = samplePath.split("/").pop();
  annotate(async () => {
    const url = sameSite(samplePath);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the sample ${label} could not be fetched (HTTP ${response.status})`);
    return [{ name: label, bytes: new Uint8Array(await response.arrayBuffer()) }];
  }, `the sample ${label}`);
});
ui.modelFile.addEventListener("change", () => {
  const file = ui.modelFile.files[0];
  ui.modelFile.value = "";
  if (file && state.tessera) useModel(file, file.name);
});
ui.cancel.addEventListener("click", () => state.abort?.abort());
ui.download.addEventListener("click", download);
ui.downloadH5ad.addEventListener("click", downloadH5ad);
ui.showUmap.addEventListener("click", () => showMap("umap"));
ui.showPca.addEventListener("click", () => showMap("pca"));
ui.bench.addEventListener("click", benchmark);
ui.benchStop.addEventListener("click", () => state.benchAbort?.abort());
ui.map.addEventListener("mousemove", hover);
ui.map.addEventListener("mouseleave", () => (ui.tooltip.hidden = true));
window.addEventListener("resize", () => state.results && draw(state.results));

for (const type of ["dragenter", "dragover"]) {
  ui.drop.addEventListener(type, (event) => {
    event.preventDefault();
    ui.drop.classList.add("over");
  });
}
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", async (event) => {
  event.preventDefault();
  ui.drop.classList.remove("over");
  try {
    const files = (await droppedFiles(event.dataTransfer.items)) ?? Array.from(event.dataTransfer.files);
    if (files.length) annotate(files, describe(files));
  } catch (error) {
    showError(error);
  }
});
// A file dropped elsewhere on the page must not navigate away from it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

start();
