//! The attack game in the browser: a game the page plays by clicks, the baselines' scores on
//! its board, and a trained agent (the CLI's bundle) choosing moves with its −Q·n heat map.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use tessera_core::bundle::Bundle;
use tessera_core::game::evaluate::{Evaluation, Player, evaluate, evaluate_agent, evaluate_graph};
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Agent, Board, Definition, Game, GraphBoard, GraphFile};
use wasm_bindgen::prelude::*;

use crate::boundary::Preserved;
use crate::{from_js, js_error, to_js};

/// The board sides the page plays (drawn or read from a board line): larger boards make the
/// baselines (`greedy`, `ci`, `corehd` recompute every site each move) and the canvas too slow
/// for a browser tab; `tessera game eval` takes them.
pub const PAGE_SIDES: std::ops::RangeInclusive<usize> = 1..=256;

/// Most boards a page evaluation draws (`first + count`): enough for a mean to a few tenths of
/// a move; larger sets are `tessera game eval`'s.
pub const MAX_SCORED_BOARDS: usize = 10_000;

/// One worker's share of an evaluation: boards `first..first + count` of the set `tessera game
/// boards --size n --p p --seed seed` draws (its first boards are the same whatever `--count`),
/// played by `player` under `definition`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScoreRequest {
    n: usize,
    p: f64,
    seed: u32,
    first: usize,
    count: usize,
    definition: String,
    /// `random`, `degree`, `greedy`, `ci`, `corehd`, `optimal`, or `agent` (a [`GameAgent`]'s).
    player: String,
}

impl ScoreRequest {
    fn definition(&self) -> Result<Definition, JsError> {
        Definition::parse(&self.definition)
            .map_err(|e| JsError::new(&format!("request.definition: {e}")))
    }

    /// The share's boards.
    fn boards(&self) -> Result<Vec<Board>, JsError> {
        let (n, first, count) = (self.n, self.first, self.count);
        if n < 2 || !PAGE_SIDES.contains(&n) {
            return Err(JsError::new(&format!(
                "request.n: board side {n}: choose 2 to {}",
                PAGE_SIDES.end()
            )));
        }
        let end = first
            .checked_add(count)
            .filter(|&end| count > 0 && end <= MAX_SCORED_BOARDS)
            .ok_or_else(|| {
                JsError::new(&format!(
                    "request.count: boards {first}..{first}+{count}: give at least one board, at \
                     most {MAX_SCORED_BOARDS} in all"
                ))
            })?;
        let mut boards = draw_boards(n, self.p, end, self.seed as u64).map_err(js_error)?;
        Ok(boards.split_off(first))
    }
}

/// Each board's moves to finish and robustness area R in board order, or `null`s and the
/// `reason` there are none (the optimum where it cannot be computed).
#[derive(Serialize)]
struct Scores<'a> {
    moves: Option<&'a [usize]>,
    robustness: Option<&'a [f64]>,
    reason: Option<&'a str>,
}

impl<'a> From<&'a Evaluation> for Scores<'a> {
    fn from(evaluation: &'a Evaluation) -> Self {
        Self {
            moves: evaluation.steps.as_deref(),
            robustness: evaluation.robustness.as_deref(),
            reason: evaluation.reason.as_deref(),
        }
    }
}

/// A baseline's scores on a share of boards (a [`ScoreRequest`]; the agent's are
/// [`GameAgent::score_boards`]): what `tessera game eval` reports for those boards, board by
/// board (`random` plays board i with seed i, as the CLI's default `--seed 0` does).
#[wasm_bindgen(js_name = scoreBoards)]
pub fn score_boards(request: JsValue) -> Result<JsValue, JsError> {
    let request: ScoreRequest = from_js("request", request)?;
    let definition = request.definition()?;
    let player = Player::parse(&request.player, request.first as u64)
        .map_err(|e| JsError::new(&format!("request.player: {e}")))?;
    let boards = request.boards()?;
    to_js(&Scores::from(&evaluate(&boards, definition, player)))
}

