// The attack game page: the board — a lattice, or a real network from graphs/ drawn at its
// nodes' positions — on a canvas, attacks by click (or arrow keys and Enter), the
// functional-fraction curve, the end scores (you, the agent, degree, greedy, ci, CoreHD, the
// optimum) and the agent playing with its heat map, and every player scored on many lattice
// boards (shared among workers). The game and the agent run in the worker (tessera.js, family
// "game"); on a network the agent is the message-passing one (models/game-agent-graph-*.tar).
import { startEngine, sameSite, escape } from "./engine.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("board-form"),
  graph: $("graph"),
  latticeOnly: document.querySelectorAll(".lattice-only"),
  size: $("size"),
  p: $("p"),
  definition: $("definition"),
  seed: $("seed"),
  newBoard: $("new-board"),
  board: $("board"),
  boardGpu: $("board-gpu"),
  tip: $("tip"),
  attribution: $("attribution"),
  wallLegend: $("wall-legend"),
  sidesLegend: $("sides-legend"),
  curve: $("curve"),
  moves: $("moves"),
  movesUnit: $("moves-unit"),
  alive: $("alive"),
  robustness: $("robustness"),
  restart: $("restart"),
  watch: $("watch"),
  heat: $("heat"),
  heatLegend: $("heat-legend"),
  status: $("status"),
  error: $("error"),
  scores: $("scores"),
  scoreRows: $("score-rows"),
  scoreNote: $("score-note"),
  agentFile: $("agent-file"),
  evaluate: $("evaluate"),
  evalForm: $("eval-form"),
  evalCount: $("eval-count"),
  evalRun: $("eval-run"),
  evalStop: $("eval-stop"),
  evalProgress: $("eval-progress"),
  evalStatus: $("eval-status"),
  evalResults: $("eval-results"),
  evalRows: $("eval-rows"),
  evalPlot: $("eval-plot"),
  evalNote: $("eval-note"),
};
// Milliseconds between the agent's moves when watching (tests set 0).
const delay = Number(params.get("delay") ?? 400);
const colours = { 0: "#dfe3ea", 1: "#2aa35a", 2: "#e3a33b", 3: "#c8323a" };
const stateNames = { 0: "empty", 1: "alive", 2: "dead", 3: "attacked" };
const sideColours = { source: "#2f6fdf", sink: "#b0369a" };
/** The real networks offered (graphs/NAME.json): the chooser's options. */
const networks = Array.from(ui.graph.options, (option) => option.value).filter(Boolean);
/**
 * The exact optimum of network and noodle is an exhaustive search: kept to networks of at most
 * this many nodes here (germany50's network optimum takes about 50 s in this tab); flow's is a
 * maximum flow, computed on any network.
 */
const searchNodes = 30;

/** How the board is drawn: `webgpu` (wgpu in the worker), `canvas` (2-D), or `auto` (WebGPU
 * where the browser has an adapter, else the 2-D canvas). */
const rendererChoice = params.get("renderer") ?? "auto";

const page = {
  tessera: null,
  /** The WebGPU board renderer (null: the 2-D canvas draws everything). */
  renderer: null,
  /** The renderer's last draw, awaited by tests: `{ items, milliseconds }`. */
  drawn: null,
  game: null,
  /** A network's node positions on the canvas (null on a lattice): see `graphLayout`. */
  layout: null,
  /** The site or node the keyboard points at (null until an arrow key is pressed). */
  cursor: null,
  /** The network node the tooltip names. */
  tipNode: null,
  /** The network played (its graphs/ file name), or "" on a lattice. */
  network: "",
  /** Graph files' texts by network name. */
  graphTexts: new Map(),
  /** Agents by bundle path (a Promise each: loading starts once). */
  agents: new Map(),
  /** The agent's curve on this board, once known (dashed on the plot). */
  agentCurve: null,
  heat: null,
  busy: false,
  /** The running evaluation's AbortController. */
  evaluating: null,
};
// For tests and the curious: the latest game state and scores, the network played (null on a
// lattice) and where its nodes are drawn.
window.tesseraGame = {
  /** `webgpu` or `canvas`: what draws the board. */
  renderer: null,
  /** The WebGPU renderer's latest draw (a Promise of `{ items, milliseconds }`), else null. */
  drawn: null,
  /** The board as drawn now, RGBA rows from the top (`{ width, height, pixels }`): the 2-D
   * canvas's, or the WebGPU renderer's frame read back (the overlays are not in it). */
  async pixels() {
    const { width, height } = ui.board;
    if (!page.renderer) {
      const data = ui.board.getContext("2d").getImageData(0, 0, width, height).data;
      return { width, height, pixels: new Uint8Array(data.buffer) };
    }
    const pixels = await page.renderer.snapshot(page.game, heatShown().heat);
    return { width, height, pixels };
  },
  state: null,
  scores: null,
  agentMoves: null,
  evaluation: null,
  graph: null,
  /**
   * Node `i`'s centre on the board: `x`, `y` in CSS pixels from the canvas's top-left corner (a
   * click position inside it), `clientX`, `clientY` in the viewport, and its drawn radius `r`
   * (CSS pixels); null on a lattice.
   */
  nodeCentre(i) {
    const point = page.layout?.points[i];
    if (!point) return null;
    const rect = ui.board.getBoundingClientRect();
    const scale = rect.width / ui.board.width;
    const [x, y] = [point.x * scale, point.y * scale];
    return { x, y, clientX: rect.left + x, clientY: rect.top + y, r: page.layout.radius * scale };
  },
};

