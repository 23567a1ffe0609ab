// The attack game page: the board on a canvas, attacks by click, the functional-fraction curve,
// the end scores (you, the agent, degree, greedy, the optimum) and the agent playing with its
// heat map, and every player scored on many boards (shared among workers). The game and the
// agent run in the worker (tessera.js, family "game").
import { startEngine, sameSite, escape } from "./engine.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("board-form"),
  size: $("size"),
  p: $("p"),
  definition: $("definition"),
  seed: $("seed"),
  newBoard: $("new-board"),
  board: $("board"),
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

const page = {
  tessera: null,
  game: null,
  /** Agents by definition (a Promise each: loading starts once). */
  agents: new Map(),
  /** The agent's curve on this board, once known (dashed on the plot). */
  agentCurve: null,
  heat: null,
  busy: false,
  /** The running evaluation's AbortController. */
  evaluating: null,
};
// For tests and the curious: the latest game state and scores.
window.tesseraGame = { state: null, scores: null, agentMoves: null, evaluation: null };

for (const [key, input] of [["n", ui.size], ["p", ui.p], ["definition", ui.definition], ["seed", ui.seed], ["boards", ui.evalCount]]) {
  if (params.has(key)) input.value = params.get(key);
}

function showError(error) {
  ui.error.textContent = String(error?.message ?? error);
  ui.error.hidden = false;
}

function agentFor(definition) {
  if (!page.agents.has(definition)) {
    const url = sameSite(`models/game-agent-${definition}.tar`);
    page.agents.set(definition, page.tessera.loadGameAgent(url).catch((error) => {
      page.agents.delete(definition);
      throw error;
    }));
  }
  return page.agents.get(definition);
}

/** Board side on the canvas, and the site under a pointer position. */
function cellSize(state) {
  return ui.board.width / state.n;
}

function siteAt(event, state) {
  const rect = ui.board.getBoundingClientRect();
  const scale = ui.board.width / rect.width;
  const x = (event.clientX - rect.left) * scale;
  const y = (event.clientY - rect.top) * scale;
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

function drawBoard() {
  const state = page.game.state;
  const ctx = ui.board.getContext("2d");
  const size = cellSize(state);
  ctx.clearRect(0, 0, ui.board.width, ui.board.height);
  const heat = ui.heat.checked ? page.heat : null;
  let low = Infinity;
  let high = -Infinity;
  if (heat) {
    for (const v of heat) if (!Number.isNaN(v)) [low, high] = [Math.min(low, v), Math.max(high, v)];
  }
  ui.heatLegend.hidden = !heat;
  for (let site = 0; site < state.sites.length; site++) {
    const x = (site % state.n) * size;
    const y = Math.floor(site / state.n) * size;
    const s = state.sites[site];
    const value = heat?.[site];
    ctx.fillStyle = heat && s === 1 && !Number.isNaN(value)
      ? heatColour(high > low ? (value - low) / (high - low) : 0)
      : colours[s];
    ctx.fillRect(x + 1, y + 1, size - 2, size - 2);
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
}

async function newBoard() {
  ui.error.hidden = true;
  ui.scores.hidden = true;
  const n = Math.round(Number(ui.size.value));
  const p = Number(ui.p.value);
  const seed = Math.round(Number(ui.seed.value));
  const definition = ui.definition.value;
  await page.game?.close();
  page.game = null;
  page.heat = null;
  page.agentCurve = null;
  window.tesseraGame.scores = null;
  window.tesseraGame.agentMoves = null;
  page.game = await page.tessera.newGame({ n, p, definition, seed });
  ui.agentFile.textContent = `models/game-agent-${definition}.tar`;
  ui.status.textContent = "Click an alive site to attack it.";
  document.body.dataset.state = "playing";
  render();
}

/** The score table: `who` played this game (you or the agent); then the agent and baselines. */
async function showScores(who) {
  const state = page.game.state;
  const rows = [[who, state.moves.length]];
  let agentNote = "";
  try {
    const agent = await agentFor(state.definition);
    const played = await agent.play(page.game);
    window.tesseraGame.agentMoves = Array.from(played.moves);
    page.agentCurve = played.curve;
    if (who !== "agent") rows.push(["agent (deep Q-network)", played.moves.length]);
    const info = agent.info;
    agentNote = `The agent was trained on ${info.size}×${info.size} boards at p = ${info.p} (${info.steps} steps).`;
  } catch (error) {
    agentNote = `No agent: ${error.message ?? error}.`;
  }
  const names = { degree: "highest degree", greedy: "greedy (kills most now)", optimal: "exact optimum" };
  const notes = [];
  for (const name of ["degree", "greedy", "optimal"]) {
    const result = await page.game.baseline(name);
    if (result.moves === null) {
      notes.push(`The exact optimum is computed for flow on any board and for network and noodle on boards of at most 64 sites (8×8); this one is ${state.n}×${state.n}.`);
    }
    else rows.push([names[name], result.moves]);
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

async function attack(event) {
  if (page.busy || !page.game || page.game.state.over) return;
  const site = siteAt(event, page.game.state);
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
    const agent = await agentFor(page.game.state.definition);
    page.agentCurve = null;
    await page.game.reset();
    ui.status.textContent = "The agent plays: the heat map is its predicted number of moves left after attacking each site (lower is better); it takes the lowest.";
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
const evalPlayers = [
  ["agent", "agent (deep Q-network)"],
  ["degree", "highest degree"],
  ["greedy", "greedy (kills most now)"],
  ["ci", "collective influence"],
  ["corehd", "CoreHD"],
  ["random", "random"],
  ["optimal", "exact optimum"],
];

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
      agent = await agentFor(definition);
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
    const labels = Object.fromEntries(evalPlayers);
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
  document.body.dataset.state = "playing";
  ui.status.textContent = "Click an alive site to attack it.";
  render();
});
ui.watch.addEventListener("click", watch);
ui.evalForm.addEventListener("submit", (event) => {
  event.preventDefault();
  evaluate();
});
ui.evalStop.addEventListener("click", () => page.evaluating?.abort());
ui.heat.addEventListener("change", () => page.game && drawBoard());
ui.board.addEventListener("mousemove", (event) => {
  const state = page.game?.state;
  const site = state && siteAt(event, state);
  ui.board.style.cursor = site !== null && state?.sites[site] === 1 && !state.over ? "pointer" : "default";
});

try {
  page.tessera = await startEngine({ backend: "cpu", family: "game" });
  await newBoard();
  for (const button of [ui.newBoard, ui.restart, ui.watch, ui.evalRun]) button.disabled = false;
  // Start fetching the agent now so the end of the game does not wait for it.
  agentFor(ui.definition.value).catch(() => {});
} catch (error) {
  document.body.dataset.state = "error";
  showError(error);
}