/// What a game is played on: a lattice board, or a real network (its graph file, as read, and
/// the board made from it with `flow`'s sides).
enum Start {
    Lattice(Board),
    Graph {
        file: Box<GraphFile>,
        board: Box<GraphBoard>,
    },
}

impl Start {
    fn game(&self, definition: Definition) -> Game {
        match self {
            Self::Lattice(board) => Game::new(board, definition),
            Self::Graph { board, .. } => Game::on_graph(board, definition),
        }
    }
}

/// One board being played: its start, the game so far and the functional-fraction curve.
#[wasm_bindgen]
pub struct GameSession {
    start: Start,
    definition: Definition,
    game: Game,
    moves: Vec<u32>,
    curve: Vec<f64>,
}

/// What `new GameSession(…)` takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGame {
    n: usize,
    p: f64,
    definition: String,
    #[serde(default)]
    seed: u32,
}

#[wasm_bindgen]
impl GameSession {
    /// `new GameSession({ n, p, definition, seed })`: a board of side `n` at occupation `p`
    /// drawn from `seed` (default 0; the same board as `tessera game boards --size n --p p
    /// --count 1 --seed seed`), under `definition`.
    #[wasm_bindgen(constructor)]
    pub fn new(game: JsValue) -> Result<GameSession, JsError> {
        let NewGame {
            n,
            p,
            definition,
            seed,
        } = from_js("game", game)?;
        let definition = definition.as_str();
        if n < 2 || !PAGE_SIDES.contains(&n) {
            return Err(JsError::new(&format!(
                "board side {n}: choose 2 to {}",
                PAGE_SIDES.end()
            )));
        }
        let board = draw_boards(n, p, 1, seed as u64)
            .map_err(js_error)?
            .pop()
            .ok_or_else(|| JsError::new("no board drawn"))?;
        Self::start(board, definition)
    }

    /// A board from one line of a board file (`{"n": …, "p": …, "sites": "0110…"}`), read by
    /// the core's bounded reader (errors name the line and field); a side beyond the page's
    /// 256 or a text of several boards is refused.
    #[wasm_bindgen(js_name = fromBoardLine)]
    pub fn from_board_line(line: &str, definition: &str) -> Result<GameSession, JsError> {
        let mut boards = Board::read_lines(line).map_err(js_error)?;
        if boards.len() > 1 {
            return Err(JsError::new(&format!(
                "the text holds {} boards; give one line of the board file",
                boards.len()
            )));
        }
        let board = boards.pop().ok_or_else(|| {
            JsError::new("the board line is empty: give one line of a board file")
        })?;
        if !PAGE_SIDES.contains(&board.n) {
            return Err(JsError::new(&format!(
                "board side {} is above the page's limit of {} (score it with `tessera game eval`)",
                board.n,
                PAGE_SIDES.end()
            )));
        }
        Self::start(board, definition)
    }

    /// A real network from its graph file's text (`www/graphs/`, `tessera game graph import`),
    /// every node occupied; `flow` connects the file's own sides. Errors name the field.
    #[wasm_bindgen(js_name = fromGraph)]
    pub fn from_graph(text: &str, definition: &str) -> Result<GameSession, JsError> {
        let file = GraphFile::parse("graph", text.as_bytes()).map_err(js_error)?;
        let board = file.board_between("graph", &[], &[]).map_err(js_error)?;
        Self::begin(
            Start::Graph {
                file: Box::new(file),
                board: Box::new(board),
            },
            definition,
        )
    }

    fn start(board: Board, definition: &str) -> Result<GameSession, JsError> {
        Self::begin(Start::Lattice(board), definition)
    }

    fn begin(start: Start, definition: &str) -> Result<GameSession, JsError> {
        let definition = Definition::parse(definition).map_err(js_error)?;
        let game = start.game(definition);
        let curve = vec![game.functional_fraction()];
        Ok(Self {
            start,
            definition,
            game,
            moves: Vec::new(),
            curve,
        })
    }

