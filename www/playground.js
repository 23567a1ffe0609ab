// MAMMAL playground: pick a task template (or the model's own fine-tuned tasks), fill in
// sequences/SMILES/genes, see the prompt tokenized and coloured by sub-tokenizer, and run it in
// the worker (WebGPU or CPU). Nothing but the site's own files is fetched; inputs stay here.
import { backendLabel, escape, loadCost, noteFirstAnswer, sameSite, startEngine } from "./engine.js";

const params = new URLSearchParams(location.search);
const backendChoice = params.get("backend") ?? "auto";
/** `?simd=plain` keeps the CPU module without relaxed SIMD where the browser has it. */
const simdChoice = params.get("simd") ?? "auto";
/** `?precision=f16` computes in half precision where the device has it. */
const precisionChoice = params.get("precision") ?? "f32";
const modelPath = params.get("model") ?? "models/mammal-molecules.tar";

const $ = (id) => document.getElementById(id);
const ui = {
  modelInfo: $("model-info"), modelProgress: $("model-progress"), modelFile: $("model-file"),
  clearCache: $("clear-cache"), cacheNote: $("cache-note"),
  template: $("template"), templateNote: $("template-note"), inputs: $("inputs"), prompt: $("prompt"),
  tokens: $("tokens"), tokenSummary: $("token-summary"), legend: $("legend"),
  run: $("run"), status: $("status"), error: $("error"),
  answerPanel: $("answer-panel"), answer: $("answer"), answerMeta: $("answer-meta"),
};

const CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C";
const IMATINIB = "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5";
/** A stretch of ABL1's kinase domain (catalytic loop to the DFG motif); imatinib targets ABL1. */
const ABL1_FRAGMENT = "EYLEKKNFIHRDLAARNCLVGENHLVKVADFGLSRLM";
const INSULIN_A = "GIVEQCCTSICSLYQLENYCN";
const INSULIN_B = "FVNQHLCGSHLVEALYLVCGERGFFYTPKT";
/** A few of a T cell's most expressed genes, ranked (the cell-type template's example). */
const RANKED_GENES = "MALAT1 RPL10 RPS27 RPL13 RPS12 CD3E IL7R RPL32 TMSB4X CD52 LTB EEF1A1";
/** Zheng68k's 11 classes as MAMMAL's cell-type fine-tune names them (Cell Ontology ids). */
const CELL_TYPES = ["CL:0000794", "CL:0001062", "CL:0000939", "CL:0000792", "CL:0000236", "CL:0001204",
  "CL:0001054", "CL:0000451", "CL:0000895", "CL:0000049", "CL:0000546"];

/**
 * MAMMAL's published prompt formats (../shared/specs/mammal.md). `inputs`: name, label, example,
 * and how the text becomes prompt text.
 */
