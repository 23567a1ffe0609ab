//! `tessera game …`: the percolation attack game on the command line — boards to files, players
//! scored on them (the contract scripts rely on: ../shared/specs/lattice-game.md, the issue's
//! command-line section), and the agent's training (`train`).

mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use tessera_core::game::evaluate::{Evaluation, Player, evaluate, evaluate_agent, evaluate_graph};
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Agent, Architecture, Board, Definition, Game, GraphBoard, GraphFile};

use crate::bundle_io;

#[derive(Subcommand)]
pub enum GameCommand {
    /// Draw boards (site-diluted n×n lattices; one redrawn while already over under any
    /// definition) and write them as JSON Lines.
    Boards(BoardsArgs),
    /// Score players on a board file: moves to finish (mean, sd, per board) and the robustness
    /// area R.
    Eval(EvalArgs),
    /// Train the attack agent for one definition (double DQN; scaled for 2 CPU cores unless
    /// --reference).
    Train(train::TrainArgs),
    /// Real networks as graph files (nodes with positions, links, attribution).
    #[command(subcommand)]
    Graph(GraphCommand),
}

#[derive(Subcommand)]
pub enum GraphCommand {
    /// Convert networkx node-link JSON (topohub's Topology Zoo, SNDlib and CAIDA networks) into a
    /// graph file that `game eval --graph` and the game page read.
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A node-link JSON file (`nodes` with `id` and `pos`, `edges` or `links`).
    #[arg(long)]
    pub node_link: PathBuf,
    /// Where to write the graph file (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// The network's name (default: the file's `graph.name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Where the network comes from and whom to credit, kept in the file.
    #[arg(long)]
    pub attribution: String,
    /// `flow`'s sides kept in the file (comma-separated node ids or labels), played when
    /// `game eval` is given none.
    #[arg(long, value_delimiter = ',', requires = "sink")]
    pub source: Vec<String>,
    #[arg(long, value_delimiter = ',', requires = "source")]
    pub sink: Vec<String>,
}

#[derive(clap::Args)]
pub struct BoardsArgs {
    /// Side n.
    #[arg(long)]
    pub size: usize,
    /// Occupation probability.
    #[arg(long)]
    pub p: f64,
    #[arg(long)]
    pub count: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A board file (JSON Lines, one size and p).
    #[arg(long, required_unless_present = "graph", conflicts_with = "graph")]
    pub boards: Option<PathBuf>,
    /// A graph board instead: a graph file (`game graph import`, www/graphs/) or an edge list,
    /// two node names per line (`#` comments).
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// `flow` on a graph: the nodes on one side (comma-separated names; in a graph file, ids or
    /// labels).
    #[arg(long, requires = "graph", value_delimiter = ',')]
    pub source: Vec<String>,
    /// `flow` on a graph: the nodes on the other side.
    #[arg(long, requires = "graph", value_delimiter = ',')]
    pub sink: Vec<String>,
    /// network, flow (left–right) or noodle (d = 2).
    #[arg(long)]
    pub definition: String,
    /// Comma-separated: random, degree, greedy, ci, corehd, optimal, agent (the shipped agent
    /// of this definition: www/models/game-agent-DEFINITION.tar on lattices, the graph agent
    /// game-agent-graph-DEFINITION.tar on graphs), graph-agent (the shipped graph agent, also on
    /// lattices) or agent=PATH (any agent bundle, e.g. one trained on another definition).
    #[arg(long, default_value = "random,degree,greedy,ci,corehd,optimal")]
    pub policy: String,
    /// `random`'s seed (board i plays with seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A JSON array, one object per policy, instead of the table.
    #[arg(long)]
    pub json: bool,
    /// With --json: also each board's moves (`per_board_moves`, row-major site indices in order).
    #[arg(long, requires = "json")]
    pub moves: bool,
}

pub fn run(command: GameCommand) -> Result<()> {
    match command {
        GameCommand::Boards(args) => boards(args),
        GameCommand::Eval(args) => eval(args),
        GameCommand::Train(args) => train::train(args),
        GameCommand::Graph(GraphCommand::Import(args)) => import(args),
    }
}

fn boards(args: BoardsArgs) -> Result<()> {
    if args.size < 2 {
        bail!("--size must be at least 2");
    }
    let boards = draw_boards(args.size, args.p, args.count, args.seed)?;
    let text: String = boards.iter().map(|b| b.to_json_line() + "\n").collect();
    bundle_io::write_file_atomic(&args.out, text.as_bytes())?;
    eprintln!(
        "{} boards of {}×{} at p = {} (seed {}) → {}",
        boards.len(),
        args.size,
        args.size,
        args.p,
        args.seed,
        args.out.display()
    );
    Ok(())
}

