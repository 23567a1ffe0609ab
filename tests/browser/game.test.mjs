// The attack game page (www/game.html) as a user plays it, with the shipped agents
// (www/models/game-agent-*.tar):
// - a game played by clicks: the page draws the board `tessera game boards` draws for the same
//   n, p and seed, accepts clicks only on Alive sites, and clicking `degree`'s moves (from
//   `tessera game eval --moves`) ends the game in exactly `degree`'s number of moves, with the
//   score table showing that, degree's and the optimum's scores as the CLI computes them;
// - "Watch the agent": the agent's moves in the page equal `tessera game eval --policy agent`'s
//   on the same board and bundle, for two definitions;
// - "Score on many boards" on three workers: every player's moves on every board, and its mean
//   R, equal `tessera game eval`'s on the file `tessera game boards` draws from the same settings;
//   "Stop" ends it; `scoreBoards` refuses bad counts, sides, seeds and players by name;
// - a real network chosen by `?graph=` (germany50 under network and flow, nobel-eu under
//   network): drawn north up with its attribution; clicks on the drawn nodes of `degree`'s moves
//   (from `tessera game eval --graph --moves`) end the game in degree's moves with every score
//   as the CLI computes it (the optimum where the page computes it), clicks away from an Alive
//   node do nothing, and "Watch the agent" (the graph agent) moves as the CLI's `agent` does on
//   the same graph;
// - no request leaves the site.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, out, recordedPage, repo, serveRepo, tessera } from "./support.mjs";

const requireWebGpu = process.env.TESSERA_REQUIRE_WEBGPU === "1";

let server, browser;