    /// The game as played so far (for the renderer).
    pub(crate) fn game(&self) -> &Game {
        &self.game
    }

    /// A lattice's side, or a graph's node count.
    #[wasm_bindgen(getter)]
    pub fn n(&self) -> usize {
        match &self.start {
            Start::Lattice(_) => self.game.n(),
            Start::Graph { board, .. } => board.len(),
        }
    }

    /// `"lattice"` or `"graph"`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        match self.start {
            Start::Lattice(_) => "lattice".into(),
            Start::Graph { .. } => "graph".into(),
        }
    }

    /// A graph game's network to draw: `{ name, attribution, nodes: [{ id, label, x, y }],
    /// edges: Uint32Array (node index pairs), source, sink (node indices) }`; null on a lattice.
    pub fn graph(&self) -> Result<JsValue, JsError> {
        let Start::Graph { file, board } = &self.start else {
            return Ok(JsValue::NULL);
        };
        #[derive(Serialize)]
        struct Drawn<'a> {
            name: &'a str,
            attribution: &'a str,
            nodes: &'a [tessera_core::game::GraphNode],
            edges: Preserved,
            source: &'a [usize],
            sink: &'a [usize],
        }
        let edges: Vec<u32> = board
            .edge_pairs()
            .flat_map(|(a, b)| [a as u32, b as u32])
            .collect();
        to_js(&Drawn {
            name: &file.name,
            attribution: &file.attribution,
            nodes: &file.nodes,
            edges: Preserved(js_sys::Uint32Array::from(&edges[..]).into()),
            source: &board.source,
            sink: &board.sink,
        })
    }

    #[wasm_bindgen(getter)]
    pub fn definition(&self) -> String {
        self.definition.name().into()
    }

    /// Site states (row-major on a lattice; node order on a graph): 0 Wall, 1 Alive, 2 Dead,
    /// 3 Attacked.
    pub fn sites(&self) -> Vec<u8> {
        self.game.sites().iter().map(|&s| s as u8).collect()
    }

    /// Attacks `site` (row-major index); returns how many other sites died with it. Refuses a
    /// site that is not `Alive`, naming it.
    pub fn attack(&mut self, site: JsValue) -> Result<usize, JsError> {
        let site: usize = from_js("site", site)?;
        let killed = self.game.attack(site).map_err(js_error)?;
        self.moves.push(site as u32);
        self.curve.push(self.game.functional_fraction());
        Ok(killed)
    }

    #[wasm_bindgen(js_name = isOver)]
    pub fn is_over(&self) -> bool {
        self.game.is_over()
    }

    /// The attacked sites in order.
    pub fn moves(&self) -> Vec<u32> {
        self.moves.clone()
    }

    /// f(t) = Alive / occupied after each move, from t = 0.
    pub fn curve(&self) -> Vec<f64> {
        self.curve.clone()
    }

    /// The robustness area R = Σ_t f(t) / occupied.
    pub fn robustness(&self) -> f64 {
        self.game.robustness()
    }

    /// Back to the board's start.
    pub fn reset(&mut self) {
        self.game = self.start.game(self.definition);
        self.moves.clear();
        self.curve = vec![self.game.functional_fraction()];
    }

    /// The board as a board-file line (for `tessera game eval --boards`), or a graph's file
    /// (for `--graph`).
    #[wasm_bindgen(js_name = boardLine)]
    pub fn board_line(&self) -> Result<String, JsError> {
        match &self.start {
            Start::Lattice(board) => Ok(board.to_json_line()),
            Start::Graph { file, .. } => serde_json::to_string(file).map_err(js_error),
        }
    }

    /// Moves `name` (`degree`, `greedy`, `random`, `ci`, `corehd`, `optimal`) needs on this
    /// board from its start: `{ moves }`, or `{ moves: null, reason }` where the optimum is not
    /// known (network and noodle beyond small boards).
    pub fn baseline(&self, name: &str) -> Result<JsValue, JsError> {
        let player = Player::parse(name, 0).map_err(js_error)?;
        let result = match &self.start {
            Start::Lattice(board) => evaluate(std::slice::from_ref(board), self.definition, player),
            Start::Graph { board, .. } => evaluate_graph(board, self.definition, player),
        };
        #[derive(Serialize)]
        struct Baseline<'a> {
            moves: Option<usize>,
            reason: Option<&'a str>,
        }
        to_js(&Baseline {
            moves: result.steps.as_ref().and_then(|s| s.first().copied()),
            reason: result.reason.as_deref(),
        })
    }
}