/// One entry of `--policy`: a baseline (or the optimum), or an agent loaded from its bundle.
pub enum Contender {
    Baseline(Player),
    Agent { name: String, agent: Box<Agent> },
}

impl Contender {
    /// A policy name (`random` takes `seed`), `agent` (the shipped agent of `definition` for
    /// lattices, or for graphs when `on_graph`), `graph-agent` (the shipped graph agent) or
    /// `agent=PATH`.
    pub fn parse(name: &str, definition: Definition, seed: u64, on_graph: bool) -> Result<Self> {
        let path = match name.split_once('=') {
            Some(("agent", path)) => PathBuf::from(path),
            None if name == "agent" && on_graph => {
                shipped_agent(definition, Architecture::MessagePassing)?
            }
            None if name == "agent" => shipped_agent(definition, Architecture::Convolutional)?,
            None if name == "graph-agent" => {
                shipped_agent(definition, Architecture::MessagePassing)?
            }
            _ => {
                return Ok(Self::Baseline(Player::parse(name, seed)?));
            }
        };
        let bundle = bundle_io::read(&path)?;
        let agent = Agent::from_bundle(&bundle, &burn::tensor::Device::flex())
            .with_context(|| path.display().to_string())?;
        Ok(Self::Agent {
            name: name.to_string(),
            agent: Box::new(agent),
        })
    }
}

/// The shipped agent of `definition`: `www/models/game-agent-DEFINITION.tar` (the graph agent:
/// `game-agent-graph-DEFINITION.tar`) under the current folder or the source tree this binary was
/// built from.
pub fn shipped_agent(definition: Definition, architecture: Architecture) -> Result<PathBuf> {
    let kind = match architecture {
        Architecture::Convolutional => "",
        Architecture::MessagePassing => "graph-",
    };
    let file = format!("www/models/game-agent-{kind}{}.tar", definition.name());
    let candidates = [
        PathBuf::from(&file),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(&file),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "policy agent: no shipped agent for {} ({} not found here or in {}); give one with agent=PATH",
                definition.name(),
                file,
                Path::new(env!("CARGO_MANIFEST_DIR")).join("..").display()
            )
        })
}

/// What `eval` plays on: a board file or one graph.
pub enum Boards {
    Lattice(Vec<Board>),
    Graph(GraphBoard),
}

fn read_boards(path: &Path) -> Result<Vec<Board>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{file}: cannot read"))?;
    boards_of(&file, &text)
}

/// The boards of a board file's text (JSON Lines), all of one size and p; `file` names it in
/// errors.
pub fn boards_of(file: &str, text: &str) -> Result<Vec<Board>> {
    let boards = Board::read_lines(text).with_context(|| file.to_string())?;
    let Some(first) = boards.first() else {
        bail!("{file}: no boards");
    };
    if let Some((i, b)) = boards
        .iter()
        .enumerate()
        .find(|(_, b)| b.n != first.n || b.p.to_bits() != first.p.to_bits())
    {
        bail!(
            "{file}: board {} is {}×{} at p = {}, board 1 is {}×{} at p = {}; one size and p per file",
            i + 1,
            b.n,
            b.n,
            b.p,
            first.n,
            first.n,
            first.p
        );
    }
    Ok(boards)
}

fn read_graph(args: &EvalArgs, path: &Path, definition: Definition) -> Result<GraphBoard> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("{file}: cannot read"))?;
    let source: Vec<&str> = args.source.iter().map(String::as_str).collect();
    let sink: Vec<&str> = args.sink.iter().map(String::as_str).collect();
    graph_of(&file, &bytes, &source, &sink, definition)
}

/// The graph board of a graph file (a JSON object) or an edge list (anything else), with
/// `flow`'s sides `source` and `sink` (a graph file's own when none are given); `file` names it.
pub fn graph_of(
    file: &str,
    bytes: &[u8],
    source: &[&str],
    sink: &[&str],
    definition: Definition,
) -> Result<GraphBoard> {
    let graph = if bytes.trim_ascii_start().starts_with(b"{") {
        GraphFile::parse(file, bytes)?.board_between(file, source, sink)?
    } else {
        let text = std::str::from_utf8(bytes).with_context(|| format!("{file}: not UTF-8 text"))?;
        GraphBoard::from_edge_list(text)
            .and_then(|g| g.with_terminals(source, sink))
            .with_context(|| file.to_string())?
    };
    if matches!(definition, Definition::Flow { .. })
        && (graph.source.is_empty() || graph.sink.is_empty())
    {
        bail!(
            "{file}: flow on a graph needs --source and --sink (the node sets it connects), or a \
             graph file naming its own"
        );
    }
    Ok(graph)
}