before(async () => {
  server = await serveRepo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openGame(query) {
  const { page, logs, requests } = await recordedPage(browser);
  await page.goto(`${server.url}/www/game.html?delay=0&${query}`);
  await page.waitForFunction(() => document.body.dataset.state !== "starting", null, { timeout: 60_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  assert.equal(state, "playing", `${await page.textContent("#error")}\n${logs.join("\n")}`);
  return { page, logs, requests };
}

/** `tessera game eval --json --moves` on the page's board: rows by policy name. */
function nativeEval(boardLine, definition, policies) {
  const boards = join(out, `game-${definition}.jsonl`);
  writeFileSync(boards, `${boardLine}\n`);
  const text = execFileSync(
    tessera,
    ["game", "eval", "--boards", boards, "--definition", definition, "--policy", policies, "--json", "--moves"],
    { encoding: "utf8" },
  );
  return Object.fromEntries(JSON.parse(text).map((row) => [row.policy, row]));
}

/** Clicks the centre of `site` on the board canvas. */
async function clickSite(page, site, n) {
  const board = page.locator("#board");
  const box = await board.boundingBox();
  const size = box.width / n;
  await board.click({ position: { x: (site % n) * size + size / 2, y: Math.floor(site / n) * size + size / 2 } });
}

/** `tessera game eval --graph www/graphs/NAME.json --json --moves`: rows by policy name. */
function nativeGraphEval(name, definition, policies) {
  const text = execFileSync(
    tessera,
    ["game", "eval", "--graph", join(repo, `www/graphs/${name}.json`), "--definition", definition, "--policy", policies, "--json", "--moves"],
    { encoding: "utf8" },
  );
  return Object.fromEntries(JSON.parse(text).map((row) => [row.policy, row]));
}

/** Clicks node `i` of the network on the board where the page draws it. */
async function clickNode(page, i) {
  const centre = await page.evaluate((i) => window.tesseraGame.nodeCentre(i), i);
  await page.locator("#board").click({ position: { x: centre.x, y: centre.y } });
}

/** The colour drawn inside node `i`'s circle (half way down from its centre, clear of an
 * attacked node's cross), as [r, g, b]. */
const nodeColour = (page, i) => page.evaluate((i) => {
  const canvas = document.getElementById("board");
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  const { x, y, r } = window.tesseraGame.nodeCentre(i);
  const at = [Math.round(x * scale), Math.round((y + r / 2) * scale)];
  return Array.from(canvas.getContext("2d").getImageData(at[0], at[1], 1, 1).data.slice(0, 3));
}, i);

const gameState = (page) => page.evaluate(() => {
  const s = window.tesseraGame.state;
  return { n: s.n, sites: Array.from(s.sites), moves: Array.from(s.moves), over: s.over, boardLine: s.boardLine };
});

describe("game page", () => {
  test("a game by clicks scores what the CLI computes for the same moves", async () => {
    const { page, logs, requests } = await openGame("n=8&p=0.8&definition=flow&seed=3");
    const start = await gameState(page);
    // The board is the one the CLI draws from the same seed.
    const file = join(out, "game-seed3.jsonl");
    execFileSync(tessera, ["game", "boards", "--size", "8", "--p", "0.8", "--count", "1", "--seed", "3", "--out", file]);
    assert.equal(start.boardLine, readFileSync(file, "utf8").trim());
    const native = nativeEval(start.boardLine, "flow", "degree,optimal");
    const degree = native.degree.per_board_moves[0];

    // A site that is not Alive does nothing.
    const notAlive = start.sites.findIndex((s) => s !== 1);
    if (notAlive >= 0) {
      await clickSite(page, notAlive, start.n);
      assert.deepEqual((await gameState(page)).moves, []);
    }
    for (const [k, site] of degree.entries()) {
      await clickSite(page, site, start.n);
      await page.waitForFunction((k) => window.tesseraGame.state.moves.length === k + 1, k);
    }
    await page.waitForFunction(() => document.body.dataset.state === "over", null, { timeout: 60_000 });
    const end = await gameState(page);
    assert.equal(end.over, true);
    assert.deepEqual(end.moves, degree);
    assert.equal(Number(await page.textContent("#moves")), native.degree.per_board_steps[0]);
    const scores = await page.evaluate(() => window.tesseraGame.scores);
    assert.equal(scores.you, native.degree.per_board_steps[0]);
    assert.equal(scores["highest degree"], native.degree.per_board_steps[0]);
    assert.equal(scores["exact optimum"], native.optimal.per_board_steps[0]);
    assert.ok(scores["agent (deep Q-network)"] >= scores["exact optimum"]);
    assert.ok(await page.isVisible("#scores"));
    for (const url of requests) assert.ok(url.startsWith(server.url), `request left the site: ${url}`);
    assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
    await page.close();
  });

  test("scores on many boards, shared among workers, equal the native CLI's", async () => {
    const count = 14;
    const { page, logs, requests } = await openGame(`n=9&p=0.8&definition=flow&seed=11&boards=${count}&workers=3`);
    await page.click("#eval-run");
    await page.waitForFunction(() => window.tesseraGame.evaluation || !document.getElementById("error").hidden, null, { timeout: 180_000 });
    const result = await page.evaluate(() => window.tesseraGame.evaluation);
    assert.ok(result, `${await page.textContent("#error")}\n${logs.join("\n")}`);
    assert.equal(result.workers, 3, "three workers scored to the end");
    assert.match(await page.textContent("#eval-status"), new RegExp(`^${count} 9×9 boards in .* on 3 workers\\.$`));

    const boards = join(out, "game-eval-flow.jsonl");
    execFileSync(tessera, ["game", "boards", "--size", "9", "--p", "0.8", "--count", String(count), "--seed", "11", "--out", boards]);
    const players = ["agent", "degree", "greedy", "ci", "corehd", "random", "optimal"];
    const text = execFileSync(
      tessera,
      ["game", "eval", "--boards", boards, "--definition", "flow", "--policy", players.join(","), "--json"],
      { encoding: "utf8" },
    );
    const native = Object.fromEntries(JSON.parse(text).map((row) => [row.policy, row]));
    assert.deepEqual(Object.keys(result.scores), players);
    for (const name of players) {
      const scores = result.scores[name];
      assert.deepEqual(scores.moves, native[name].per_board_steps, `${name}'s moves per board`);
      const meanR = scores.robustness.reduce((a, b) => a + b, 0) / count;
      assert.ok(Math.abs(meanR - native[name].mean_auc) < 1e-9, `${name}: mean R ${meanR} vs ${native[name].mean_auc}`);
    }
    // The table shows each player's mean moves.
    const rows = await page.$$eval("#eval-rows tr", (trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
    assert.equal(rows.length, players.length);
    assert.equal(rows[1][0], "highest degree");
    assert.equal(rows[1][1].split(" ± ")[0], native.degree.mean_steps.toFixed(2));
    for (const url of requests) assert.ok(url.startsWith(server.url), `request left the site: ${url}`);
    assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
    await page.close();
  });

  test("an evaluation stops when asked, between runs of boards", async () => {
    const { page, logs } = await openGame("n=16&p=0.8&definition=network&seed=2&boards=3000&workers=2");
    await page.click("#eval-run");
    await page.waitForFunction(() => / \/ 3000 boards · 2 workers/.test(document.getElementById("eval-status").textContent), null, { timeout: 60_000 });
    await page.click("#eval-stop");
    await page.waitForFunction(() => document.getElementById("eval-status").textContent === "Stopped.", null, { timeout: 60_000 });
    assert.ok(await page.isHidden("#error"), await page.textContent("#error"));
    assert.equal(await page.evaluate(() => window.tesseraGame.evaluation), null);
    assert.ok(await page.isEnabled("#eval-run"));
    assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
    await page.close();
  });

  test("a real network plays in the tab as `tessera game eval --graph` plays it", async () => {
    // flow on germany50 (its optimum by max flow), network on nobel-eu (exhaustive search, kept
    // to a graph it ends quickly on).
    const cases = [
      { name: "germany50", definition: "flow", nodes: 50, edges: 88, first: { id: "0", label: "Aachen", x: 6.04, y: 50.76 }, credit: /SNDlib/ },
      { name: "nobel-eu", definition: "network", nodes: 28, edges: 41, first: { id: "0", label: "Amsterdam", x: 4.51, y: 52.2 }, credit: /SNDlib/ },
    ];
    for (const c of cases) {
      c.want = JSON.parse(execFileSync(tessera, ["game", "eval", "--graph", join(repo, `www/graphs/${c.name}.json`),
        "--definition", c.definition, "--policy", "degree,ci,optimal", "--json", "--moves"], { encoding: "utf8" }));
    }
    const { page } = await openGame("n=6&p=0.8&definition=network&seed=1");
    const got = await page.evaluate(async (cases) => {
      const { Tessera } = await import("./pkg/tessera.js");
      const tessera = await Tessera.create({ backend: "cpu", family: "game" });
      const out = [];
      for (const c of cases) {
        const text = await (await fetch(`./graphs/${c.name}.json`)).text();
        const game = await tessera.gameFromGraph(text, c.definition);
        const baselines = {};
        for (const name of ["degree", "ci", "optimal"]) baselines[name] = (await game.baseline(name)).moves;
        // degree's moves by click: the game ends on the last one, with the CLI's R.
        let state = game.state;
        for (const site of c.want[0].per_board_moves[0]) state = await game.attack(site);
        const g = game.graph;
        out.push({ baselines, over: state.over, robustness: state.robustness, kind: state.kind, n: state.n,
          nodes: g.nodes.length, edges: g.edges.length / 2, sides: [g.source.length, g.sink.length],
          first: g.nodes[0], attribution: g.attribution });
      }
      const bad = await tessera.gameFromGraph('{"name":"g","attribution":"x","nodes":[{"id":"a","x":0}],"edges":[]}', "network")
        .then(() => "played", (e) => e.message);
      tessera.terminate();
      return { out, bad };
    }, cases);
    cases.forEach((c, i) => {
      const [rows, g] = [c.want, got.out[i]];
      const steps = (row) => row.per_board_steps[0];
      assert.deepEqual(g.baselines, { degree: steps(rows[0]), ci: steps(rows[1]), optimal: steps(rows[2]) }, c.name);
      assert.equal(g.over, true, c.name);
      assert.ok(Math.abs(g.robustness - rows[0].mean_auc) < 1e-12, `${c.name}: ${g.robustness} vs ${rows[0].mean_auc}`);
      assert.deepEqual([g.kind, g.n, g.nodes, g.edges, g.sides], ["graph", c.nodes, c.nodes, c.edges, [3, 3]], c.name);
      assert.deepEqual(g.first, c.first, c.name);
      assert.match(g.attribution, c.credit, c.name);
    });
    assert.match(got.bad, /^graph: nodes\[0\]: missing field `y`/);
    await page.close();
  });

  // flow's optimum is a maximum flow; network's an exhaustive search, which the page leaves to
  // the CLI on germany50's 50 nodes and computes on nobel-eu's 28. `north`: a city north of
  // another, `west`: one west of another. Each renderer plays: the 2-D canvas, and wgpu on
  // WebGPU (its pixels are checked in the renderer's own test below).
  const networkCases = [
    { name: "germany50", definition: "network", renderer: "canvas", optimum: false, north: ["Kiel", "Muenchen"], west: ["Aachen", "Dresden"] },
    { name: "germany50", definition: "network", renderer: "webgpu", optimum: false, north: ["Kiel", "Muenchen"], west: ["Aachen", "Dresden"] },
    { name: "germany50", definition: "flow", renderer: "webgpu", optimum: true, north: ["Kiel", "Muenchen"], west: ["Aachen", "Dresden"] },
    { name: "nobel-eu", definition: "network", renderer: "canvas", optimum: true, north: ["Oslo", "Athens"], west: ["Dublin", "Warsaw"] },
  ];
  for (const { name, definition, renderer, optimum, north, west } of networkCases) {
    test(`${name} under ${definition} on the page (${renderer}) plays as \`tessera game eval --graph\` plays it`, async (t) => {
      const policies = ["degree", "greedy", "ci", "corehd", "agent", ...(optimum ? ["optimal"] : [])];
      const native = nativeGraphEval(name, definition, policies.join(","));
      const { page, logs, requests } = await openGame(`graph=${name}&definition=${definition}&renderer=${renderer}`);
      const drawnBy = await page.evaluate(() => document.body.dataset.renderer);
      if (drawnBy !== renderer && !requireWebGpu) {
        t.skip(`no WebGPU adapter in this browser: ${await page.textContent("#error")}`);
        return;
      }
      assert.equal(drawnBy, renderer, await page.textContent("#error"));
      const gpu = renderer === "webgpu";
      // Through WebGPU every frame draws every node, without a WebGPU error.
      const drawn = async () => gpu && assert.equal((await page.evaluate(() => window.tesseraGame.drawn)).items, file.nodes.length);
      const start = await gameState(page);
      // The page plays the shipped graph file, and draws it with its attribution, north up, the
      // lattice's settings and the many-boards score (lattices only) out of the way.
      const file = JSON.parse(readFileSync(join(repo, `www/graphs/${name}.json`), "utf8"));
      await drawn();
      assert.deepEqual(JSON.parse(start.boardLine), file);
      assert.equal(start.n, file.nodes.length);
      const graph = await page.evaluate(() => window.tesseraGame.graph);
      assert.deepEqual(graph.nodes.map((node) => node.label), file.nodes.map((node) => node.label));
      assert.match(await page.textContent("#attribution"), new RegExp(`^${name}: ${file.nodes.length} nodes, ${file.edges.length} links .*SNDlib .*Orlowski`));
      assert.ok(await page.isVisible("#attribution"));
      assert.ok(await page.isHidden("#size") && await page.isHidden("#seed") && await page.isHidden("#evaluate"));
      assert.equal(await page.isVisible("#sides-legend"), definition === "flow");
      const at = (label) => page.evaluate((i) => window.tesseraGame.nodeCentre(i), file.nodes.findIndex((node) => node.label === label));
      const [n0, n1, w0, w1] = await Promise.all([...north, ...west].map(at));
      assert.ok(n0.y < n1.y, "north is up");
      assert.ok(w0.x < w1.x, "west is left");

      const degree = native.degree.per_board_moves[0];
      if (!gpu) assert.deepEqual(await nodeColour(page, degree[0]), [0x2a, 0xa3, 0x5a], "an alive node is drawn green");
      // A click away from every node does nothing.
      await page.locator("#board").click({ position: { x: 3, y: 3 } });
      for (const [k, site] of degree.entries()) {
        await clickNode(page, site);
        await page.waitForFunction((k) => window.tesseraGame.state.moves.length === k + 1, k);
        // Nor does a click on the node just attacked (its circle is hit, and it is not Alive).
        if (k === 0) {
          await clickNode(page, site);
          if (!gpu) assert.deepEqual(await nodeColour(page, site), [0xc8, 0x32, 0x3a], "an attacked node is drawn red");
        }
        await drawn();
      }
      await page.waitForFunction(() => document.body.dataset.state === "over", null, { timeout: 60_000 });
      const end = await gameState(page);
      assert.equal(end.over, true);
      assert.deepEqual(end.moves, degree);
      const steps = (policy) => native[policy].per_board_steps[0];
      assert.equal(Number(await page.textContent("#moves")), steps("degree"));
      const scores = await page.evaluate(() => window.tesseraGame.scores);
      const want = {
        you: steps("degree"),
        "agent (deep Q-network)": steps("agent"),
        "highest degree": steps("degree"),
        "greedy (kills most now)": steps("greedy"),
        "collective influence": steps("ci"),
        CoreHD: steps("corehd"),
        ...(optimum ? { "exact optimum": steps("optimal") } : {}),
      };
      assert.deepEqual(scores, want);
      const rows = await page.$$eval("#score-rows tr", (trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
      assert.deepEqual(rows, Object.entries(want).map(([player, moves]) => [player, String(moves)]));
      if (!optimum) assert.match(await page.textContent("#score-note"), /at most 30 nodes; this one has 50/);
      assert.deepEqual(await page.evaluate(() => window.tesseraGame.agentMoves), native.agent.per_board_moves[0]);

      // "Watch the agent": the graph agent's moves are the CLI's `agent` on the same graph.
      await page.click("#watch");
      await page.waitForFunction(() => document.body.dataset.state === "over" && window.tesseraGame.scores?.agent !== undefined
        || !document.getElementById("error").hidden, null, { timeout: 120_000 });
      assert.ok(await page.isHidden("#error"), await page.textContent("#error"));
      const watched = await gameState(page);
      assert.deepEqual(watched.moves, native.agent.per_board_moves[0], logs.join("\n"));
      assert.equal((await page.evaluate(() => window.tesseraGame.scores)).agent, steps("agent"));
      assert.equal(await page.textContent("#agent-file"), `models/game-agent-graph-${definition}.tar`);
      for (const url of requests) assert.ok(url.startsWith(server.url), `request left the site: ${url}`);
      assert.ok(!logs.some((l) => l.startsWith("pageerror")), logs.join("\n"));
      await page.close();
    });
  }

  test("the WebGPU renderer draws each node and site in its state's or heat's colour where the page places it", async (t) => {
    // A renderer of its own on a fresh canvas, read back through `snapshot` (the frame drawn into
    // a texture): headless Chromium on SwiftShader loses the device once a WebGPU canvas frame
    // is presented, so the frame is read before any is.
    const { page } = await openGame("graph=germany50&definition=flow&renderer=canvas");
    const got = await page.evaluate(async () => {
      const canvas = Object.assign(document.createElement("canvas"), { width: 480, height: 480 });
      let renderer;
      try {
        renderer = await window.tessera.boardRenderer(canvas);
      } catch (error) {
        return { unavailable: String(error.message ?? error) };
      }
      const text = await (await fetch("graphs/germany50.json")).text();
      const game = await window.tessera.gameFromGraph(text, "flow");
      const points = game.graph.nodes.map((_, i) => window.tesseraGame.nodeCentre(i)).map(({ x, y }) => [x * 480 / document.getElementById("board").getBoundingClientRect().width, y * 480 / document.getElementById("board").getBoundingClientRect().width]);
      const radius = 6;
      await renderer.scene({ kind: "graph", points, radius });
      // Attack the first source node: it turns red, its links fade; others stay green.
      const attacked = game.graph.source[0];
      await game.attack(attacked);
      const rgb = (pixels, [x, y]) => Array.from(pixels.slice((Math.round(y) * 480 + Math.round(x)) * 4, (Math.round(y) * 480 + Math.round(x)) * 4 + 3));
      const plain = await renderer.snapshot(game);
      const heat = new Float32Array(game.state.sites.length).fill(NaN);
      const alive = Array.from(game.state.sites.keys()).filter((i) => game.state.sites[i] === 1);
      heat[alive[0]] = 1;
      heat[alive[1]] = 9;
      const hot = await renderer.snapshot(game, heat);
      const source = game.graph.source.find((i) => i !== attacked);
      const out = {
        sites: Array.from(game.state.sites),
        attacked: rgb(plain, points[attacked]),
        alive: rgb(plain, points[alive[2]]),
        ring: rgb(plain, [points[source][0] + radius + 3, points[source][1]]),
        corner: rgb(plain, [1, 1]),
        low: rgb(hot, points[alive[0]]),
        high: rgb(hot, points[alive[1]]),
        uncoloured: rgb(hot, points[alive[2]]),
      };
      // A lattice fills the canvas with squares, walls in the empty colour.
      const lattice = await window.tessera.newGame({ n: 4, p: 0.5, definition: "network", seed: 3 });
      await renderer.scene({ kind: "lattice", n: 4 });
      const squares = await renderer.snapshot(lattice);
      out.lattice = Array.from(lattice.state.sites, (_, i) => rgb(squares, [(i % 4) * 120 + 60, Math.floor(i / 4) * 120 + 60]));
      out.latticeSites = Array.from(lattice.state.sites);
      out.refusal = await renderer.scene({ kind: "graph", points: [[0, 0]], radius: -1 }).then(() => null, (e) => e.message);
      out.drawn = await renderer.draw(lattice);
      return out;
    });
    if (got.unavailable) {
      if (requireWebGpu) assert.fail(got.unavailable);
      t.skip(`no WebGPU adapter in this browser: ${got.unavailable}`);
      return;
    }
    const colours = { 0: [0xdf, 0xe3, 0xea], 1: [0x2a, 0xa3, 0x5a], 2: [0xe3, 0xa3, 0x3b], 3: [0xc8, 0x32, 0x3a] };
    assert.deepEqual(got.attacked, colours[3]);
    assert.deepEqual(got.alive, colours[1]);
    assert.deepEqual(got.ring, [0x2f, 0x6f, 0xdf], "flow's source ring");
    assert.deepEqual(got.corner, [255, 255, 255]);
    assert.deepEqual(got.low, [253, 231, 37], "fewest moves left: the ramp's pale end");
    assert.deepEqual(got.high, [48, 18, 120], "most moves left: the ramp's deep end");
    assert.deepEqual(got.uncoloured, colours[1], "a site without a value keeps its state's colour");
    assert.deepEqual(got.lattice, got.latticeSites.map((s) => colours[s]));
    assert.ok(got.latticeSites.includes(0) && got.latticeSites.includes(1));
    assert.match(got.refusal, /scene\.radius -1: must be positive/);
    assert.deepEqual(got.drawn, { items: 16, milliseconds: got.drawn.milliseconds });
    await page.close();
  });

  test("a new game and an attack refuse a number that is not a whole one, naming it", async () => {
    const { page } = await openGame("n=6&p=0.8&definition=network&seed=1");
    const errors = await page.evaluate(async () => {
      const { Tessera } = await import("./pkg/tessera.js");
      const tessera = await Tessera.create({ backend: "cpu", family: "game" });
      const failure = (promise) => promise.then(() => "done", (e) => e.message);
      const game = await tessera.newGame({ n: 6, p: 0.8, definition: "network", seed: 1 });
      const alive = game.state.sites.indexOf(1);
      const out = {
        side: await failure(tessera.newGame({ n: 6.5, p: 0.8, definition: "network", seed: 1 })),
        seed: await failure(tessera.newGame({ n: 6, p: 0.8, definition: "network", seed: -2 })),
        p: await failure(tessera.newGame({ n: 6, p: "0.8", definition: "network", seed: 1 })),
        site: await failure(game.attack(alive + 0.5)),
        text: await failure(game.attack(String(alive))),
        fine: await failure(game.attack(alive)),
      };
      tessera.terminate();
      return out;
    });
    // Before, wasm-bindgen truncated 6.5 to 6 and wrapped -2 to 4294967294 without a word.
    assert.match(errors.side, /^game\.n: invalid type: floating point `6\.5`, expected usize/);
    assert.match(errors.seed, /^game\.seed: invalid value: integer `-2`, expected u32/);
    assert.match(errors.p, /^game\.p: invalid type: string "0\.8", expected f64/);
    assert.match(errors.site, /^site: invalid type: floating point `.*\.5`, expected usize/);
    assert.match(errors.text, /^site: invalid type: string/);
    assert.equal(errors.fine, "done");
    await page.close();
  });

  test("an evaluation refuses what it cannot score, naming it", async () => {
    const { page } = await openGame("n=6&p=0.8&definition=network&seed=1");
    const errors = await page.evaluate(async () => {
      const { Tessera } = await import("./pkg/tessera.js");
      const tessera = await Tessera.create({ backend: "cpu", family: "game" });
      const ask = { n: 6, p: 0.8, definition: "network", count: 3, players: ["degree"] };
      const failure = (change) => tessera.scoreBoards({ ...ask, ...change }).then(() => "scored", (e) => e.message);
      const out = {
        zero: await failure({ count: 0 }),
        many: await failure({ count: 20_000 }),
        none: await failure({ players: [] }),
        unknown: await failure({ players: ["degree", "nobody"] }),
        agentless: await failure({ players: ["agent"] }),
        side: await failure({ n: 300 }),
        fraction: await failure({ n: 8.5 }),
        seed: await failure({ seed: -1 }),
        workers: await failure({ workers: 0 }),
        fine: await failure({}),
      };
      tessera.terminate();
      return out;
    });
    assert.equal(errors.zero, "count: 0 is not a whole number from 1 to 10000");
    assert.equal(errors.many, "count: 20000 is not a whole number from 1 to 10000");
    assert.equal(errors.none, "players: give at least one player name");
    assert.match(errors.unknown, /^request\.player: unknown policy "nobody"/);
    assert.equal(errors.agentless, "no game agent with handle null");
    assert.equal(errors.side, "n: 300 is not a whole number from 2 to 256");
    assert.equal(errors.fraction, "n: 8.5 is not a whole number from 2 to 256");
    assert.equal(errors.seed, "seed: -1 is not a whole number from 0 to 4294967295");
    assert.equal(errors.workers, 'workers: 0 is not "auto" or a whole number from 1');
    assert.equal(errors.fine, "scored");
    await page.close();
  });

  for (const [definition, query] of [["network", "n=10&p=0.8&seed=5"], ["noodle", "n=9&p=0.75&seed=2"]]) {
    test(`the agent's moves on ${definition} equal the native CLI's`, async () => {
      const { page, logs } = await openGame(`definition=${definition}&${query}`);
      const start = await gameState(page);
      await page.click("#watch");
      await page.waitForFunction(() => document.body.dataset.state === "over" || !document.getElementById("error").hidden, null, { timeout: 120_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.state), "over", await page.textContent("#error"));
      const watched = await gameState(page);
      const native = nativeEval(start.boardLine, definition, "agent");
      assert.equal(native.agent.trained_on, definition);
      assert.deepEqual(watched.moves, native.agent.per_board_moves[0], logs.join("\n"));
      assert.deepEqual(await page.evaluate(() => window.tesseraGame.agentMoves), native.agent.per_board_moves[0]);
      assert.equal((await page.evaluate(() => window.tesseraGame.scores)).agent, native.agent.per_board_steps[0]);
      await page.close();
    });
  }
});
