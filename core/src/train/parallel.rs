//! Data-parallel steps: a step's batch is cut into micro-batches shared among ranks, and the loss
//! terms' sums and counts, then the gradients, are summed across ranks before the update.
//!
//! Every rank then takes the step one device would take on the whole batch split the same way:
//! the loss is a function of batch-wide sums and counts ([`Part`]), so each rank backpropagates
//! its own sums scaled by d loss / d sum at the batch-wide values, and the gradients add up to
//! the single device's. Moving the numbers is a [`Collective`]'s job ([`Alone`] for one process;
//! the CLI's MPI engine for several); this module only decides what is summed, and in which order.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use super::fit::{StepLog, TrainError, mix, seed_step};
use super::objectives::{Combine, LossTerm, Part};
use super::optimizer::AdamW;

/// An engine that sums numbers across the ranks of a data-parallel run. Every rank calls each
/// operation in the same order with the same length; the result is the same on every rank.
pub trait Collective {
    /// This process's rank, `0..world`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn world(&self) -> usize;
    /// Replaces `values` by their element-wise sum over every rank.
    fn sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError>;
    /// Replaces `values` by their element-wise sum over every rank.
    fn sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError>;
    /// Held while a micro-batch is seeded and run forward, where ranks share one device and so
    /// one random generator (dropout): their draws then do not interleave.
    fn forward_lock(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        None
    }
}

/// A collective operation that did not complete.
#[derive(Debug, thiserror::Error)]
#[error("{operation} across {world} ranks failed")]
pub struct CollectiveError {
    pub operation: &'static str,
    pub world: usize,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// One rank alone: sums are the values themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Alone;

impl Collective for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn world(&self) -> usize {
        1
    }
    fn sum_f64(&self, _: &mut [f64]) -> Result<(), CollectiveError> {
        Ok(())
    }
    fn sum_f32(&self, _: &mut [f32]) -> Result<(), CollectiveError> {
        Ok(())
    }
}

/// How a step's batch is shared: micro-batches of `micro_batch` examples, the `k`-th taken by
/// rank `k mod world`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub micro_batch: usize,
    pub rank: usize,
    pub world: usize,
}

impl Split {
    /// Checks that a batch of `batch` examples (out of `available`) gives every rank at least
    /// one micro-batch of `micro_batch`; `None` for `micro_batch` means the whole batch.
    pub fn new(
        batch: usize,
        micro_batch: Option<usize>,
        available: usize,
        collective: &dyn Collective,
    ) -> Result<Self, TrainError> {
        let micro_batch = micro_batch.unwrap_or(batch);
        let (rank, world) = (collective.rank(), collective.world());
        if micro_batch == 0 || micro_batch > batch {
            return Err(TrainError::Setup(format!(
                "micro_batch {micro_batch}: must be between 1 and batch_size ({batch})"
            )));
        }
        let count = batch.min(available).div_ceil(micro_batch);
        if count < world {
            return Err(TrainError::Setup(format!(
                "batch_size {batch} (of {available} examples) in micro-batches of {micro_batch} \
                 gives {count} micro-batches for {world} ranks; every rank needs one"
            )));
        }
        Ok(Self {
            micro_batch,
            rank,
            world,
        })
    }

    /// The micro-batches (indices) this rank takes of a step's `count`.
    pub fn mine(&self, count: usize) -> Vec<usize> {
        (self.rank..count).step_by(self.world).collect()
    }

    /// The micro-batches of a batch of `rows`: runs of `micro_batch` rows.
    pub fn micro_batches<'a>(&self, rows: &'a [usize]) -> Vec<&'a [usize]> {
        rows.chunks(self.micro_batch).collect()
    }
}

/// The seed of micro-batch `k` of step `step` for the random stream `tag`: micro-batch 0 keeps
/// the stream a whole-batch step had, so runs without micro-batches are unchanged.
pub fn micro_seed(seed: u64, step: usize, k: usize, tag: u64) -> u64 {
    let whole = mix(seed, step as u64, tag);
    if k == 0 {
        whole
    } else {
        mix(whole, k as u64, 0x6d69_6372)
    }
}

/// Seeds `device`'s generator for micro-batch `k` of step `step` (dropout masks), so a rank draws
/// what a single device would for the same micro-batch.
pub fn seed_micro(device: &Device, seed: u64, step: usize, k: usize) {
    if k == 0 {
        seed_step(device, seed, step);
    } else {
        device.seed(micro_seed(seed, step, k, 0xd209));
    }
}

/// What one data-parallel step shares: its batch, how the batch is split and among whom, and
/// how the loss terms combine.
pub struct Shared<'a> {
    pub step: usize,
    /// The micro-batches this rank runs (indices into the step's).
    pub local: &'a [usize],
    pub split: &'a Split,
    pub collective: &'a dyn Collective,
    pub combine: Combine,
}

