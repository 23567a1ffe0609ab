//! The clusters (connected components) of a board's active sites — occupied and not attacked —
//! kept up to date as sites are removed, with per-cluster sums the rules read: size, sites on each
//! side, and perimeter (blocked neighbours: for a lattice walls, attacked and off-board ones; in
//! general what a site lacks of the largest degree). Works on any [`Topology`].
//!
//! Written here because no crate offers decremental connectivity (petgraph recomputes components
//! from scratch). Removing a site starts one breadth-first search from each active neighbour and
//! advances them in turn; searches that meet merge; once all but one have run out, those that ran
//! out are the split-off parts and only their sites are relabelled and summed. A site is relabelled
//! O(log N) times over a game. On graphs with hubs an edge-at-a-time probe first asks whether the
//! removal splits anything at all, so a hub next to the removed site is not expanded whole when
//! the searches meet anyway. Memory is O(nodes + edges) whatever the degrees (the searches'
//! queues are lists linked through one slot per site), and a removal costs its own degree plus
//! the search, never the largest degree.

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
    /// Σ over sites of their blocked neighbours (max degree − active neighbours; a u64: on a
    /// graph with hubs this exceeds u32).
    pub perimeter: u64,
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

/// Boards whose largest degree is above this (graphs with hubs) first ask [`Clusters::all_meet`]
/// whether a removal splits anything. On a lattice (4) the site-at-a-time search meets as soon,
/// and asking first only adds work to the removals that do split (about 40 % more time for a
/// random attack on a 1000×1000 board at p = 0.7); on a graph with hubs it saves expanding a
/// hub whole for every removal next to one (a random attack on 200,000 nodes with 50 hubs of
/// ~20,000 neighbours: 0.8 s instead of 45 s).
const PROBE_ABOVE_DEGREE: usize = 4;

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
    /// Each searcher's queue (one searcher per active neighbour of the removed site) is a list
    /// linked through `next`, one slot per site: a site is in one searcher's queue at most, so
    /// all queues together take O(sites) whatever the degrees. A queue keeps every site its
    /// search visited, from `first` to `last`; `cursor` is the next to expand (NONE: ran out).
    next: Vec<u32>,
    first: Vec<u32>,
    last: Vec<u32>,
    cursor: Vec<u32>,
    /// Sites each searcher visited, and (in [`Clusters::all_meet`]) the next edge of its cursor
    /// site to scan.
    visited: Vec<u32>,
    edge: Vec<u32>,
    /// Merged searches: a union-find over the searchers whose root is the group's smallest
    /// searcher (path halving keeps that), with per-root scratch: searchers of the group still
    /// searching, sites in it, and its part's number.
    group: Vec<u32>,
    group_searching: Vec<u32>,
    group_sites: Vec<u64>,
    group_part: Vec<u32>,
    /// Searchers that have not run out, in ascending order (the round's order).
    running: Vec<u32>,
    /// The queue of whole-cluster walks (labelling, enumeration).
    walk: Vec<u32>,
    /// The last removal's searchers (its active neighbours) and the parts it split off: part
    /// `i`'s searchers, ascending, are `part_members[part_start[i]..part_start[i + 1]]`.
    seeds: Vec<u32>,
    parts: Vec<u32>,
    part_members: Vec<u32>,
    part_start: Vec<u32>,
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
            stats: Vec::new(),
            mark: vec![0; count],
            epoch: 0,
            // Bits for a searcher number (2 on a lattice).
            shift: usize::BITS - (searchers - 1).max(1).leading_zeros(),
            next: vec![NONE; count],
            first: vec![NONE; searchers],
            last: vec![NONE; searchers],
            cursor: vec![NONE; searchers],
            visited: vec![0; searchers],
            edge: vec![0; searchers],
            group: vec![0; searchers],
            group_searching: vec![0; searchers],
            group_sites: vec![0; searchers],
            group_part: vec![NONE; searchers],
            running: Vec::new(),
            walk: Vec::new(),
            seeds: Vec::new(),
            parts: Vec::new(),
            part_members: Vec::new(),
            part_start: Vec::new(),
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
            perimeter: u64::from(self.blocked[site]),
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

    /// The sites of part `i` of the last [`Clusters::remove`] (valid until the next): its
    /// searchers in ascending order, each one's sites in the order it visited them.
    pub fn part_sites(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let members =
            &self.part_members[self.part_start[i] as usize..self.part_start[i + 1] as usize];
        members.iter().flat_map(move |&s| {
            let first = self.first[s as usize];
            std::iter::successors((first != NONE).then_some(first), move |&v| {
                let next = self.next[v as usize];
                (next != NONE).then_some(next)
            })
            .map(|v| v as usize)
        })
    }

    /// The root (smallest searcher) of `s`'s group, halving the path on the way.
    fn find(&mut self, s: u32) -> u32 {
        let mut g = s;
        while self.group[g as usize] != g {
            let parent = self.group[g as usize];
            let grand = self.group[parent as usize];
            self.group[g as usize] = grand;
            g = grand;
        }
        g
    }

    /// Appends `u` to searcher `s`'s queue, marked as its own.
    fn enqueue(&mut self, s: u32, u: u32, base: u64) {
        self.mark[u as usize] = base | u64::from(s);
        self.next[u as usize] = NONE;
        let last = self.last[s as usize];
        if last == NONE {
            self.first[s as usize] = u;
        } else {
            self.next[last as usize] = u;
        }
        self.last[s as usize] = u;
        if self.cursor[s as usize] == NONE {
            self.cursor[s as usize] = u;
        }
        self.visited[s as usize] += 1;
    }

    /// Starts one search from each of the `k` seeds (a new epoch): each searcher's own group,
    /// queue holding its seed, and running. Returns the epoch's mark base and searcher mask.
    fn start_searches(&mut self, k: usize) -> (u64, u64) {
        self.epoch += 1;
        let base = self.epoch << self.shift;
        self.running.clear();
        for s in 0..k as u32 {
            let i = s as usize;
            self.group[i] = s;
            self.group_searching[i] = 1;
            self.group_sites[i] = 0;
            self.group_part[i] = NONE;
            self.first[i] = NONE;
            self.last[i] = NONE;
            self.cursor[i] = NONE;
            self.visited[i] = 0;
            self.edge[i] = 0;
            let seed = self.seeds[i];
            self.enqueue(s, seed, base);
            self.running.push(s);
        }
        (base, (1u64 << self.shift) - 1)
    }

    /// Merges the groups of searchers `s` and `other`; `None` if they were one already, else
    /// whether both were still searching.
    fn merge(&mut self, s: u32, other: u32) -> Option<bool> {
        let (a, b) = (self.find(s), self.find(other));
        if a == b {
            return None;
        }
        let (root, child) = (a.min(b), a.max(b));
        self.group[child as usize] = root;
        let (x, y) = (
            self.group_searching[root as usize],
            self.group_searching[child as usize],
        );
        self.group_searching[root as usize] = x + y;
        Some(x > 0 && y > 0)
    }

    /// Whether the first `k` seeds (the removed site's active neighbours) are still connected.
    /// The same interleaved searches as [`Clusters::remove`]'s, but advancing an edge at a time,
    /// so a hub among the seeds costs the edges scanned before the searches meet, not its whole
    /// degree; they stop once all have met (true) or a group has run out (false: that group is a
    /// whole cluster, split off — the site-at-a-time search then finds the parts).
    fn all_meet(&mut self, topology: &Topology, k: usize) -> bool {
        let (base, mask) = self.start_searches(k);
        let mut groups = k;
        let mut running = std::mem::take(&mut self.running);
        let met = 'search: loop {
            let mut kept = 0;
            for r in 0..running.len() {
                let s = running[r];
                let i = s as usize;
                let v = self.cursor[i] as usize;
                let list = topology.neighbours(v);
                if let Some(&u) = list.get(self.edge[i] as usize) {
                    self.edge[i] += 1;
                    if self.active[u as usize] {
                        let m = self.mark[u as usize];
                        if m >> self.shift != self.epoch {
                            self.enqueue(s, u, base);
                        } else if self.merge(s, (m & mask) as u32).is_some() {
                            groups -= 1;
                            if groups <= 1 {
                                break 'search true;
                            }
                        }
                    }
                }
                if self.edge[i] as usize >= list.len() {
                    self.cursor[i] = self.next[v];
                    self.edge[i] = 0;
                }
                if self.cursor[i] == NONE {
                    let root = self.find(s) as usize;
                    self.group_searching[root] -= 1;
                    if self.group_searching[root] == 0 {
                        break 'search false;
                    }
                } else {
                    running[kept] = s;
                    kept += 1;
                }
            }
            running.truncate(kept);
            if running.is_empty() {
                break false;
            }
        };
        self.running = running;
        met
    }

    /// Removes an active site; its cluster may split.
    ///
    /// Costs the site's degree plus the edges the searches scan (one search per active
    /// neighbour): every searcher still searching expands one site a round, searchers that meet
    /// merge, and the search stops once at most one group is still searching.
    pub fn remove(&mut self, site: usize) -> Split {
        debug_assert!(self.active[site], "site {site} is not active");
        let c = self.label[site];
        let own = self.site_stats(site);
        self.active[site] = false;
        self.seeds.clear();
        self.parts.clear();
        self.part_members.clear();
        self.part_start.clear();
        self.part_start.push(0);
        let topology = Arc::clone(&self.topology);
        for &u in topology.neighbours(site) {
            if self.active[u as usize] {
                self.blocked[u as usize] += 1;
                self.seeds.push(u);
            }
        }
        let k = self.seeds.len();
        // The site leaves; each active neighbour gains a blocked side.
        let stats = &mut self.stats[c as usize];
        stats.subtract(&own);
        stats.perimeter += k as u64;
        self.label[site] = NONE;
        let mut split = Split {
            kept: (k > 0).then_some(c),
            kept_site: self.seeds.first().map(|&s| s as usize),
        };
        if k <= 1 {
            return split;
        }

        // A cheap first answer where there are hubs: most removals split nothing.
        if topology.max_degree() > PROBE_ABOVE_DEGREE && self.all_meet(&topology, k) {
            return split;
        }

        // Interleaved searches from each neighbour, a site at a time (this order decides which
        // part keeps the label and the order parts list their sites in).
        let (base, mask) = self.start_searches(k);
        // Groups, and groups with a searcher still searching.
        let mut groups = k;
        let mut searching = k;
        let mut running = std::mem::take(&mut self.running);
        loop {
            if groups <= 1 {
                // Everything met: no split.
                self.running = running;
                return split;
            }
            if searching <= 1 {
                break;
            }
            let mut kept = 0;
            for r in 0..running.len() {
                let s = running[r];
                let v = self.cursor[s as usize];
                self.cursor[s as usize] = self.next[v as usize];
                for &u in topology.neighbours(v as usize) {
                    if !self.active[u as usize] {
                        continue;
                    }
                    let m = self.mark[u as usize];
                    if m >> self.shift != self.epoch {
                        self.enqueue(s, u, base);
                    } else if let Some(both) = self.merge(s, (m & mask) as u32) {
                        // (`s` still counts as searching until its step ends.)
                        searching -= usize::from(both);
                        groups -= 1;
                    }
                }
                if self.cursor[s as usize] == NONE {
                    let root = self.find(s) as usize;
                    self.group_searching[root] -= 1;
                    if self.group_searching[root] == 0 {
                        searching -= 1;
                    }
                } else {
                    running[kept] = s;
                    kept += 1;
                }
            }
            running.truncate(kept);
        }
        self.running = running;

        // Finished groups become new clusters; the one still searching (or, if all finished, the
        // largest, ties to the smallest searcher) keeps the label.
        for s in 0..k as u32 {
            let root = self.find(s) as usize;
            self.group_sites[root] += u64::from(self.visited[s as usize]);
        }
        let mut keep = None;
        let mut largest: Option<(u32, u64)> = None;
        for g in 0..k as u32 {
            if self.group[g as usize] != g {
                continue;
            }
            if self.group_searching[g as usize] > 0 {
                keep = Some(g);
                break;
            }
            let size = self.group_sites[g as usize];
            if largest.is_none_or(|(_, best)| size > best) {
                largest = Some((g, size));
            }
        }
        let keep = keep.or(largest.map(|(g, _)| g)).unwrap_or(0);
        split.kept_site = Some(self.first[keep as usize] as usize);
        // Parts in ascending order of their root, each labelled and summed.
        for g in 0..k as u32 {
            if self.group[g as usize] != g || g == keep {
                continue;
            }
            self.group_part[g as usize] = self.parts.len() as u32;
            let label = self.stats.len() as u32;
            self.stats.push(Stats::default());
            self.parts.push(label);
        }
        // Each part's searchers, ascending (a counting sort by part).
        let parts = self.parts.len();
        self.part_start.resize(parts + 1, 0);
        for s in 0..k as u32 {
            let root = self.find(s) as usize;
            let part = self.group_part[root];
            if part != NONE {
                self.part_start[part as usize + 1] += 1;
            }
        }
        for i in 0..parts {
            self.part_start[i + 1] += self.part_start[i];
        }
        self.part_members.resize(self.part_start[parts] as usize, 0);
        let mut fill: Vec<u32> = self.part_start[..parts].to_vec();
        for s in 0..k as u32 {
            let root = self.find(s) as usize;
            let part = self.group_part[root];
            if part == NONE {
                continue;
            }
            self.part_members[fill[part as usize] as usize] = s;
            fill[part as usize] += 1;
            let label = self.parts[part as usize];
            let mut sum = Stats::default();
            let mut at = self.first[s as usize];
            while at != NONE {
                self.label[at as usize] = label;
                sum.add(&self.site_stats(at as usize));
                at = self.next[at as usize];
            }
            self.stats[label as usize].add(&sum);
            self.stats[c as usize].subtract(&sum);
        }
        split
    }
}