for (const [key, input] of [["n", ui.size], ["p", ui.p], ["definition", ui.definition], ["seed", ui.seed], ["boards", ui.evalCount]]) {
  if (params.has(key)) input.value = params.get(key);
}
if (params.has("graph")) ui.graph.value = networks.includes(params.get("graph")) ? params.get("graph") : "";

function showError(error) {
  ui.error.textContent = String(error?.message ?? error);
  ui.error.hidden = false;
}

/** The agent bundle a game is scored against: the lattice agents' convolutional nets refuse
 * networks, which the message-passing graph agents play. */
const agentPath = (definition, graph) => `models/game-agent-${graph ? "graph-" : ""}${definition}.tar`;

function agentFor(definition, graph = false) {
  const path = agentPath(definition, graph);
  if (!page.agents.has(path)) {
    page.agents.set(path, page.tessera.loadGameAgent(sameSite(path)).catch((error) => {
      page.agents.delete(path);
      throw error;
    }));
  }
  return page.agents.get(path);
}

/** A network's graph file (graphs/NAME.json), fetched once. */
async function graphText(name) {
  if (!page.graphTexts.has(name)) {
    const response = await fetch(sameSite(`graphs/${name}.json`));
    if (!response.ok) throw new Error(`graphs/${name}.json: ${response.status} ${response.statusText}`);
    page.graphTexts.set(name, await response.text());
  }
  return page.graphTexts.get(name);
}

/**
 * Where a network's nodes sit on the canvas (canvas pixels): x = longitude, y = latitude with
 * north up, fitted inside a margin with one scale for both axes. Positions in degrees are drawn
 * with a degree of longitude cos(mid-latitude) as wide as one of latitude (an equirectangular
 * map), so a country keeps its shape. `radius` is a node's drawn size (smaller where nodes
 * crowd), `pick` how far from a node a click still finds it.
 */
function graphLayout(graph) {
  const { width, height } = ui.board;
  const margin = 24;
  const xs = graph.nodes.map((node) => node.x);
  const ys = graph.nodes.map((node) => node.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const degrees = x0 >= -180 && x1 <= 180 && y0 >= -90 && y1 <= 90;
  const kx = degrees ? Math.max(0.2, Math.cos((((y0 + y1) / 2) * Math.PI) / 180)) : 1;
  const w = (x1 - x0) * kx;
  const h = y1 - y0;
  const fit = Math.min(w > 0 ? (width - 2 * margin) / w : Infinity, h > 0 ? (height - 2 * margin) / h : Infinity);
  const scale = Number.isFinite(fit) ? fit : 1;
  const [ox, oy] = [(width - w * scale) / 2, (height - h * scale) / 2];
  const points = graph.nodes.map((node) => ({ x: ox + (node.x - x0) * kx * scale, y: oy + (y1 - node.y) * scale }));
  let nearest = Infinity;
  for (let a = 0; a < points.length; a++) {
    for (let b = a + 1; b < points.length; b++) {
      nearest = Math.min(nearest, Math.hypot(points[a].x - points[b].x, points[a].y - points[b].y));
    }
  }
  const radius = Math.max(4.5, Math.min(8, nearest * 0.42));
  return { points, radius, pick: Math.max(14, 2 * radius) };
}

/** Board side on the canvas, and the site under a pointer position. */
function cellSize(state) {
  return ui.board.width / state.n;
}

/** A pointer event's position in canvas pixels. */
function canvasPoint(event) {
  const rect = ui.board.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * ui.board.width) / rect.width,
    y: ((event.clientY - rect.top) * ui.board.height) / rect.height,
  };
}

