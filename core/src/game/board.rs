//! Boards: site-diluted n×n lattices drawn from a seed (the same boards on every platform), and
//! the JSON Lines board files scripts exchange (`{"n": 10, "p": 0.8, "sites": "0110…"}`).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

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

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoardError {
    #[error("board line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// One line of a board file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardLine {
    n: usize,
    p: f64,
    sites: String,
}

impl Board {
    /// A board from its occupation pattern; refuses a pattern that is not n×n.
    pub fn new(n: usize, p: f64, occupied: Vec<bool>) -> Result<Self, BoardError> {
        if n == 0 || occupied.len() != n * n {
            return Err(BoardError::Invalid(format!(
                "a board of side {n} needs {} sites, got {}",
                n * n,
                occupied.len()
            )));
        }
        Ok(Self { n, p, occupied })
    }

    /// A board drawn site by site (row-major): occupied when a uniform draw in [0, 1) is below
    /// `p`. The draw is the top 53 bits of Xoshiro256++ scaled to [0, 1), so it is the same on
    /// every platform.
    pub fn random(n: usize, p: f64, rng: &mut Xoshiro256PlusPlus) -> Self {
        let occupied = (0..n * n).map(|_| unit(rng) < p).collect();
        Self { n, p, occupied }
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
        let mut occupied = Vec::with_capacity(n * n);
        for (i, row) in rows.iter().enumerate() {
            if row.chars().count() != n {
                return Err(BoardError::Invalid(format!(
                    "row {i} has {} sites; a {n}-row board needs {n}",
                    row.chars().count()
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
            n: self.n,
            p: self.p,
            sites: self
                .occupied
                .iter()
                .map(|&o| if o { '1' } else { '0' })
                .collect(),
        };
        serde_json::to_string(&line).expect("plain data serialises")
    }

    /// The boards of a JSON Lines file (blank lines skipped); errors name the 1-based line.
    pub fn read_lines(text: &str) -> Result<Vec<Self>, BoardError> {
        let mut boards = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let error = |message: String| BoardError::Line {
                line: i + 1,
                message,
            };
            let parsed: BoardLine = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
            if parsed.sites.len() != parsed.n * parsed.n {
                return Err(error(format!(
                    "\"sites\" has {} characters; n = {} needs {}",
                    parsed.sites.len(),
                    parsed.n,
                    parsed.n * parsed.n
                )));
            }
            let mut occupied = Vec::with_capacity(parsed.sites.len());
            for (k, c) in parsed.sites.chars().enumerate() {
                occupied.push(match c {
                    '1' => true,
                    '0' => false,
                    other => {
                        return Err(error(format!(
                            "\"sites\" character {k} is {other:?}, not 0 or 1"
                        )));
                    }
                });
            }
            boards.push(Self::new(parsed.n, parsed.p, occupied).map_err(|e| error(e.to_string()))?);
        }
        Ok(boards)
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
