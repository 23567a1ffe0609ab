//! The clusters (4-connected components) of a lattice's active sites — occupied and not attacked —
//! kept up to date as sites are removed, with per-cluster sums the rules read: size, sites on each
//! edge, and perimeter (blocked neighbours, off-board ones included).
//!
//! Written here because no crate offers decremental connectivity (petgraph recomputes components
//! from scratch). Removing a site starts one breadth-first search from each active neighbour and
//! advances them in turn; searches that meet merge; once all but one have run out, those that ran
//! out are the split-off parts and only their sites are relabelled and summed. A site is relabelled
//! O(log N) times over a game, and nothing is allocated after construction.

/// Sums over a cluster's sites.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub size: u32,
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
    /// Σ over sites of their blocked 4-neighbours (walls, attacked sites, off-board).
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

/// What one removal did to the removed site's cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The cluster the site was in, which keeps its label for the part still being searched when
    /// the others ran out; `None` when the site was the cluster's last.
    pub kept: Option<u32>,
    /// One site of the kept part (a start for [`Clusters::for_each_site`]).
    pub kept_site: Option<usize>,
    /// Labels of the parts split off (0 to 3).
    pub parts: [u32; 3],
    pub part_count: usize,
    /// The search group of each part (for [`Clusters::part_sites`]).
    groups: [usize; 3],
}

impl Split {
    pub fn parts(&self) -> &[u32] {
        &self.parts[..self.part_count]
    }
}

const NONE: u32 = u32::MAX;

#[derive(Clone)]
pub struct Clusters {
    n: usize,
    active: Vec<bool>,
    label: Vec<u32>,
    /// Blocked 4-neighbours of each site (off-board counted).
    blocked: Vec<u8>,
    stats: Vec<Stats>,
    /// Search marks: `epoch << 2 | searcher`.
    mark: Vec<u64>,
    epoch: u64,
    /// One queue per searcher (at most 4: a site's neighbours); a queue keeps every site its
    /// search visited (`head` is the next to expand).
    queues: [Vec<u32>; 4],
    /// The queue of whole-cluster walks (labelling, enumeration).
    walk: Vec<u32>,
    heads: [usize; 4],
    /// Merged searches: a tiny union-find over the 4 searchers.
    group: [usize; 4],
}

impl Clusters {
    /// Labels the clusters of `active` (row-major n×n).
    pub fn new(n: usize, active: Vec<bool>) -> Self {
        let count = n * n;
        let mut blocked = vec![0u8; count];
        for (site, b) in blocked.iter_mut().enumerate() {
            *b = 4 - neighbours(n, site).filter(|&u| active[u]).count() as u8;
        }
        let mut clusters = Self {
            n,
            active,
            label: vec![NONE; count],
            blocked,
            // Every removal adds at most 3 labels.
            stats: Vec::with_capacity(4 * count + 1),
            mark: vec![0; count],
            epoch: 0,
            queues: std::array::from_fn(|_| Vec::with_capacity(count)),
            walk: Vec::with_capacity(count),
            heads: [0; 4],
            group: [0, 1, 2, 3],
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
    pub fn blocked(&self, site: usize) -> u8 {
        self.blocked[site]
    }

    fn site_stats(&self, site: usize) -> Stats {
        let (i, j) = (site / self.n, site % self.n);
        let last = self.n - 1;
        Stats {
            size: 1,
            left: u32::from(j == 0),
            right: u32::from(j == last),
            top: u32::from(i == 0),
            bottom: u32::from(i == last),
            perimeter: u32::from(self.blocked[site]),
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
            for u in neighbours(self.n, v) {
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
        let stamp = self.epoch << 2;
        let mut queue = std::mem::take(&mut self.walk);
        queue.clear();
        queue.push(start as u32);
        self.mark[start] = stamp;
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            f(v);
            for u in neighbours(self.n, v) {
                if self.active[u] && self.label[u] == label && self.mark[u] != stamp {
                    self.mark[u] = stamp;
                    queue.push(u as u32);
                }
            }
        }
        self.walk = queue;
    }

    /// The sites of part `i` of `split`, the last [`Clusters::remove`]'s (valid until the next).
    pub fn part_sites<'a>(&'a self, split: &Split, i: usize) -> impl Iterator<Item = usize> + 'a {
        let group = split.groups[i];
        (0..4)
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
        let mut seeds = [0u32; 4];
        let mut k = 0;
        for u in neighbours(self.n, site) {
            if self.active[u] {
                self.blocked[u] += 1;
                seeds[k] = u as u32;
                k += 1;
            }
        }
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
            kept_site: (k > 0).then_some(seeds[0] as usize),
            parts: [NONE; 3],
            part_count: 0,
            groups: [0; 3],
        };
        self.group = [0, 1, 2, 3];
        if k <= 1 {
            return split;
        }

        // Interleaved searches from each neighbour.
        self.epoch += 1;
        let base = self.epoch << 2;
        self.heads = [0; 4];
        for (s, &seed) in seeds[..k].iter().enumerate() {
            self.queues[s].push(seed);
            self.mark[seed as usize] = base | s as u64;
        }
        loop {
            // Groups still searching; stop when at most one is.
            let mut searching = [false; 4];
            for s in 0..k {
                if self.heads[s] < self.queues[s].len() {
                    searching[self.group_of(s)] = true;
                }
            }
            let groups_searching = searching.iter().filter(|&&b| b).count();
            let mut distinct = [false; 4];
            for s in 0..k {
                distinct[self.group_of(s)] = true;
            }
            let groups = distinct.iter().filter(|&&b| b).count();
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
                for u in neighbours(self.n, v) {
                    if !self.active[u] {
                        continue;
                    }
                    let m = self.mark[u];
                    if m >> 2 != self.epoch {
                        self.mark[u] = base | s as u64;
                        self.queues[s].push(u as u32);
                    } else {
                        let (a, b) = (self.group_of(s), self.group_of((m & 3) as usize));
                        if a != b {
                            self.group[a.max(b)] = a.min(b);
                        }
                    }
                }
            }
        }

        // Finished groups become new clusters; the one still searching (or, if all finished, the
        // largest) keeps the label.
        let mut sizes = [0usize; 4];
        let mut finished = [true; 4];
        for s in 0..k {
            let g = self.group_of(s);
            sizes[g] += self.queues[s].len();
            if self.heads[s] < self.queues[s].len() {
                finished[g] = false;
            }
        }
        let roots: Vec<usize> = (0..k).filter(|&s| self.group_of(s) == s).collect();
        let keep = roots
            .iter()
            .copied()
            .find(|&g| !finished[g])
            .unwrap_or_else(|| {
                roots.iter().copied().fold(
                    roots[0],
                    |best, g| if sizes[g] > sizes[best] { g } else { best },
                )
            });
        split.kept_site = Some(self.queues[keep][0] as usize);
        for &g in &roots {
            if g == keep {
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
            split.parts[split.part_count] = label;
            split.groups[split.part_count] = g;
            split.part_count += 1;
        }
        split
    }
}

/// The in-board 4-neighbours of a site.
pub fn neighbours(n: usize, site: usize) -> impl Iterator<Item = usize> {
    let (i, j) = (site / n, site % n);
    let up = (i > 0).then(|| site - n);
    let down = (i + 1 < n).then(|| site + n);
    let left = (j > 0).then(|| site - 1);
    let right = (j + 1 < n).then(|| site + 1);
    [up, left, right, down].into_iter().flatten()
}