/// A trained agent (its net is small: one move is one forward pass and a read-back).
#[wasm_bindgen]
pub struct GameAgent {
    agent: Agent,
}

/// An agent bundle (`tessera game train`'s `model/`, packed) from its tar archive.
pub fn load(archive: &[u8], device: &Device) -> Result<GameAgent, JsError> {
    let bundle = Bundle::from_tar(archive).map_err(js_error)?;
    let agent = Agent::from_bundle(&bundle, device).map_err(js_error)?;
    Ok(GameAgent { agent })
}

#[wasm_bindgen]
impl GameAgent {
    /// `config.json` as an object: definition, training size and p, steps, validation score.
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.agent.info)
    }

    /// The agent's next move in `session`.
    pub fn choose(&self, session: &GameSession) -> Result<usize, JsError> {
        self.agent.choose(&session.game).map_err(js_error)
    }

    /// −Q·n per site (predicted moves left after attacking it), NaN where the site is not Alive.
    #[wasm_bindgen(js_name = movesLeft)]
    pub fn moves_left(&self, session: &GameSession) -> Result<Vec<f32>, JsError> {
        Ok(self
            .agent
            .moves_left(&session.game)
            .map_err(js_error)?
            .into_iter()
            .map(|v| v.unwrap_or(f32::NAN))
            .collect())
    }

    /// The agent's scores on a share of boards (a [`ScoreRequest`] with `player: "agent"`), as
    /// [`score_boards`] gives a baseline's.
    #[wasm_bindgen(js_name = scoreBoards)]
    pub fn score_boards(&self, request: JsValue) -> Result<JsValue, JsError> {
        let request: ScoreRequest = from_js("request", request)?;
        if request.player != "agent" {
            return Err(JsError::new(&format!(
                "request.player {:?}: a game agent plays as \"agent\" (baselines: the module's \
                 scoreBoards)",
                request.player
            )));
        }
        let definition = request.definition()?;
        let boards = request.boards()?;
        to_js(&Scores::from(&evaluate_agent(
            &boards,
            definition,
            &self.agent,
        )))
    }

    /// The agent's whole game on `session`'s board from its start: `{ moves, curve }` — the
    /// attacked sites in order (`Uint32Array`) and f(t) after each move from t = 0
    /// (`Float64Array`).
    pub fn play(&self, session: &GameSession) -> Result<JsValue, JsError> {
        let moves = self
            .agent
            .play_games(vec![session.start.game(session.definition)])
            .map_err(js_error)?
            .pop()
            .map(|p| p.moves)
            .unwrap_or_default();
        let mut game = session.start.game(session.definition);
        let mut curve = vec![game.functional_fraction()];
        for &site in &moves {
            game.attack(site).map_err(js_error)?;
            curve.push(game.functional_fraction());
        }
        #[derive(Serialize)]
        struct Played {
            moves: Preserved,
            curve: Preserved,
        }
        let moves: Vec<u32> = moves.into_iter().map(|m| m as u32).collect();
        to_js(&Played {
            moves: Preserved(js_sys::Uint32Array::from(&moves[..]).into()),
            curve: Preserved(js_sys::Float64Array::from(&curve[..]).into()),
        })
    }
}