/// One data-parallel step of `net`: `terms_of(k)` runs micro-batch `k` forward and returns
/// its loss terms, the same names in the same order for every micro-batch;
/// the batch-wide loss is `combine` of the terms' values. Every rank ends with the same weights.
pub fn descend<M: Module>(
    optimizer: &mut AdamW,
    net: M,
    shared: Shared<'_>,
    mut terms_of: impl FnMut(usize) -> Result<Vec<LossTerm>, TrainError>,
) -> Result<(M, StepLog), TrainError> {
    let Shared {
        step,
        local,
        split,
        collective,
        combine,
    } = shared;
    let mut terms: Vec<LossTerm> = Vec::new();
    for &k in local {
        let new = {
            let _one_at_a_time = collective.forward_lock();
            terms_of(k)?
        };
        if terms.is_empty() {
            terms = new;
            continue;
        }
        if new.len() != terms.len() || new.iter().zip(&terms).any(|(a, b)| a.name != b.name) {
            return Err(TrainError::Setup(format!(
                "step {step}: micro-batch {k} has other loss terms than the first"
            )));
        }
        for (term, more) in terms.iter_mut().zip(new) {
            term.part = Part {
                sum: term.part.sum.clone() + more.part.sum,
                count: term.part.count + more.part.count,
                reduce: term.part.reduce,
            };
        }
    }
    if terms.is_empty() {
        return Err(TrainError::Setup(format!(
            "step {step}: rank {} has no micro-batch",
            split.rank
        )));
    }

    // [number of terms, counts…, sums…], summed over the ranks.
    let n = terms.len();
    let mut stats = Vec::with_capacity(1 + 2 * n);
    stats.push(n as f64);
    stats.extend(terms.iter().map(|t| t.part.count));
    stats.extend(
        terms
            .iter()
            .map(|t| t.part.sum.clone().into_scalar::<f32>() as f64),
    );
    collective.sum_f64(&mut stats)?;
    if stats[0] != (n * split.world) as f64 {
        return Err(TrainError::Setup(format!(
            "step {step}: the ranks computed different loss terms ({n} here)"
        )));
    }
    let (counts, sums) = stats[1..].split_at(n);
    let values: Vec<Option<(f64, f64)>> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| t.part.reduce.value(sums[i], counts[i]))
        .collect();
    let weighted: Vec<(f64, Option<f64>)> = terms
        .iter()
        .zip(&values)
        .map(|(t, v)| (t.weight, v.map(|v| v.0)))
        .collect();
    let Some((total, d_total)) = combine.total(&weighted) else {
        return Err(TrainError::Setup(format!(
            "step {step}: no loss term has any target (check the objectives and labels)"
        )));
    };
    if !total.is_finite() {
        return Err(TrainError::Setup(format!(
            "step {step}: the loss is {total}; lower the learning rate"
        )));
    }

    // This rank's share of the batch-wide loss's gradient: Σ d loss/d sumᵢ · sumᵢ.
    let surrogate = terms
        .iter()
        .zip(&values)
        .zip(&d_total)
        .filter_map(|((t, v), &d)| {
            let d_sum = v.map(|v| v.1)? * d;
            (d_sum != 0.0).then(|| t.part.sum.clone().mul_scalar(d_sum))
        })
        .reduce(|a, b| a + b)
        .expect("a present term has a non-zero weight");
    let mut grads = GradientsParams::from_grads(surrogate.backward(), &net);
    if split.world > 1 {
        sum_gradients(&net, &mut grads, collective)?;
    }
    let (net, report) = optimizer.step(net, grads);
    let logged = terms
        .iter()
        .zip(&values)
        .filter_map(|(t, v)| v.map(|v| (t.name.clone(), v.0)))
        .collect();
    Ok((
        net,
        StepLog {
            step,
            loss: total,
            terms: logged,
            lr: report.lr,
            grad_norm: report.grad_norm,
        },
    ))
}

/// Sums every parameter's gradient over the ranks, through the host, in one collective call.
/// A parameter no rank has a gradient for stays without one (the optimizer leaves it alone).
fn sum_gradients<M: Module>(
    net: &M,
    grads: &mut GradientsParams,
    collective: &dyn Collective,
) -> Result<(), CollectiveError> {
    let mut gather = Gather {
        grads,
        flat: Vec::new(),
        present: Vec::new(),
        device: None,
    };
    net.visit(&mut gather);
    let Gather {
        mut flat,
        present,
        device,
        ..
    } = gather;
    let params = present.len();
    flat.extend(present);
    collective.sum_f32(&mut flat)?;
    let (values, present) = flat.split_at(flat.len() - params);
    let Some(device) = device else {
        return Ok(());
    };
    net.visit(&mut Scatter {
        grads,
        values,
        present,
        next: 0,
        param: 0,
        device,
    });
    Ok(())
}

/// Every parameter's gradient, flattened in visiting order (zeros where there is none), and
/// whether it had one.
struct Gather<'a> {
    grads: &'a mut GradientsParams,
    flat: Vec<f32>,
    present: Vec<f32>,
    device: Option<Device>,
}

