// The attack game page (www/game.html) as a user plays it, with the shipped agents
// (www/models/game-agent-*.tar):
// - a game played by clicks: the page draws the board `tessera game boards` draws for the same
//   n, p and seed, accepts clicks only on Alive sites, and clicking `degree`'s moves (from
//   `tessera game eval --moves`) ends the game in exactly `degree`'s number of moves, with the
//   score table showing that, degree's and the optimum's scores as the CLI computes them;
// - "Watch the agent": the agent's moves in the page equal `tessera game eval --policy agent`'s
//   on the same board and bundle, for two definitions;
// - no request leaves the site.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, out, recordedPage, serveRepo, tessera } from "./support.mjs";

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