/// `game graph import`: a node-link file to a graph file, written atomically.
fn import(args: ImportArgs) -> Result<()> {
    let file = args.node_link.display().to_string();
    let bytes = std::fs::read(&args.node_link).with_context(|| format!("{file}: cannot read"))?;
    let mut graph =
        GraphFile::from_node_link(&file, &bytes, args.name.as_deref(), &args.attribution)?;
    graph.source = args.source;
    graph.sink = args.sink;
    // The board is built once so a graph the game cannot play (or sides it does not have) is
    // refused here, not later.
    let board = graph.board_between(&file, &[], &[])?;
    let text = serde_json::to_string_pretty(&graph)? + "\n";
    bundle_io::write_file_atomic(&args.out, text.as_bytes())?;
    eprintln!(
        "{}: {} nodes, {} links → {}",
        graph.name,
        board.len(),
        board.edges(),
        args.out.display()
    );
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let definition = Definition::parse(&args.definition)?;
    let boards = match (&args.boards, &args.graph) {
        (Some(path), _) => Boards::Lattice(read_boards(path)?),
        (None, Some(path)) => Boards::Graph(read_graph(&args, path, definition)?),
        (None, None) => bail!("give --boards FILE or --graph FILE"),
    };
    let players = args
        .policy
        .split(',')
        .map(|name| {
            let on_graph = matches!(boards, Boards::Graph(_));
            Contender::parse(name.trim(), definition, args.seed, on_graph)
        })
        .collect::<Result<Vec<_>>>()?;
    let title = match &boards {
        Boards::Lattice(b) => format!(
            "{} boards of {}×{} at p = {}",
            b.len(),
            b[0].n,
            b[0].n,
            b[0].p
        ),
        Boards::Graph(g) => format!("a graph of {} nodes and {} edges", g.len(), g.edges()),
    };
    let rows = score(&boards, definition, &players, args.moves)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{title}, definition {}", definition.name());
    let width = rows
        .iter()
        .map(|r| r["policy"].as_str().map_or(0, str::len))
        .max()
        .unwrap_or(0)
        .max(10);
    println!(
        "{:<width$} {:>11} {:>8} {:>8}",
        "policy", "mean moves", "sd", "mean R"
    );
    for row in &rows {
        match row["mean_steps"].as_f64() {
            Some(mean) => println!(
                "{:<width$} {:>11.2} {:>8.2} {:>8.4}",
                row["policy"].as_str().unwrap_or(""),
                mean,
                row["std_steps"].as_f64().unwrap_or(f64::NAN),
                row["mean_auc"].as_f64().unwrap_or(f64::NAN)
            ),
            None => println!(
                "{:<width$} {:>11} — {}",
                row["policy"].as_str().unwrap_or(""),
                "n/a",
                row["reason"].as_str().unwrap_or("")
            ),
        }
    }
    Ok(())
}

/// Every player's scores on `boards` under `definition`, one JSON object each — what
/// `game eval --json` prints (`per_board_moves` too when `moves`).
pub fn score(
    boards: &Boards,
    definition: Definition,
    players: &[Contender],
    moves: bool,
) -> Result<Vec<serde_json::Value>> {
    let (size, p, count) = match boards {
        Boards::Lattice(b) => (b[0].n, Some(b[0].p), b.len()),
        Boards::Graph(g) => (g.len(), None, 1),
    };
    let mut rows = Vec::new();
    for player in players {
        let (name, trained_on, e) = match (player, boards) {
            (Contender::Baseline(player), Boards::Lattice(b)) => (
                player.name().to_string(),
                None,
                evaluate(b, definition, *player),
            ),
            (Contender::Baseline(player), Boards::Graph(g)) => (
                player.name().to_string(),
                None,
                evaluate_graph(g, definition, *player),
            ),
            (Contender::Agent { name, agent }, Boards::Lattice(b)) => (
                name.clone(),
                Some(agent.info.definition.name()),
                evaluate_agent(b, definition, agent),
            ),
            (Contender::Agent { name, agent }, Boards::Graph(g)) => (
                name.clone(),
                Some(agent.info.definition.name()),
                Evaluation::from_played(
                    agent
                        .play_games(vec![Game::on_graph(g, definition)])
                        .with_context(|| {
                            format!(
                                "policy {name} (on a graph: graph-agent, or an agent trained with \
                                 game train --graphs)"
                            )
                        })?,
                ),
            ),
        };
        let mut row = json!({
            "policy": name,
            "trained_on": trained_on,
            "definition": definition.name(),
            "size": size,
            "p": p,
            "boards": count,
            "mean_steps": e.mean_steps(),
            "std_steps": e.std_steps(),
            "mean_auc": e.mean_robustness(),
            "per_board_steps": e.steps,
            "reason": e.reason,
        });
        if moves {
            row["per_board_moves"] = json!(e.moves);
        }
        rows.push(row);
    }
    Ok(rows)
}
