//! The DQN's replay memory: a ring of one-step transitions (board before, site attacked, board
//! after, whether the game ended), saved in checkpoints so a resumed run samples the same ones.
//!
//! Boards are kept as their site states (one byte a site) with the index of the training board they
//! were played on (whose topology the net reads); the net's input is built per batch.

use crate::bundle::{BundleError, parse_json};
use crate::game::Site;

/// The file a checkpoint keeps the memory in.
pub const REPLAY_FILE: &str = "replay.bin";

/// One move of one game.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub before: Vec<Site>,
    pub action: usize,
    pub after: Vec<Site>,
    /// The move ended the game (no `Alive` site after it).
    pub done: bool,
    /// The training board the game was played on.
    pub board: u32,
}

/// At most `capacity` transitions; the oldest is overwritten first.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    capacity: usize,
    items: Vec<Transition>,
    /// Where the next transition goes once the memory is full.
    next: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    capacity: usize,
    next: usize,
    len: usize,
    /// Records of the first format (every board `sites` long, no board index); absent since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sites: Option<usize>,
}

impl Replay {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            items: Vec::new(),
            next: 0,
        }
    }

    pub fn push(&mut self, transition: Transition) {
        if self.items.len() < self.capacity {
            self.items.push(transition);
        } else {
            self.items[self.next] = transition;
            self.next = (self.next + 1) % self.capacity;
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, index: usize) -> &Transition {
        &self.items[index]
    }

    /// A JSON header line, then per transition: the board index and the site count (u32
    /// little-endian each), before, after (a byte a site), the action (u32) and done.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            capacity: self.capacity,
            next: self.next,
            len: self.items.len(),
            sites: None,
        };
        let mut bytes = serde_json::to_vec(&header).expect("a plain struct serialises");
        bytes.push(b'\n');
        let sites: usize = self.items.iter().map(|t| t.before.len()).sum();
        bytes.reserve(self.items.len() * 13 + 2 * sites);
        for t in &self.items {
            bytes.extend(t.board.to_le_bytes());
            bytes.extend((t.before.len() as u32).to_le_bytes());
            bytes.extend(t.before.iter().map(|&s| s as u8));
            bytes.extend(t.after.iter().map(|&s| s as u8));
            bytes.extend((t.action as u32).to_le_bytes());
            bytes.push(t.done as u8);
        }
        bytes
    }

    /// Reads [`Replay::to_bytes`]'s format, or the first one (fixed-size boards, no index);
    /// lengths are checked against the bytes there are before anything is allocated.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        let corrupt = |message: String| BundleError::Corrupt {
            file: REPLAY_FILE.into(),
            message,
        };
        let split = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| corrupt("no header line".into()))?;
        let header: Header = parse_json(REPLAY_FILE, &bytes[..split])?;
        let mut body = &bytes[split + 1..];
        if header.len > header.capacity.max(1) || header.next >= header.capacity.max(1) {
            return Err(corrupt(format!(
                "{} transitions, next {}, in a memory of {}",
                header.len, header.next, header.capacity
            )));
        }
        let site = |b: u8| match b {
            0 => Ok(Site::Wall),
            1 => Ok(Site::Alive),
            2 => Ok(Site::Dead),
            3 => Ok(Site::Attacked),
            other => Err(corrupt(format!("site state {other}"))),
        };
        fn cut<'a>(body: &mut &'a [u8], count: usize) -> Option<&'a [u8]> {
            let (head, rest) = body.split_at_checked(count)?;
            *body = rest;
            Some(head)
        }
        let mut take = |count: usize, what: &str, index: usize| {
            let left = body.len();
            cut(&mut body, count).ok_or_else(|| {
                corrupt(format!(
                    "transition {index}: {what} cut short ({left} bytes left, {count} needed)"
                ))
            })
        };
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let mut items = Vec::with_capacity(header.len.min(bytes.len() / 5 + 1));
        for index in 0..header.len {
            let (board, sites) = match header.sites {
                Some(sites) => (0, sites),
                None => {
                    let head = take(8, "header", index)?;
                    (word(&head[..4]), word(&head[4..]) as usize)
                }
            };
            let boards = take(sites.saturating_mul(2), "boards", index)?;
            let before = boards[..sites]
                .iter()
                .map(|&b| site(b))
                .collect::<Result<_, _>>()?;
            let after = boards[sites..]
                .iter()
                .map(|&b| site(b))
                .collect::<Result<_, _>>()?;
            let rest = take(5, "action", index)?;
            items.push(Transition {
                before,
                action: word(rest) as usize,
                after,
                done: rest[4] != 0,
                board,
            });
        }
        if !body.is_empty() {
            return Err(corrupt(format!(
                "{} bytes after the {} transitions",
                body.len(),
                header.len
            )));
        }
        Ok(Self {
            capacity: header.capacity.max(1),
            items,
            next: header.next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(action: usize) -> Transition {
        Transition {
            before: vec![Site::Alive, Site::Wall],
            action,
            after: vec![Site::Attacked, Site::Wall],
            done: action.is_multiple_of(2),
            board: action as u32 % 2,
        }
    }

    #[test]
    fn keeps_the_newest_and_round_trips_through_bytes() {
        let mut replay = Replay::new(3);
        for a in 0..5 {
            replay.push(transition(a));
        }
        assert_eq!(replay.len(), 3);
        let mut actions: Vec<usize> = (0..3).map(|i| replay.get(i).action).collect();
        actions.sort();
        assert_eq!(actions, vec![2, 3, 4], "the two oldest were overwritten");
        let back = Replay::from_bytes(&replay.to_bytes()).unwrap();
        assert_eq!(back, replay);
        let mut cut = replay.to_bytes();
        cut.pop();
        assert!(
            Replay::from_bytes(&cut)
                .unwrap_err()
                .to_string()
                .contains(REPLAY_FILE)
        );
    }
}