const BUILT_IN = [
  {
    id: "ppi",
    title: "Protein–protein binding",
    note: "MAMMAL's PPI format: the class at generated position 1 (<1> binds). Needs a model fine-tuned for it.",
    prompt: "<@TOKENIZER-TYPE=AA><BINDING_AFFINITY_CLASS><SENTINEL_ID_0><MOLECULAR_ENTITY><MOLECULAR_ENTITY_GENERAL_PROTEIN><SEQUENCE_NATURAL_START>{protein_a}<SEQUENCE_NATURAL_END><MOLECULAR_ENTITY><MOLECULAR_ENTITY_GENERAL_PROTEIN><SEQUENCE_NATURAL_START>{protein_b}<SEQUENCE_NATURAL_END><EOS>",
    inputs: [
      { name: "protein_a", label: "Protein A (amino acids)", example: INSULIN_A },
      { name: "protein_b", label: "Protein B (amino acids)", example: INSULIN_B },
    ],
    readout: { kind: "classify", classes: [["does not bind", "<0>"], ["binds", "<1>"]] },
  },
  {
    id: "dti",
    title: "Drug–target affinity (pKd)",
    note: "MAMMAL's BindingDB pKd format: the scalar head at position 0, de-normalised (mean 5.794, sd 1.338). Needs a model fine-tuned for it.",
    prompt: "<@TOKENIZER-TYPE=AA><MASK><@TOKENIZER-TYPE=AA@MAX-LEN=1250><MOLECULAR_ENTITY><MOLECULAR_ENTITY_GENERAL_PROTEIN><SEQUENCE_NATURAL_START>{target}<SEQUENCE_NATURAL_END><@TOKENIZER-TYPE=SMILES@MAX-LEN=256><MOLECULAR_ENTITY><MOLECULAR_ENTITY_SMALL_MOLECULE><SEQUENCE_NATURAL_START>{smiles}<SEQUENCE_NATURAL_END><EOS>",
    inputs: [
      { name: "target", label: "Target protein (amino acids)", example: ABL1_FRAGMENT },
      { name: "smiles", label: "Drug (SMILES)", example: IMATINIB },
    ],
    readout: { kind: "regress", mean: 5.79384684128215, std: 1.33808027428196 },
    unit: "pKd",
  },
  {
    id: "cell-type",
    title: "Cell type from ranked genes",
    note: "MAMMAL's scRNA format: gene symbols ranked by expression, the cell type (a Cell Ontology id) at generated position 1. Gene tokens need a model with the full 100k vocabulary (e.g. the published 458M one).",
    prompt: "<@TOKENIZER-TYPE=GENE><MOLECULAR_ENTITY><MOLECULAR_ENTITY_CELL_GENE_EXPRESSION_RANKED>{genes}<CELL_TYPE_CLASS><SENTINEL_ID_0><EOS>",
    inputs: [
      {
        name: "genes",
        label: "Genes, most expressed first (symbols separated by spaces)",
        example: RANKED_GENES,
        format: (text) => text.split(/[\s,]+/).filter(Boolean).map((g) => `[${g}]`).join(""),
      },
    ],
    readout: { kind: "classify", classes: CELL_TYPES.map((id) => [id, `[${id}]`]) },
  },
  {
    id: "custom",
    title: "Custom prompt (generate)",
    note: "Any prompt in MAMMAL's syntax; the model generates up to 16 tokens.",
    prompt: "<@TOKENIZER-TYPE=SMILES><MOLECULAR_ENTITY><MOLECULAR_ENTITY_SMALL_MOLECULE><SENTINEL_ID_0><SEQUENCE_NATURAL_START>" + CAFFEINE + "<SEQUENCE_NATURAL_END><EOS>",
    inputs: [],
    readout: { kind: "generate", maxNewTokens: 16 },
  },
];

const SOURCE_COLOURS = {
  AA: "#ffe3b8", SMILES: "#cfe8ff", CELL_ATTRIBUTES: "#e3d7ff", GENE: "#d3f2dc", SCALARS_LITERALS: "#ffd6de",
};
const colour = (source) => SOURCE_COLOURS[source] ?? "#e8ebf1";

const state = { tessera: null, model: null, templates: [], template: null, tokenizeJob: 0 };