impl ModuleVisitor for Gather<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let n: usize = param.shape().num_elements();
        match self.grads.remove::<D>(param.id) {
            Some(grad) => {
                self.device.get_or_insert_with(|| grad.device());
                let values = grad
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("converted to f32");
                self.flat.extend(values);
                self.present.push(1.0);
            }
            None => {
                self.flat.extend(std::iter::repeat_n(0.0, n));
                self.present.push(0.0);
            }
        }
    }
}

/// The summed gradients back onto the device, in [`Gather`]'s order.
struct Scatter<'a> {
    grads: &'a mut GradientsParams,
    values: &'a [f32],
    present: &'a [f32],
    next: usize,
    param: usize,
    device: Device,
}

impl ModuleVisitor for Scatter<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.shape();
        let n = shape.num_elements();
        let values = &self.values[self.next..self.next + n];
        self.next += n;
        let had = self.present[self.param] > 0.0;
        self.param += 1;
        if had {
            let tensor =
                Tensor::<D>::from_data(TensorData::new(values.to_vec(), shape), &self.device);
            self.grads.register(param.id, tensor);
        }
    }
}

/// Ranks that are threads of one process, one per device: each writes its values into its slot,
/// and every rank adds the slots up in rank order, so all get the same sums bit for bit.
///
/// A rank whose handle is dropped (its thread ended, on an error or a panic) releases the
/// others with an error instead of leaving them waiting.
pub struct Threads {
    rank: usize,
    world: usize,
    group: std::sync::Arc<Group>,
}

struct Group {
    state: std::sync::Mutex<Meeting>,
    turn: std::sync::Condvar,
    /// Taken around forward passes when the ranks share a device.
    forward: Option<std::sync::Mutex<()>>,
}

/// Where the group is: values each rank brought, how many ranks arrived at this meeting, and
/// whether a rank has left.
struct Meeting {
    slots: Vec<Vec<f64>>,
    slots_f32: Vec<Vec<f32>>,
    arrived: usize,
    generation: u64,
    left: Option<usize>,
}

impl Threads {
    /// A group of `world` ranks; hand element `r` to the thread of rank `r`. Ranks on one
    /// `shared_device` run their forward passes one at a time (see [`Collective::forward_lock`]).
    pub fn group(world: usize, shared_device: bool) -> Vec<Threads> {
        let group = std::sync::Arc::new(Group {
            state: std::sync::Mutex::new(Meeting {
                slots: vec![Vec::new(); world],
                slots_f32: vec![Vec::new(); world],
                arrived: 0,
                generation: 0,
                left: None,
            }),
            turn: std::sync::Condvar::new(),
            forward: shared_device.then(|| std::sync::Mutex::new(())),
        });
        (0..world)
            .map(|rank| Threads {
                rank,
                world,
                group: group.clone(),
            })
            .collect()
    }

    /// Waits until every rank has arrived at this meeting (with `bring` done under the lock).
    fn meet(
        &self,
        operation: &'static str,
        bring: impl FnOnce(&mut Meeting),
    ) -> Result<std::sync::MutexGuard<'_, Meeting>, CollectiveError> {
        let left = |rank: usize| CollectiveError {
            operation,
            world: self.world,
            source: format!("rank {rank} stopped").into(),
        };
        let mut state = self.group.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rank) = state.left {
            return Err(left(rank));
        }
        bring(&mut state);
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived == self.world {
            state.arrived = 0;
            state.generation += 1;
            self.group.turn.notify_all();
            return Ok(state);
        }
        while state.generation == generation {
            if let Some(rank) = state.left {
                return Err(left(rank));
            }
            state = self
                .group
                .turn
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(state)
    }

    fn sum<T: Copy + std::ops::AddAssign>(
        &self,
        operation: &'static str,
        values: &mut [T],
        slots: fn(&mut Meeting) -> &mut Vec<Vec<T>>,
    ) -> Result<(), CollectiveError> {
        let rank = self.rank;
        // Every rank reads the slots after all wrote them, and before any writes again: the
        // second meeting keeps the next call's writes out until all have read.
        {
            let mut state = self.meet(operation, |m| slots(m)[rank] = values.to_vec())?;
            let slots = slots(&mut state);
            if slots.iter().any(|s| s.len() != values.len()) {
                return Err(CollectiveError {
                    operation,
                    world: self.world,
                    source: "ranks brought different lengths".into(),
                });
            }
            values.copy_from_slice(&slots[0]);
            for slot in &slots[1..] {
                for (v, s) in values.iter_mut().zip(slot) {
                    *v += *s;
                }
            }
        }
        drop(self.meet(operation, |_| ())?);
        Ok(())
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world(&self) -> usize {
        self.world
    }
    fn sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError> {
        self.sum("sum (f64)", values, |m| &mut m.slots)
    }
    fn sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError> {
        self.sum("sum (f32)", values, |m| &mut m.slots_f32)
    }
    fn forward_lock(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        let lock = self.group.forward.as_ref()?;
        Some(lock.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        let mut state = self.group.state.lock().unwrap_or_else(|e| e.into_inner());
        state.left.get_or_insert(self.rank);
        self.group.turn.notify_all();
    }
}
