//! The clusters (connected components) of a board's active sites — occupied and not attacked —
//! kept up to date as sites are removed, with per-cluster sums the rules read: size, sites on each
//! side, and perimeter (blocked neighbours: for a lattice walls, attacked and off-board ones; in
//! general what a site lacks of the largest degree). Works on any [`Topology`].
//!
//! Written here because no crate offers decremental connectivity (petgraph recomputes components
//! from scratch). Removing a site starts one breadth-first search from each active neighbour and
//! advances them in turn; searches that meet merge; once all but one have run out, those that ran
//! out are the split-off parts and only their sites are relabelled and summed. A site is relabelled
//! O(log N) times over a game, and nothing is allocated after construction.

use std::sync::Arc;

use super::topology::{BOTTOM, LEFT, RIGHT, TOP, Topology};

/// Sums over a cluster's sites.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub size: u32,
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
    /// Σ over sites of their blocked neighbours (max degree − active neighbours).
    pub perimeter: u32,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.size += other.size;
        self.left += other.left;
        self.right += other.right;
        self.top += other.top;
        self.bottom += other.bottom;
        self.perimeter += other.perimeter;
    }

    fn subtract(&mut self, other: &Stats) {
        self.size -= other.size;
        self.left -= other.left;
        self.right -= other.right;
        self.top -= other.top;
        self.bottom -= other.bottom;
        self.perimeter -= other.perimeter;
    }
}

/// What one removal did to the removed site's cluster; the parts split off are
/// [`Clusters::parts`] until the next removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The cluster the site was in, which keeps its label for the part still being searched when
    /// the others ran out; `None` when the site was the cluster's last.
    pub kept: Option<u32>,
    /// One site of the kept part (a start for [`Clusters::for_each_site`]).
    pub kept_site: Option<usize>,
}

const NONE: u32 = u32::MAX;

#[derive(Clone)]
pub struct Clusters {
    topology: Arc<Topology>,
    active: Vec<bool>,
    label: Vec<u32>,
    /// Blocked neighbours of each site (max degree − active neighbours).
    blocked: Vec<u32>,
    stats: Vec<Stats>,
    /// Search marks: `epoch << shift | searcher` (a shift, not a product: the mark is read in
    /// the innermost loop).
    mark: Vec<u64>,
    epoch: u64,
    /// Searchers per removal at most (the largest degree, at least 1).
    shift: u32,
    /// One queue per searcher (one per neighbour of the removed site); a queue keeps every site
    /// its search visited (`heads` is the next to expand).
    queues: Vec<Vec<u32>>,
    /// The queue of whole-cluster walks (labelling, enumeration).
    walk: Vec<u32>,
    heads: Vec<usize>,
    /// Merged searches: a tiny union-find over the searchers.
    group: Vec<usize>,
    /// Per group root: still searching (scratch for each step).
    searching: Vec<bool>,
    /// The last removal's searchers (its active neighbours) and the parts it split off.
    seeds: Vec<u32>,
    parts: Vec<u32>,
    part_groups: Vec<usize>,
}

impl Clusters {
    /// Labels the clusters of `active` (one flag per node of `topology`).
    pub fn new(topology: Arc<Topology>, active: Vec<bool>) -> Self {
        let count = topology.len();
        let max_degree = topology.max_degree();
        let blocked = (0..count)
            .map(|site| {
                let live = topology
                    .neighbours(site)
                    .iter()
                    .filter(|&&u| active[u as usize]);
                (max_degree - live.count()) as u32
            })
            .collect();
        let searchers = max_degree.max(1);
        let mut clusters = Self {
            active,
            label: vec![NONE; count],
            blocked,
            // Every removal adds at most max degree − 1 labels.
            stats: Vec::with_capacity(searchers * count + 1),
            mark: vec![0; count],
            epoch: 0,
            // Bits for a searcher number (2 on a lattice).
            shift: usize::BITS - (searchers - 1).max(1).leading_zeros(),
            queues: (0..searchers).map(|_| Vec::with_capacity(count)).collect(),
            walk: Vec::with_capacity(count),
            heads: vec![0; searchers],
            group: (0..searchers).collect(),
            searching: vec![false; searchers],
            seeds: Vec::with_capacity(searchers),
            parts: Vec::with_capacity(searchers),
            part_groups: Vec::with_capacity(searchers),
            topology,
        };
        for site in 0..count {
            if clusters.active[site] && clusters.label[site] == NONE {
                let label = clusters.stats.len() as u32;
                clusters.stats.push(Stats::default());
                clusters.flood(site as u32, label);
            }
        }
        clusters
    }