function showError(error) {
  ui.error.textContent = String(error?.message ?? error);
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

// ---- engine and model ---------------------------------------------------------------------

async function start() {
  try {
    state.tessera = await startEngine({ backend: backendChoice, family: "mammal", precision: precisionChoice, simd: simdChoice });
  } catch (error) {
    ui.modelInfo.textContent = "The engine did not start, so no model can run.";
    showError(error);
    document.body.dataset.state = "error";
    return;
  }
  try {
    const url = sameSite(modelPath);
    await useModel(url.href, url.pathname.split("/").pop());
  } catch (error) {
    ui.modelInfo.textContent = `No model: ${error.message ?? error}. Choose a bundle (.tar) below.`;
    showError(error);
    document.body.dataset.state = "error";
  }
}

async function useModel(source, name) {
  ui.modelInfo.textContent = `Loading ${name}…`;
  ui.modelProgress.hidden = false;
  ui.modelProgress.removeAttribute("value");
  ui.run.disabled = true;
  document.body.dataset.state = "loading";
  try {
    const model = await state.tessera.loadMammalModel(source, ({ stage, loaded, total }) => {
      const verb = { download: "Downloading", cache: "Loading (kept from an earlier download)", read: "Reading" }[stage];
      if (verb && total) {
        ui.modelProgress.max = total;
        ui.modelProgress.value = loaded;
        ui.modelInfo.textContent = `${verb} ${name}: ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
      }
    });
    await state.model?.close().catch(() => {});
    state.model = model;
  } finally {
    ui.modelProgress.hidden = true;
  }
  const { model: m, tasks, load } = state.model.info;
  const trained = tasks.length ? `fine-tuned for ${tasks.map((t) => escape(t.title)).join(" and ")}` : "no fine-tuned tasks listed";
  ui.modelInfo.innerHTML = `<strong>${escape(name)}</strong> — T5 encoder–decoder, ${m.layers}+${m.layers} layers, ` +
    `d<sub>model</sub> ${m.dModel}, ${(m.parameters / 1e6).toFixed(1)} M parameters, ${m.vocab.toLocaleString("en-US")}-token vocabulary; ${trained}. ` +
    loadCost(load);
  setTemplates(tasks);
  ui.run.disabled = false;
  document.body.dataset.state = "ready";
}

// ---- templates, prompt and tokens ---------------------------------------------------------

/** The model's own tasks first (their prompts and readouts), then MAMMAL's formats. */
function setTemplates(tasks) {
  const own = tasks.map((task) => ({
    id: `task:${task.name}`,
    title: `${task.title} (this model's task)`,
    note: `Molecule property this model was fine-tuned for: ${task.readout.kind === "classify" ? "the class at generated position 1" : "the scalar head at position 0, de-normalised"}.`,
    prompt: task.prompt,
    inputs: task.inputs.map((name) => ({ name, label: name, example: CAFFEINE })),
    readout: task.readout,
  }));
  state.templates = [...own, ...BUILT_IN];
  ui.template.innerHTML = state.templates.map((t) => `<option value="${escape(t.id)}">${escape(t.title)}</option>`).join("");
  const wanted = params.get("template");
  selectTemplate(state.templates.find((t) => t.id === wanted) ?? state.templates[0]);
}

function selectTemplate(template) {
  state.template = template;
  ui.template.value = template.id;
  ui.templateNote.textContent = template.note;
  ui.inputs.innerHTML = template.inputs
    .map((input) => `<label>${escape(input.label)}<input data-name="${escape(input.name)}" value="${escape(input.example)}" spellcheck="false"></label>`)
    .join("");
  fillPrompt();
}

/** The template's prompt with the inputs' text in its holes. */
function fillPrompt() {
  const template = state.template;
  let prompt = template.prompt;
  for (const input of template.inputs) {
    const field = ui.inputs.querySelector(`input[data-name="${CSS.escape(input.name)}"]`);
    const text = field.value.trim();
    prompt = prompt.replaceAll(`{${input.name}}`, input.format ? input.format(text) : text);
  }
  ui.prompt.value = prompt;
  tokenize();
}

async function tokenize() {
  const job = ++state.tokenizeJob;
  if (!state.model) return;
  try {
    const encoding = await state.model.tokenize(ui.prompt.value);
    if (job !== state.tokenizeJob) return;
    clearError();
    showTokens(encoding);
  } catch (error) {
    if (job !== state.tokenizeJob) return;
    ui.tokens.innerHTML = "";
    ui.tokenSummary.textContent = "";
    showError(error);
  }
}

function showTokens(encoding) {
  const vocab = state.model.info.model.vocab;
  ui.tokens.innerHTML = encoding.tokens
    .map((token, i) => {
      const source = encoding.sources[i];
      const id = encoding.ids[i];
      const cls = token === "<UNK>" ? "token unk" : "token";
      const title = `${source} · id ${id}${id >= vocab ? " (outside this model's vocabulary)" : ""}` +
        (encoding.scalarsValid[i] ? ` · value ${encoding.scalars[i]}` : "");
      return `<span class="${cls}" data-source="${escape(source)}" style="background:${colour(source)}" title="${escape(title)}">${escape(token)}</span>`;
    })
    .join("");
  const outside = encoding.ids.filter((id) => id >= vocab).length;
  const parts = [`${encoding.tokens.length} tokens`];
  if (outside) parts.push(`${outside} outside this model's ${vocab.toLocaleString("en-US")}-token vocabulary`);
  for (const warning of encoding.warnings) parts.push(warning);
  ui.tokenSummary.textContent = parts.join(" · ");
  const used = [...new Set(encoding.sources)];
  ui.legend.innerHTML = used.map((s) => `<span style="--swatch:${colour(s)}">${escape(s)}</span>`).join("");
}

// ---- running ------------------------------------------------------------------------------

async function run() {
  clearError();
  ui.run.disabled = true;
  ui.status.textContent = "Running…";
  document.body.dataset.state = "running";
  try {
    const template = state.template;
    const out = await state.model.run(ui.prompt.value, template.readout);
    showTokens(out.encoding);
    showAnswer(out.answer, template);
    ui.answerMeta.textContent = `${(out.seconds * 1000).toFixed(0)} ms on ${backendLabel(out.backend)}`;
    noteFirstAnswer(out.seconds);
    ui.answerPanel.hidden = false;
    document.body.dataset.state = "answered";
  } catch (error) {
    showError(error);
    document.body.dataset.state = "error";
  } finally {
    ui.status.textContent = "";
    ui.run.disabled = false;
  }
}

function showAnswer(answer, template) {
  showAnswerBody(answer, template);
  if (!template.id.startsWith("task:") && template.readout.kind !== "generate") {
    ui.answer.insertAdjacentHTML("beforeend", `<p class="small muted" id="untrained">This model was not fine-tuned for this ` +
      `template's task, so the answer shows the format, not a prediction to rely on.</p>`);
  }
}

function showAnswerBody(answer, template) {
  if (answer.kind === "classes") {
    const labels = template.readout.classes.map(([label]) => label);
    const order = answer.probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
    ui.answer.innerHTML = `<p>Predicted: <strong id="predicted">${escape(labels[answer.predicted])}</strong></p><div class="bars">` +
      order
        .map(([p, i]) => `<span class="${i === answer.predicted ? "best" : ""}">${escape(labels[i])}</span>` +
          `<span class="bar"><span style="width:${(100 * p).toFixed(1)}%"></span></span><span class="p" data-class="${escape(labels[i])}">${p.toFixed(4)}</span>`)
        .join("") +
      `</div><p class="small muted">Generated: <code>${escape(answer.text)}</code></p>`;
  } else if (answer.kind === "value") {
    ui.answer.innerHTML = `<p class="value" id="value">${answer.value.toFixed(4)}${template.unit ? ` ${escape(template.unit)}` : ""}</p>` +
      `<p class="small muted">Scalar head output ${answer.raw.toFixed(4)} (normalised)</p>`;
  } else {
    ui.answer.innerHTML = `<p class="generated" id="generated">${escape(answer.text)}</p>`;
  }
}

// ---- events -------------------------------------------------------------------------------

ui.template.addEventListener("change", () => {
  const template = state.templates.find((t) => t.id === ui.template.value);
  if (template) selectTemplate(template);
});
ui.inputs.addEventListener("input", fillPrompt);
ui.prompt.addEventListener("input", tokenize);
ui.run.addEventListener("click", run);
ui.clearCache.addEventListener("click", async () => {
  try {
    const removed = await state.tessera?.clearCache();
    ui.cacheNote.textContent = removed ? "Cleared." : "Nothing was kept.";
  } catch (error) {
    showError(error);
  }
});
ui.modelFile.addEventListener("change", () => {
  const file = ui.modelFile.files?.[0];
  if (!file) return;
  clearError();
  useModel(file, file.name).catch((error) => {
    ui.modelInfo.textContent = `No model: ${error.message ?? error}`;
    showError(error);
    document.body.dataset.state = state.model ? "ready" : "error";
    ui.run.disabled = !state.model;
  });
});

start();