/** The network's node nearest (x, y) within `within` canvas pixels, optionally only Alive. */
function nearestNode(x, y, within, sites = null) {
  let best = null;
  let bestDistance = Infinity;
  page.layout.points.forEach((point, i) => {
    if (sites && sites[i] !== 1) return;
    const distance = Math.hypot(point.x - x, point.y - y);
    if (distance <= within && distance < bestDistance) [best, bestDistance] = [i, distance];
  });
  return best;
}

/**
 * The site a click means: on a lattice the square under it; on a network the node whose circle
 * it lands in (Alive or not), else the nearest Alive node within the pick radius, else none.
 */
function siteAt(event, state) {
  const { x, y } = canvasPoint(event);
  if (page.layout) {
    return nearestNode(x, y, page.layout.radius + 1) ?? nearestNode(x, y, page.layout.pick, state.sites);
  }
  const size = cellSize(state);
  const i = Math.floor(y / size);
  const j = Math.floor(x / size);
  if (i < 0 || j < 0 || i >= state.n || j >= state.n) return null;
  return i * state.n + j;
}

/** A colour from pale yellow (few moves left: a strong move) to deep blue. */
function heatColour(t) {
  const a = [253, 231, 37];
  const b = [48, 18, 120];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** A site's or node's fill: its heat on the ramp when shown and it is Alive, else its state's colour. */
function siteFill(state, value, heat, low, high) {
  return heat && state === 1 && !Number.isNaN(value)
    ? heatColour(high > low ? (value - low) / (high - low) : 0)
    : colours[state];
}

/** The heat map shown (null when off or none) and its range over the Alive sites. */
function heatShown() {
  const heat = ui.heat.checked ? page.heat : null;
  let low = Infinity;
  let high = -Infinity;
  if (heat) {
    for (const v of heat) if (!Number.isNaN(v)) [low, high] = [Math.min(low, v), Math.max(high, v)];
  }
  ui.heatLegend.hidden = !heat;
  return { heat, low, high };
}

/** Whether to draw the keyboard's cursor: the board has focus from the keyboard. */
const cursorShown = () => page.cursor !== null && document.activeElement === ui.board && ui.board.matches(":focus-visible");

/** The base layer through WebGPU when there is a renderer (the 2-D canvas then draws only the
 * overlays); the promise is kept for tests and errors are shown. */
function drawOnGpu(heat) {
  if (!page.renderer) return false;
  page.drawn = page.renderer.draw(page.game, heat);
  window.tesseraGame.drawn = page.drawn;
  page.drawn.catch(showError);
  return true;
}

function drawBoard() {
  if (page.layout) {
    drawGraph();
    return;
  }
  const state = page.game.state;
  const ctx = ui.board.getContext("2d");
  const size = cellSize(state);
  ctx.clearRect(0, 0, ui.board.width, ui.board.height);
  const { heat, low, high } = heatShown();
  const gpu = drawOnGpu(heat);
  for (let site = 0; site < state.sites.length; site++) {
    const x = (site % state.n) * size;
    const y = Math.floor(site / state.n) * size;
    const s = state.sites[site];
    const value = heat?.[site];
    if (!gpu) {
      ctx.fillStyle = siteFill(s, value, heat, low, high);
      ctx.fillRect(x + 1, y + 1, size - 2, size - 2);
    }
    if (s === 3) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = Math.max(1, size / 12);
      ctx.beginPath();
      ctx.moveTo(x + size * 0.28, y + size * 0.28);
      ctx.lineTo(x + size * 0.72, y + size * 0.72);
      ctx.moveTo(x + size * 0.72, y + size * 0.28);
      ctx.lineTo(x + size * 0.28, y + size * 0.72);
      ctx.stroke();
    }
    if (heat && s === 1 && !Number.isNaN(value) && size >= 26) {
      ctx.fillStyle = value - low > (high - low) / 2 ? "#fff" : "#1d2430";
      ctx.font = `${Math.floor(size / 3)}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(value.toFixed(1), x + size / 2, y + size / 2);
    }
  }
  if (heat && Number.isFinite(low)) {
    // Outline the agent's choice: the lowest predicted moves left.
    const best = heat.findIndex((v, site) => v === low && state.sites[site] === 1);
    if (best >= 0) {
      ctx.strokeStyle = "#1d2430";
      ctx.lineWidth = Math.max(2, size / 10);
      ctx.strokeRect((best % state.n) * size + 1, Math.floor(best / state.n) * size + 1, size - 2, size - 2);
    }
  }
  if (cursorShown()) {
    ctx.strokeStyle = "#2f6fdf";
    ctx.lineWidth = 2;
    ctx.setLineDash([4, 3]);
    ctx.strokeRect((page.cursor % state.n) * size + 2, Math.floor(page.cursor / state.n) * size + 2, size - 4, size - 4);
    ctx.setLineDash([]);
  }
}

/** A network on the canvas: links as lines (faint and dashed once an end is attacked), nodes as
 * circles in the sites' colours or the agent's heat, flow's sides ringed. */
function drawGraph() {
  const state = page.game.state;
  const graph = page.game.graph;
  const { points, radius } = page.layout;
  const ctx = ui.board.getContext("2d");
  ctx.clearRect(0, 0, ui.board.width, ui.board.height);
  const { heat, low, high } = heatShown();
  const gpu = drawOnGpu(heat);
  const ring = (i, r, colour, width, dash = []) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.arc(points[i].x, points[i].y, r, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.setLineDash([]);
  };
  ctx.lineCap = "round";
  for (let k = 0; !gpu && k + 1 < graph.edges.length; k += 2) {
    const [a, b] = [graph.edges[k], graph.edges[k + 1]];
    const cut = state.sites[a] === 3 || state.sites[b] === 3;
    ctx.strokeStyle = cut ? "#dfe3ea" : "#9aa3b2";
    ctx.lineWidth = cut ? 1 : 1.5;
    ctx.setLineDash(cut ? [3, 3] : []);
    ctx.beginPath();
    ctx.moveTo(points[a].x, points[a].y);
    ctx.lineTo(points[b].x, points[b].y);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  if (state.definition === "flow" && !gpu) {
    for (const i of graph.source) ring(i, radius + 3, sideColours.source, 2.5);
    for (const i of graph.sink) ring(i, radius + 3, sideColours.sink, 2.5);
  }
  for (let i = 0; i < points.length; i++) {
    const s = state.sites[i];
    const value = heat?.[i];
    if (!gpu) {
      ctx.fillStyle = siteFill(s, value, heat, low, high);
      ctx.beginPath();
      ctx.arc(points[i].x, points[i].y, radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (s === 3) {
      const d = radius * 0.5;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = Math.max(1, radius / 4);
      ctx.beginPath();
      ctx.moveTo(points[i].x - d, points[i].y - d);
      ctx.lineTo(points[i].x + d, points[i].y + d);
      ctx.moveTo(points[i].x + d, points[i].y - d);
      ctx.lineTo(points[i].x - d, points[i].y + d);
      ctx.stroke();
    }
  }
  if (heat && Number.isFinite(low)) {
    // Ring the agent's choice: the lowest predicted moves left.
    const best = heat.findIndex((v, i) => v === low && state.sites[i] === 1);
    if (best >= 0) ring(best, radius + 1.5, "#1d2430", 2.5);
  }
  if (cursorShown()) ring(page.cursor, radius + 6, "#2f6fdf", 2, [4, 3]);
}

/** The tooltip over a network's node `i` (its label, state, side and heat), or none. */
function showTip(i) {
  page.tipNode = i;
  if (i === null || !page.layout) {
    ui.tip.hidden = true;
    return;
  }
  const state = page.game.state;
  const graph = page.game.graph;
  const words = [graph.nodes[i].label, stateNames[state.sites[i]]];
  if (state.definition === "flow") {
    if (graph.source.includes(i)) words.push("source");
    if (graph.sink.includes(i)) words.push("sink");
  }
  const value = ui.heat.checked ? page.heat?.[i] : undefined;
  if (value !== undefined && !Number.isNaN(value)) words.push(`${value.toFixed(1)} moves left`);
  ui.tip.textContent = `${words[0]} (${words.slice(1).join(", ")})`;
  const point = page.layout.points[i];
  const scale = ui.board.getBoundingClientRect().width / ui.board.width;
  ui.tip.style.left = `${ui.board.offsetLeft + point.x * scale}px`;
  ui.tip.style.top = `${ui.board.offsetTop + (point.y - page.layout.radius) * scale}px`;
  ui.tip.hidden = false;
}

/** The keyboard cursor's next site from an arrow key (dx, dy): on a lattice the next square;
 * on a network the nearest node that way (within 60° of it, straighter ones preferred). */
function stepCursor(state, dx, dy) {
  if (page.cursor === null) {
    const alive = state.sites.indexOf(1);
    return alive >= 0 ? alive : 0;
  }
  if (!page.layout) {
    const n = state.n;
    const [i, j] = [Math.floor(page.cursor / n), page.cursor % n];
    const [ni, nj] = [Math.min(n - 1, Math.max(0, i + dy)), Math.min(n - 1, Math.max(0, j + dx))];
    return ni * n + nj;
  }
  const from = page.layout.points[page.cursor];
  let best = page.cursor;
  let bestCost = Infinity;
  page.layout.points.forEach((point, i) => {
    const [vx, vy] = [point.x - from.x, point.y - from.y];
    const distance = Math.hypot(vx, vy);
    if (i === page.cursor || distance === 0) return;
    const cos = (vx * dx + vy * dy) / distance;
    if (cos < 0.5) return;
    const cost = distance * (1 + 2 * (1 - cos));
    if (cost < bestCost) [best, bestCost] = [i, cost];
  });
  return best;
}

function drawCurve() {
  const state = page.game.state;
  const ctx = ui.curve.getContext("2d");
  const { width, height } = ui.curve;
  const pad = { left: 34, right: 8, top: 8, bottom: 24 };
  ctx.clearRect(0, 0, width, height);
  const curves = [state.curve, page.agentCurve].filter(Boolean);
  const span = Math.max(4, ...curves.map((c) => c.length - 1));
  const x = (t) => pad.left + (t / span) * (width - pad.left - pad.right);
  const y = (f) => pad.top + (1 - f) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#c5cede";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
  ctx.fillStyle = "#5b6575";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText("1", pad.left - 4, y(1));
  ctx.fillText("0", pad.left - 4, y(0));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(`moves (0–${span})`, width / 2, height - pad.bottom + 6);
  const plot = (curve, colour, dash) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.beginPath();
    curve.forEach((f, t) => (t === 0 ? ctx.moveTo(x(t), y(f)) : ctx.lineTo(x(t), y(f))));
    ctx.stroke();
    ctx.setLineDash([]);
  };
  if (page.agentCurve) plot(page.agentCurve, "#7a4fd0", [5, 4]);
  plot(state.curve, "#2f6fdf", []);
}

function render() {
  const state = page.game.state;
  window.tesseraGame.state = state;
  ui.moves.textContent = state.moves.length;
  ui.movesUnit.textContent = state.moves.length === 1 ? "move" : "moves";
  const f = state.curve[state.curve.length - 1];
  ui.alive.textContent = `${Math.round(f * 100)} %`;
  ui.robustness.textContent = state.robustness.toFixed(3);
  drawBoard();
  drawCurve();
  if (!ui.tip.hidden) showTip(page.tipNode);
}

/** What the board is: a lattice or a network; the controls that apply to it. */
function showBoardKind(graph) {
  for (const label of ui.latticeOnly) label.hidden = graph;
  ui.evaluate.hidden = graph;
}

/** The status line when a game starts (or restarts). */
function readyMessage() {
  const state = page.game.state;
  const unit = page.layout ? "node" : "site";
  if (state.over) {
    return `Nothing works on this network under ${state.definition} before the first move, so there is nothing to attack: choose another definition or network.`;
  }
  return `Click an alive ${unit} to attack it (or focus the board, move with the arrow keys and press Enter).`;
}

function ready() {
  const over = page.game.state.over;
  ui.status.textContent = readyMessage();
  ui.watch.disabled = over;
  document.body.dataset.state = over ? "over" : "playing";
}

async function newBoard() {
  ui.error.hidden = true;
  ui.scores.hidden = true;
  ui.tip.hidden = true;
  const n = Math.round(Number(ui.size.value));
  const p = Number(ui.p.value);
  const seed = Math.round(Number(ui.seed.value));
  const definition = ui.definition.value;
  const network = ui.graph.value;
  await page.game?.close();
  page.network = network;
  page.game = null;
  page.layout = null;
  page.cursor = null;
  page.heat = null;
  page.agentCurve = null;
  window.tesseraGame.scores = null;
  window.tesseraGame.agentMoves = null;
  window.tesseraGame.graph = null;
  if (network) {
    page.game = await page.tessera.gameFromGraph(await graphText(network), definition);
    page.layout = graphLayout(page.game.graph);
  } else {
    page.game = await page.tessera.newGame({ n, p, definition, seed });
  }
  const graph = page.game.graph;
  window.tesseraGame.graph = graph;
  await page.renderer?.scene(page.layout
    ? { kind: "graph", points: page.layout.points.map(({ x, y }) => [x, y]), radius: page.layout.radius }
    : { kind: "lattice", n: page.game.state.n });
  showBoardKind(Boolean(graph));
  ui.wallLegend.hidden = Boolean(graph);
  ui.sidesLegend.hidden = !graph || definition !== "flow";
  ui.attribution.hidden = !graph;
  ui.attribution.textContent = graph
    ? `${graph.name}: ${graph.nodes.length} nodes, ${graph.edges.length / 2} links (hover a node for its name). Data: ${graph.attribution}.`
    : "";
  ui.board.setAttribute("aria-label", graph
    ? `game board: the ${graph.name} network; click an alive node, or move with the arrow keys and attack with Enter`
    : "game board: click an alive site, or move with the arrow keys and attack with Enter");
  ui.agentFile.textContent = agentPath(definition, Boolean(graph));
  ready();
  render();
  // Start fetching the agent now so the end of the game does not wait for it.
  agentFor(definition, Boolean(graph)).catch(() => {});
}

/** Score-table labels of the players. */
const labels = {
  agent: "agent (deep Q-network)",
  degree: "highest degree",
  greedy: "greedy (kills most now)",
  ci: "collective influence",
  corehd: "CoreHD",
  random: "random",
  optimal: "exact optimum",
};

/** What the score note says about the agent's training. */
function agentTraining(info) {
  const sides = [info.size, ...(info.mixed_sizes ?? [])].map((n) => `${n}×${n}`);
  const lattices = `${sides.join(" and ")} boards at p = ${info.p}`;
  if (info.architecture === "message-passing" && info.graphs) {
    const g = info.graphs;
    return `The agent is a message-passing Q-network, trained on ${lattices} and on random graphs of ${g.min_nodes}–${g.max_nodes} nodes (mean degree ${g.min_degree}–${g.max_degree}; ${info.steps} steps).`;
  }
  return `The agent was trained on ${lattices} (${info.steps} steps).`;
}

/** The score table: `who` played this game (you or the agent); then the agent and baselines. */
async function showScores(who) {
  const state = page.game.state;
  const graph = state.kind === "graph";
  const rows = [[who, state.moves.length]];
  let agentNote = "";
  try {
    const agent = await agentFor(state.definition, graph);
    const played = await agent.play(page.game);
    window.tesseraGame.agentMoves = Array.from(played.moves);
    page.agentCurve = played.curve;
    if (who !== "agent") rows.push([labels.agent, played.moves.length]);
    agentNote = agentTraining(agent.info);
  } catch (error) {
    agentNote = `No agent: ${error.message ?? error}.`;
  }
  const notes = [];
  for (const name of ["degree", "greedy", "ci", "corehd", "optimal"]) {
    if (name === "optimal" && graph && state.definition !== "flow" && state.n > searchNodes) {
      notes.push(`The exact optimum of ${state.definition} is an exhaustive search, done here on networks of at most ${searchNodes} nodes; this one has ${state.n} (natively: tessera game eval --graph www/graphs/${page.network}.json --definition ${state.definition} --policy optimal).`);
      continue;
    }
    const result = await page.game.baseline(name);
    if (result.moves !== null) rows.push([labels[name], result.moves]);
    else if (graph) notes.push(`No exact optimum: ${result.reason}.`);
    else notes.push(`The exact optimum is computed for flow on any board and for network and noodle on boards of at most 64 sites (8×8); this one is ${state.n}×${state.n}.`);
  }
  window.tesseraGame.scores = Object.fromEntries(rows);
  ui.scoreRows.innerHTML = rows
    .map(([player, moves]) => `<tr${player === who ? ' class="you"' : ""}><td>${escape(player)}</td><td>${moves}</td></tr>`)
    .join("");
  ui.scoreNote.textContent = [agentNote, ...notes].join(" ");
  ui.scores.hidden = false;
  drawCurve();
}

async function finish(who) {
  ui.status.textContent = who === "you"
    ? `Done in ${page.game.state.moves.length} moves. Scores below; “Watch the agent” replays the board.`
    : `The agent needed ${page.game.state.moves.length} moves.`;
  await showScores(who);
  document.body.dataset.state = "over";
}

function attack(event) {
  if (!page.game) return;
  return attackSite(siteAt(event, page.game.state));
}

/** Attacks `site` if the game is on and it is Alive; anything else does nothing. */
async function attackSite(site) {
  if (page.busy || !page.game || page.game.state.over) return;
  if (site === null || page.game.state.sites[site] !== 1) return;
  page.busy = true;
  try {
    await page.game.attack(site);
    render();
    if (page.game.state.over) await finish("you");
  } catch (error) {
    showError(error);
  } finally {
    page.busy = false;
  }
}

async function watch() {
  if (page.busy) return;
  page.busy = true;
  ui.watch.disabled = true;
  ui.scores.hidden = true;
  document.body.dataset.state = "watching";
  try {
    const agent = await agentFor(page.game.state.definition, page.game.state.kind === "graph");
    page.agentCurve = null;
    await page.game.reset();
    const unit = page.layout ? "node" : "site";
    ui.status.textContent = `The agent plays: the heat map is its predicted number of moves left after attacking each ${unit} (lower is better); it takes the lowest.`;
    for (;;) {
      const { site, movesLeft } = await agent.move(page.game);
      page.heat = movesLeft;
      render();
      if (site === null) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      await page.game.attack(site);
    }
    page.heat = null;
    render();
    await finish("agent");
  } catch (error) {
    showError(error);
    document.body.dataset.state = "playing";
  } finally {
    page.busy = false;
    ui.watch.disabled = false;
  }
}

/** Players of an evaluation, in table order, with their labels. */
const evalPlayers = ["agent", "degree", "greedy", "ci", "corehd", "random", "optimal"].map((name) => [name, labels[name]]);

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const sd = (values) => {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
};

/** Horizontal bars: each player's mean moves, with a whisker of ± one standard deviation. */
function drawEvaluation(rows) {
  const ctx = ui.evalPlot.getContext("2d");
  const { width, height } = ui.evalPlot;
  const pad = { left: 150, right: 16, top: 8, bottom: 24 };
  ctx.clearRect(0, 0, width, height);
  const top = Math.max(1, ...rows.map((r) => r.mean + r.sd));
  const x = (v) => pad.left + (v / top) * (width - pad.left - pad.right);
  const band = (height - pad.top - pad.bottom) / rows.length;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  rows.forEach((row, i) => {
    const y = pad.top + i * band;
    ctx.fillStyle = row.name === "agent" ? "#7a4fd0" : "#2f6fdf";
    ctx.fillRect(pad.left, y + band * 0.2, x(row.mean) - pad.left, band * 0.6);
    ctx.strokeStyle = "#1d2430";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x(row.mean - row.sd), y + band / 2);
    ctx.lineTo(x(row.mean + row.sd), y + band / 2);
    ctx.stroke();
    ctx.fillStyle = "#1d2430";
    ctx.textAlign = "right";
    ctx.fillText(row.label, pad.left - 6, y + band / 2);
  });
  ctx.fillStyle = "#5b6575";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(`mean moves to finish (0–${top.toFixed(0)}; whiskers ± sd)`, (pad.left + width - pad.right) / 2, height - pad.bottom + 6);
}

/** Every player on `Boards` boards drawn from the board settings, shared among workers. */
async function evaluate() {
  if (page.evaluating) return;
  const n = Math.round(Number(ui.size.value));
  const p = Number(ui.p.value);
  const seed = Math.round(Number(ui.seed.value));
  const definition = ui.definition.value;
  const count = Math.round(Number(ui.evalCount.value));
  const controller = new AbortController();
  page.evaluating = controller;
  ui.error.hidden = true;
  ui.evalRun.disabled = true;
  ui.evalStop.hidden = false;
  ui.evalProgress.hidden = false;
  ui.evalProgress.value = 0;
  ui.evalStatus.textContent = "Starting…";
  window.tesseraGame.evaluation = null;
  try {
    let agent = null;
    let agentNote = "";
    try {
      agent = await agentFor(definition, false);
    } catch (error) {
      agentNote = ` No agent: ${error.message ?? error}.`;
    }
    const players = evalPlayers.map(([name]) => name).filter((name) => name !== "agent" || agent);
    const result = await page.tessera.scoreBoards({
      n, p, definition, seed, count, players, agent,
      workers: params.get("workers") ?? "auto",
      signal: controller.signal,
      onProgress: (progress) => {
        ui.evalProgress.value = progress.total ? progress.loaded / progress.total : 0;
        const rate = progress.seconds > 0 ? ` · ${(progress.loaded / progress.seconds).toFixed(1)} boards/s` : "";
        ui.evalStatus.textContent = `${progress.loaded} / ${progress.total} boards · ${progress.workers} worker${progress.workers === 1 ? "" : "s"}${rate}`;
      },
    });
    window.tesseraGame.evaluation = result;
    const rows = players
      .filter((name) => result.scores[name].moves)
      .map((name) => ({
        name,
        label: labels[name],
        mean: mean(result.scores[name].moves),
        sd: sd(result.scores[name].moves),
        r: mean(result.scores[name].robustness),
      }));
    ui.evalRows.innerHTML = rows
      .map((row) => `<tr><td>${escape(row.label)}</td><td>${row.mean.toFixed(2)} ± ${row.sd.toFixed(2)}</td><td>${row.r.toFixed(3)}</td></tr>`)
      .join("");
    drawEvaluation(rows);
    ui.evalResults.hidden = false;
    const missing = players.filter((name) => !result.scores[name].moves).map((name) => `${labels[name]}: ${result.scores[name].reason}`);
    ui.evalStatus.textContent = `${count} ${n}×${n} boards in ${result.seconds.toFixed(1)} s on ${result.workers} worker${result.workers === 1 ? "" : "s"}.`;
    ui.evalNote.innerHTML = [
      `The same figures natively: <code>tessera game boards --size ${n} --p ${p} --count ${count} --seed ${seed} --out boards.jsonl</code> then <code>tessera game eval --boards boards.jsonl --definition ${escape(definition)} --policy ${players.join(",")}</code>.`,
      ...missing.map((text) => escape(text) + "."),
    ].join(" ") + escape(agentNote);
  } catch (error) {
    if (controller.signal.aborted) {
      ui.evalStatus.textContent = "Stopped.";
    } else {
      ui.evalStatus.textContent = "";
      showError(error);
    }
  } finally {
    page.evaluating = null;
    ui.evalRun.disabled = false;
    ui.evalStop.hidden = true;
    ui.evalProgress.hidden = true;
  }
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!page.busy) newBoard().catch(showError);
});
ui.board.addEventListener("click", attack);
ui.restart.addEventListener("click", async () => {
  if (page.busy || !page.game) return;
  page.heat = null;
  page.agentCurve = null;
  ui.scores.hidden = true;
  await page.game.reset();
  ready();
  render();
});
ui.watch.addEventListener("click", watch);
ui.evalForm.addEventListener("submit", (event) => {
  event.preventDefault();
  evaluate();
});
ui.evalStop.addEventListener("click", () => page.evaluating?.abort());
ui.heat.addEventListener("change", () => page.game && drawBoard());
ui.graph.addEventListener("change", () => {
  for (const label of ui.latticeOnly) label.hidden = Boolean(ui.graph.value);
});
ui.board.addEventListener("mousemove", (event) => {
  const state = page.game?.state;
  const site = state ? siteAt(event, state) : null;
  ui.board.style.cursor = site !== null && state?.sites[site] === 1 && !state.over ? "pointer" : "default";
  if (page.layout) {
    const { x, y } = canvasPoint(event);
    showTip(nearestNode(x, y, page.layout.radius + 1) ?? nearestNode(x, y, page.layout.pick));
  }
});
ui.board.addEventListener("mouseleave", () => {
  ui.tip.hidden = true;
});
// The keyboard: arrows move a cursor over the sites (on a network, to the nearest node that
// way), Enter or Space attacks the one under it.
const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
ui.board.addEventListener("keydown", (event) => {
  const state = page.game?.state;
  if (!state) return;
  if (event.key in arrows) {
    event.preventDefault();
    page.cursor = stepCursor(state, ...arrows[event.key]);
    drawBoard();
    showTip(page.layout ? page.cursor : null);
  } else if ((event.key === "Enter" || event.key === " ") && page.cursor !== null) {
    event.preventDefault();
    attackSite(page.cursor);
  }
});
for (const type of ["focus", "blur"]) {
  ui.board.addEventListener(type, () => {
    if (type === "blur") ui.tip.hidden = true;
    if (page.game) drawBoard();
  });
}

/** The WebGPU renderer unless the 2-D canvas was asked for or there is no adapter (`?renderer=
 * webgpu` then says why); the page works the same either way. */
async function startRenderer() {
  if (rendererChoice !== "canvas" && "gpu" in navigator) {
    try {
      page.renderer = await page.tessera.boardRenderer(ui.boardGpu);
      ui.boardGpu.hidden = false;
    } catch (error) {
      if (rendererChoice === "webgpu") showError(`renderer: WebGPU: ${error.message ?? error}`);
    }
  } else if (rendererChoice === "webgpu") {
    showError("renderer: WebGPU: this browser has no navigator.gpu; drawing on the 2-D canvas");
  }
  const kind = page.renderer ? "webgpu" : "canvas";
  document.body.dataset.renderer = kind;
  window.tesseraGame.renderer = kind;
}

try {
  page.tessera = await startEngine({ backend: "cpu", family: "game" });
  await startRenderer();
  await newBoard();
  if (params.has("graph") && !networks.includes(params.get("graph"))) {
    showError(`graph: unknown network "${params.get("graph")}" (one of ${networks.join(", ")}); playing a lattice`);
  }
  for (const button of [ui.newBoard, ui.restart, ui.evalRun]) button.disabled = false;
} catch (error) {
  document.body.dataset.state = "error";
  showError(error);
}
