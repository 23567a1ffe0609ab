//! The DQN's replay memory: a ring of one-step transitions (board before, site attacked, board
//! after, whether the game ended), saved in checkpoints so a resumed run samples the same ones.
//!
//! Boards are kept as their site states (one byte a site); the one-hot input is built per batch.

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
    sites: usize,
    len: usize,
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

    /// A JSON header line, then per transition: before, after (a byte a site), the action (u32
    /// little-endian) and done.
    pub fn to_bytes(&self) -> Vec<u8> {
        let sites = self.items.first().map_or(0, |t| t.before.len());
        let header = Header {
            capacity: self.capacity,
            next: self.next,
            sites,
            len: self.items.len(),
        };
        let mut bytes = serde_json::to_vec(&header).expect("a plain struct serialises");
        bytes.push(b'\n');
        bytes.reserve(self.items.len() * (2 * sites + 5));
        for t in &self.items {
            bytes.extend(t.before.iter().map(|&s| s as u8));
            bytes.extend(t.after.iter().map(|&s| s as u8));
            bytes.extend((t.action as u32).to_le_bytes());
            bytes.push(t.done as u8);
        }
        bytes
    }

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
        let body = &bytes[split + 1..];
        let record = 2 * header.sites + 5;
        if body.len() != header.len * record || header.len > header.capacity.max(1) {
            return Err(corrupt(format!(
                "{} bytes of transitions, expected {} × {record}",
                body.len(),
                header.len
            )));
        }
        let site = |b: u8| match b {
            0 => Ok(Site::Wall),
            1 => Ok(Site::Alive),
            2 => Ok(Site::Dead),
            3 => Ok(Site::Attacked),
            other => Err(corrupt(format!("site state {other}"))),
        };
        let items = body
            .chunks_exact(record.max(1))
            .map(|r| {
                let (boards, rest) = r.split_at(2 * header.sites);
                Ok(Transition {
                    before: boards[..header.sites]
                        .iter()
                        .map(|&b| site(b))
                        .collect::<Result<_, _>>()?,
                    after: boards[header.sites..]
                        .iter()
                        .map(|&b| site(b))
                        .collect::<Result<_, _>>()?,
                    action: u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize,
                    done: rest[4] != 0,
                })
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
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
