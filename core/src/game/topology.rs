//! Who neighbours whom: a lattice's 4-neighbourhood or any graph's edges, as compact adjacency
//! lists, with the sides `flow` connects (a lattice's edges; a graph's two terminal sets).
//!
//! One representation for both keeps the cluster bookkeeping and the rules free of geometry:
//! they see nodes, neighbour lists and side flags only.

/// Side flags of a node.
pub const LEFT: u8 = 1;
pub const RIGHT: u8 = 2;
pub const TOP: u8 = 4;
pub const BOTTOM: u8 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// `adjacency[offsets[v]..offsets[v + 1]]` are the neighbours of `v`.
    offsets: Vec<u32>,
    adjacency: Vec<u32>,
    /// The most neighbours any node has (4 on a lattice, whatever its walls): what a node
    /// lacks of it counts as blocked for `noodle`.
    max_degree: usize,
    sides: Vec<u8>,
    /// The side of a lattice; `None` for a graph.
    side: Option<usize>,
}

impl Topology {
    /// The n×n lattice, neighbours in the order up, left, right, down (n at most
    /// [`super::board::MAX_SIDE`], as on every board the readers accept).
    pub fn lattice(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n * n + 1);
        let mut adjacency = Vec::with_capacity(4 * n * n);
        let mut sides = Vec::with_capacity(n * n);
        offsets.push(0);
        for site in 0..n * n {
            let (i, j) = (site / n, site % n);
            let up = (i > 0).then(|| site - n);
            let left = (j > 0).then(|| site - 1);
            let right = (j + 1 < n).then(|| site + 1);
            let down = (i + 1 < n).then(|| site + n);
            adjacency.extend(
                [up, left, right, down]
                    .into_iter()
                    .flatten()
                    .map(|u| u as u32),
            );
            offsets.push(adjacency.len() as u32);
            let flag = |on: bool, side: u8| if on { side } else { 0 };
            sides.push(
                flag(j == 0, LEFT)
                    | flag(j + 1 == n, RIGHT)
                    | flag(i == 0, TOP)
                    | flag(i + 1 == n, BOTTOM),
            );
        }
        Self {
            offsets,
            adjacency,
            max_degree: 4,
            sides,
            side: Some(n),
        }
    }

    /// A graph of `nodes` nodes from its neighbour lists; `source` nodes count as the left side
    /// and `sink` nodes as the right one (what `flow` connects).
    pub fn graph(neighbours: &[Vec<u32>], source: &[usize], sink: &[usize]) -> Self {
        let mut offsets = Vec::with_capacity(neighbours.len() + 1);
        let mut adjacency = Vec::new();
        offsets.push(0);
        for list in neighbours {
            adjacency.extend_from_slice(list);
            offsets.push(adjacency.len() as u32);
        }
        Self::from_csr(offsets, adjacency, source, sink)
    }

    /// A graph in compressed sparse rows: node `v`'s neighbours are
    /// `adjacency[offsets[v]..offsets[v + 1]]` (`offsets` has one entry more than there are
    /// nodes, starts at 0 and never decreases; every neighbour is a node). `source` and `sink`
    /// as in [`Topology::graph`]; numbers that are not nodes are ignored.
    pub fn from_csr(
        offsets: Vec<u32>,
        adjacency: Vec<u32>,
        source: &[usize],
        sink: &[usize],
    ) -> Self {
        let nodes = offsets.len().saturating_sub(1);
        let max_degree = offsets
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]) as usize)
            .max()
            .unwrap_or(0);
        let mut sides = vec![0u8; nodes];
        for (terminals, flag) in [(source, LEFT), (sink, RIGHT)] {
            for &v in terminals {
                if let Some(side) = sides.get_mut(v) {
                    *side |= flag;
                }
            }
        }
        let offsets = if offsets.is_empty() { vec![0] } else { offsets };
        Self {
            offsets,
            adjacency,
            max_degree,
            sides,
            side: None,
        }
    }

    pub fn len(&self) -> usize {
        self.sides.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sides.is_empty()
    }

    #[inline]
    pub fn neighbours(&self, v: usize) -> &[u32] {
        &self.adjacency[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    pub fn max_degree(&self) -> usize {
        self.max_degree
    }

    pub fn sides(&self, v: usize) -> u8 {
        self.sides[v]
    }

    /// The lattice's side n, or `None` for a graph.
    pub fn lattice_side(&self) -> Option<usize> {
        self.side
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lattice_has_four_neighbours_inside_and_fewer_on_its_edges() {
        let t = Topology::lattice(3);
        assert_eq!(t.neighbours(4), &[1, 3, 5, 7]);
        assert_eq!(t.neighbours(0), &[1, 3]);
        assert_eq!(t.sides(0), LEFT | TOP);
        assert_eq!(t.sides(5), RIGHT);
        assert_eq!((t.max_degree(), t.lattice_side()), (4, Some(3)));
        let g = Topology::graph(&[vec![1, 2], vec![0], vec![0]], &[1], &[2]);
        assert_eq!(
            (g.max_degree(), g.sides(1), g.sides(2), g.lattice_side()),
            (2, LEFT, RIGHT, None)
        );
    }
}