    /// The cluster of an active site.
    pub fn label(&self, site: usize) -> u32 {
        self.label[site]
    }

    pub fn stats(&self, label: u32) -> &Stats {
        &self.stats[label as usize]
    }

    /// Every label ever given (clusters of size 0 included).
    pub fn labels(&self) -> std::ops::Range<u32> {
        0..self.stats.len() as u32
    }

    /// Blocked neighbours of a site (its contribution to its cluster's perimeter).
    pub fn blocked(&self, site: usize) -> u32 {
        self.blocked[site]
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The parts the last removal split off (labels; see [`Clusters::part_sites`]).
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }

    fn site_stats(&self, site: usize) -> Stats {
        let sides = self.topology.sides(site);
        Stats {
            size: 1,
            left: u32::from(sides & LEFT != 0),
            right: u32::from(sides & RIGHT != 0),
            top: u32::from(sides & TOP != 0),
            bottom: u32::from(sides & BOTTOM != 0),
            perimeter: self.blocked[site],
        }
    }

    /// Labels the cluster of `start` as `label` and sums it.
    fn flood(&mut self, start: u32, label: u32) {
        let mut queue = std::mem::take(&mut self.walk);
        queue.clear();
        queue.push(start);
        self.label[start as usize] = label;
        let mut head = 0;
        let mut sum = Stats::default();
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            sum.add(&self.site_stats(v));
            for &u in self.topology.neighbours(v) {
                let u = u as usize;
                if self.active[u] && self.label[u] != label {
                    self.label[u] = label;
                    queue.push(u as u32);
                }
            }
        }
        self.stats[label as usize] = sum;
        self.walk = queue;
    }

    /// Calls `f` on every site of cluster `label`, starting from its site `start` (O(size)).
    pub fn for_each_site(&mut self, start: usize, mut f: impl FnMut(usize)) {
        let label = self.label[start];
        self.epoch += 1;
        let stamp = self.epoch << self.shift;
        let mut queue = std::mem::take(&mut self.walk);
        queue.clear();
        queue.push(start as u32);
        self.mark[start] = stamp;
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            f(v);
            for &u in self.topology.neighbours(v) {
                let u = u as usize;
                if self.active[u] && self.label[u] == label && self.mark[u] != stamp {
                    self.mark[u] = stamp;
                    queue.push(u as u32);
                }
            }
        }
        self.walk = queue;
    }

    /// The sites of part `i` of the last [`Clusters::remove`] (valid until the next).
    pub fn part_sites(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let group = self.part_groups[i];
        (0..self.seeds.len())
            .filter(move |&k| !self.queues[k].is_empty() && self.group_of(k) == group)
            .flat_map(move |k| self.queues[k].iter().map(|&s| s as usize))
    }

    fn group_of(&self, k: usize) -> usize {
        let mut g = k;
        while self.group[g] != g {
            g = self.group[g];
        }
        g
    }

    /// Removes an active site; its cluster may split.
    pub fn remove(&mut self, site: usize) -> Split {
        debug_assert!(self.active[site], "site {site} is not active");
        let c = self.label[site];
        let own = self.site_stats(site);
        self.active[site] = false;
        self.seeds.clear();
        self.parts.clear();
        self.part_groups.clear();
        for &u in self.topology.neighbours(site) {
            if self.active[u as usize] {
                self.blocked[u as usize] += 1;
                self.seeds.push(u);
            }
        }
        let k = self.seeds.len();
        // The site leaves; each active neighbour gains a blocked side.
        let stats = &mut self.stats[c as usize];
        stats.subtract(&own);
        stats.perimeter += k as u32;
        self.label[site] = NONE;
        for q in &mut self.queues {
            q.clear();
        }
        let mut split = Split {
            kept: (k > 0).then_some(c),
            kept_site: self.seeds.first().map(|&s| s as usize),
        };
        for (g, slot) in self.group.iter_mut().enumerate() {
            *slot = g;
        }
        if k <= 1 {
            return split;
        }

        // Interleaved searches from each neighbour.
        self.epoch += 1;
        let base = self.epoch << self.shift;
        for s in 0..k {
            self.heads[s] = 0;
            let seed = self.seeds[s];
            self.queues[s].push(seed);
            self.mark[seed as usize] = base | s as u64;
        }
        loop {
            // Groups still searching; stop when at most one is. (A group is named by its root,
            // the smallest searcher in it.)
            for s in 0..k {
                self.searching[s] = false;
            }
            let mut groups = 0;
            for s in 0..k {
                let g = self.group_of(s);
                groups += usize::from(g == s);
                if self.heads[s] < self.queues[s].len() {
                    self.searching[g] = true;
                }
            }
            let groups_searching = self.searching[..k].iter().filter(|&&b| b).count();
            if groups <= 1 {
                // Everything met: no split.
                return split;
            }
            if groups_searching <= 1 {
                break;
            }
            for s in 0..k {
                if self.heads[s] >= self.queues[s].len() {
                    continue;
                }
                let v = self.queues[s][self.heads[s]] as usize;
                self.heads[s] += 1;
                let topology = &self.topology;
                for &u in topology.neighbours(v) {
                    let u = u as usize;
                    if !self.active[u] {
                        continue;
                    }
                    let m = self.mark[u];
                    if m >> self.shift != self.epoch {
                        self.mark[u] = base | s as u64;
                        self.queues[s].push(u as u32);
                    } else {
                        let searcher = (m & ((1 << self.shift) - 1)) as usize;
                        let (a, b) = (self.group_of(s), self.group_of(searcher));
                        if a != b {
                            self.group[a.max(b)] = a.min(b);
                        }
                    }
                }
            }
        }

        // Finished groups become new clusters; the one still searching (or, if all finished, the
        // largest) keeps the label.
        let size = |g: usize| -> usize {
            (0..k)
                .filter(|&s| self.group_of(s) == g)
                .map(|s| self.queues[s].len())
                .sum()
        };
        let searching = |g: usize| -> bool {
            (0..k).any(|s| self.group_of(s) == g && self.heads[s] < self.queues[s].len())
        };
        let roots = || (0..k).filter(|&s| self.group_of(s) == s);
        let keep = roots().find(|&g| searching(g)).unwrap_or_else(|| {
            roots().fold(0, |best, g| if size(g) > size(best) { g } else { best })
        });
        split.kept_site = Some(self.queues[keep][0] as usize);
        for g in 0..k {
            if self.group_of(g) != g || g == keep {
                continue;
            }
            let label = self.stats.len() as u32;
            let mut sum = Stats::default();
            for s in 0..k {
                if self.group_of(s) != g {
                    continue;
                }
                for idx in 0..self.queues[s].len() {
                    let v = self.queues[s][idx] as usize;
                    self.label[v] = label;
                    sum.add(&self.site_stats(v));
                }
            }
            self.stats.push(sum);
            self.stats[c as usize].subtract(&sum);
            self.parts.push(label);
            self.part_groups.push(g);
        }
        split
    }
}
