//! Boards: site-diluted n×n lattices drawn from a seed (the same boards on every platform), and
//! the JSON Lines board files scripts exchange (`{"n": 10, "p": 0.8, "sites": "0110…"}`).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// The state of one site during a game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Site {
    /// Unoccupied.
    Wall = 0,
    /// Occupied and functional.
    Alive = 1,
    /// Occupied, not attacked, no longer functional (still part of clusters).
    Dead = 2,
    /// Removed by a move.
    Attacked = 3,
}

/// An n×n site-diluted lattice: which sites are occupied, row-major (`i·n + j`).
#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    pub n: usize,
    /// The occupation probability it was drawn with (kept for reports; not used by the rules).
    pub p: f64,
    pub occupied: Vec<bool>,
}

/// The most sites a board (lattice or graph) may have: 2²⁴ = 16,777,216 (a lattice side of at
/// most 4,096). A game keeps about a hundred bytes per site and numbers sites in u32: `tessera
/// game eval` on a 4096×4096 board peaks at 1.5 GB (random and degree, 53 s on one core). Larger
/// boards are refused, naming the limit, not attempted.
pub const MAX_SITES: usize = 1 << 24;

/// The largest lattice side: √[`MAX_SITES`].
pub const MAX_SIDE: usize = 1 << 12;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoardError {
    #[error("board line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("board line {line}, field \"{field}\": {message}")]
    Field {
        line: usize,
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// One line of a board file. `n` is a u64 so that a side too large for this platform's `usize`
/// (wasm32) is refused by the size checks with a clear message, not by the parser; lines are
/// read field by field ([`Board::read_line`]) so that every error names its field.
#[derive(Serialize)]
struct BoardLine {
    n: u64,
    p: f64,
    sites: String,
}

/// The sites of an n×n board, if that fits the limits: `Err` says why not.
fn side_sites(n: u64) -> Result<usize, String> {
    if n == 0 {
        return Err("a board needs a side of at least 1, got 0".into());
    }
    match n.checked_mul(n).and_then(|s| usize::try_from(s).ok()) {
        Some(sites) if sites <= MAX_SITES => Ok(sites),
        _ => Err(format!(
            "side {n} is above the limit of {MAX_SIDE} (boards have at most {MAX_SITES} sites)"
        )),
    }
}

impl Board {
    /// A board from its occupation pattern; refuses a pattern that is not n×n, an empty board and
    /// one beyond [`MAX_SITES`].
    pub fn new(n: usize, p: f64, occupied: Vec<bool>) -> Result<Self, BoardError> {
        if n == 0 && occupied.is_empty() {
            return Err(BoardError::Invalid(
                "the board is empty: a board needs a side of at least 1".into(),
            ));
        }
        let sites = side_sites(n as u64).map_err(BoardError::Invalid)?;
        if occupied.len() != sites {
            return Err(BoardError::Invalid(format!(
                "a board of side {n} needs {sites} sites, got {}",
                occupied.len()
            )));
        }
        Ok(Self { n, p, occupied })
    }

    /// A board drawn site by site (row-major): occupied when a uniform draw in [0, 1) is below
    /// `p`. The draw is the top 53 bits of Xoshiro256++ scaled to [0, 1), so it is the same on
    /// every platform. Refuses a side of 0 or above [`MAX_SIDE`].
    pub fn random(n: usize, p: f64, rng: &mut Xoshiro256PlusPlus) -> Result<Self, BoardError> {
        let sites = side_sites(n as u64).map_err(BoardError::Invalid)?;
        let occupied = (0..sites).map(|_| unit(rng) < p).collect();
        Ok(Self { n, p, occupied })
    }

    /// A board from a picture: one row per line, `#` or `1` occupied, `.` or `0` wall (tests,
    /// examples).
    pub fn parse(picture: &str) -> Result<Self, BoardError> {
        let rows: Vec<&str> = picture
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let n = rows.len();
        if n == 0 {
            return Err(BoardError::Invalid(
                "the picture has no rows: a board needs at least one row of sites".into(),
            ));
        }
        side_sites(n as u64).map_err(BoardError::Invalid)?;
        let mut occupied = Vec::with_capacity(n * n);
        for (i, row) in rows.iter().enumerate() {
            let width = row.chars().count();
            if width != n {
                return Err(BoardError::Invalid(format!(
                    "row {i} has {width} sites; a {n}-row board needs {n}"
                )));
            }
            for c in row.chars() {
                occupied.push(match c {
                    '#' | '1' => true,
                    '.' | '0' => false,
                    other => {
                        return Err(BoardError::Invalid(format!(
                            "row {i}: {other:?} is neither a site (#, 1) nor a wall (., 0)"
                        )));
                    }
                });
            }
        }
        Self::new(n, f64::NAN, occupied)
    }

    /// The board as one JSON line (no newline).
    pub fn to_json_line(&self) -> String {
        let line = BoardLine {
            n: self.n as u64,
            p: self.p,
            sites: self
                .occupied
                .iter()
                .map(|&o| if o { '1' } else { '0' })
                .collect(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// The boards of a JSON Lines file (blank lines skipped); errors name the 1-based line and
    /// the field at fault. A side is checked against the line's own `"sites"` before anything is
    /// allocated for it, and against [`MAX_SIDE`].
    pub fn read_lines(text: &str) -> Result<Vec<Self>, BoardError> {
        let mut boards = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            boards.push(Self::read_line(line, i + 1)?);
        }
        Ok(boards)
    }

    /// One board-file line; `number` (1-based) names it in errors.
    pub fn read_line(line: &str, number: usize) -> Result<Self, BoardError> {
        let field = |field: &'static str, message: String| BoardError::Field {
            line: number,
            field,
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| BoardError::Line {
                line: number,
                message: e.to_string(),
            })?;
        let serde_json::Value::Object(mut object) = value else {
            return Err(BoardError::Line {
                line: number,
                message: format!(
                    "expected an object {{\"n\": …, \"p\": …, \"sites\": \"…\"}}, got {}",
                    shortened(&value.to_string())
                ),
            });
        };
        let mut take = |name: &'static str| {
            object
                .remove(name)
                .ok_or_else(|| field(name, "missing".into()))
        };
        let (n, p, sites) = (take("n")?, take("p")?, take("sites")?);
        if let Some(other) = object.keys().next() {
            return Err(BoardError::Line {
                line: number,
                message: format!(
                    "unknown field {:?} (a board line has n, p and sites)",
                    shortened(other)
                ),
            });
        }
        let parsed = BoardLine {
            n: n.as_u64().ok_or_else(|| {
                field(
                    "n",
                    format!(
                        "expected a whole number ≥ 1, got {}",
                        shortened(&n.to_string())
                    ),
                )
            })?,
            p: p.as_f64().ok_or_else(|| {
                field(
                    "p",
                    format!("expected a number, got {}", shortened(&p.to_string())),
                )
            })?,
            sites: match sites {
                serde_json::Value::String(text) => text,
                other => {
                    return Err(field(
                        "sites",
                        format!(
                            "expected a string of 0s and 1s, got {}",
                            shortened(&other.to_string())
                        ),
                    ));
                }
            },
        };
        let n = parsed.n;
        let given = if parsed.sites.is_ascii() {
            parsed.sites.len()
        } else {
            parsed.sites.chars().count()
        };
        if n == 0 {
            return Err(field(
                "n",
                format!(
                    "n is 0: a board needs a side of at least 1 (\"sites\" has {given} characters)"
                ),
            ));
        }
        // What the line's own data can describe: a side whose square is more than "sites" holds
        // is refused before anything is sized by it (the square is formed in u128, where it
        // always fits).
        let needed = u128::from(n) * u128::from(n);
        if needed > given as u128 {
            return Err(field(
                "n",
                format!("n = {n} needs {needed} sites but \"sites\" has {given} characters"),
            ));
        }
        if needed != given as u128 {
            return Err(field(
                "sites",
                format!("\"sites\" has {given} characters; n = {n} needs {needed}"),
            ));
        }
        let sites = side_sites(n).map_err(|m| field("n", m))?;
        // Within MAX_SIDE, so it fits any usize.
        let n = n as usize;
        let mut occupied = Vec::with_capacity(sites);
        for (k, c) in parsed.sites.chars().enumerate() {
            occupied.push(match c {
                '1' => true,
                '0' => false,
                other => {
                    return Err(field(
                        "sites",
                        format!("character {k} is {other:?}, not 0 or 1"),
                    ));
                }
            });
        }
        Self::new(n, parsed.p, occupied).map_err(|e| field("sites", e.to_string()))
    }

    pub fn sites(&self) -> usize {
        self.n * self.n
    }

    pub fn occupied_count(&self) -> usize {
        self.occupied.iter().filter(|&&o| o).count()
    }

    /// The board turned or mirrored by `symmetry` (training boards are augmented with these).
    pub fn transformed(&self, symmetry: Symmetry) -> Self {
        let n = self.n;
        let last = n - 1;
        let occupied = (0..n * n)
            .map(|site| {
                let (i, j) = (site / n, site % n);
                let (from_i, from_j) = match symmetry {
                    Symmetry::Identity => (i, j),
                    Symmetry::Rotate90 => (last - j, i),
                    Symmetry::Rotate180 => (last - i, last - j),
                    Symmetry::Rotate270 => (j, last - i),
                    Symmetry::MirrorColumns => (i, last - j),
                    Symmetry::MirrorRows => (last - i, j),
                };
                self.occupied[from_i * n + from_j]
            })
            .collect();
        Self {
            n,
            p: self.p,
            occupied,
        }
    }
}

/// Symmetries of the square used to augment training boards (clockwise rotations; mirrors that
/// swap the left and right columns or the top and bottom rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symmetry {
    Identity,
    Rotate90,
    Rotate180,
    Rotate270,
    MirrorColumns,
    MirrorRows,
}

/// A uniform draw in [0, 1) from the top 53 bits (exact in f64, identical everywhere).
pub fn unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A seeded generator for boards and policies.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A value or name cut to at most 60 characters for an error message.
pub(crate) fn shortened(text: &str) -> String {
    const MOST: usize = 60;
    match text.char_indices().nth(MOST) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
