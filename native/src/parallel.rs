//! Data-parallel training for `rna train` and `mammal train`: the ranks (threads on several
//! devices of this process, or the processes of an MPI job) and the loop each rank runs.
//!
//! Rank 0 shows progress and writes every file; the others take the same steps and write
//! nothing. The arithmetic of a shared step is the core's ([`tessera_core::train::parallel`]).

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use tessera_core::train::parallel::Threads;
use tessera_core::train::{Collective, Fit, TrainError};

/// How a training run's steps are shared.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ParallelArgs {
    /// Examples collated and run forward together: each step's --batch-size examples are cut
    /// into micro-batches of this size, shared among the ranks (default: the whole batch). Runs
    /// with the same batch size, micro-batch and seed take the same steps on any number of
    /// ranks.
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// Train on several devices of this process, one rank each, e.g. `cuda:0,cuda:1`,
    /// `vulkan:0,vulkan:1`, or `cpu,cpu` (testing: ranks on one device run their forward
    /// passes in turn). Overrides --backend. With --mpi: this machine's devices, one per
    /// process, picked by the process's rank on the machine.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<String>,
    /// Join the MPI job this process was started in, one rank per process:
    /// `mpirun -np 2 tessera rna train … --mpi` (see the README's "Training on several
    /// machines"). Needs a build with `--features mpi`.
    #[arg(long)]
    pub mpi: bool,
}

/// Where a run's ranks live.
pub enum Ranks {
    /// One rank on one device.
    Alone(Device),
    /// One rank per device, each on its own thread.
    Threads(Vec<(Device, Threads)>),
    /// This process is one rank of an MPI job.
    #[cfg(feature = "mpi")]
    Mpi(Device, Box<Mpi>, Aborter),
}

impl Ranks {
    /// The ranks `args` ask for; `device` is the `--backend`'s, for a run on one device or one
    /// rank per process.
    pub fn new(args: &ParallelArgs, device: impl FnOnce() -> Result<Device>) -> Result<Self> {
        if args.mpi {
            #[cfg(feature = "mpi")]
            {
                let (mpi, abort) = Mpi::join()?;
                let device = match args.devices.len() {
                    0 => device(),
                    n => crate::backend::parse_device(&args.devices[mpi.local_rank % n]),
                };
                let device = device.unwrap_or_else(|e| abort.abort(&e));
                return Ok(Self::Mpi(device, Box::new(mpi), abort));
            }
            #[cfg(not(feature = "mpi"))]
            bail!(
                "--mpi: this tessera was built without MPI; build it with `cargo build --release -p tessera --features mpi` (needs Open MPI's libopenmpi-dev and libclang-dev)"
            );
        }
        match args.devices.len() {
            0 => Ok(Self::Alone(device()?)),
            1 => Ok(Self::Alone(crate::backend::parse_device(&args.devices[0])?)),
            world => {
                // A device named twice is made once (a GPU runtime starts once per process)
                // and shared by its ranks.
                let mut made: std::collections::BTreeMap<&str, Device> = Default::default();
                let mut devices = Vec::with_capacity(world);
                for spec in &args.devices {
                    if !made.contains_key(spec.as_str()) {
                        made.insert(spec, crate::backend::parse_device(spec)?);
                    }
                    devices.push(made[spec.as_str()].clone());
                }
                let shared = made.len() < world;
                Ok(Self::Threads(
                    devices
                        .into_iter()
                        .zip(Threads::group(world, shared))
                        .collect(),
                ))
            }
        }
    }

    /// The first rank's device (where the run's model is set up).
    pub fn device(&self) -> &Device {
        match self {
            Self::Alone(device) => device,
            Self::Threads(ranks) => &ranks[0].0,
            #[cfg(feature = "mpi")]
            Self::Mpi(device, ..) => device,
        }
    }

    /// Ranks in the run, over every process.
    pub fn world(&self) -> usize {
        match self {
            Self::Alone(_) => 1,
            Self::Threads(ranks) => ranks.len(),
            #[cfg(feature = "mpi")]
            Self::Mpi(_, mpi, _) => mpi.world(),
        }
    }

    /// Whether this process writes the run's files (rank 0, or the only rank).
    pub fn writes(&self) -> bool {
        match self {
            Self::Alone(_) | Self::Threads(_) => true,
            #[cfg(feature = "mpi")]
            Self::Mpi(_, mpi, _) => mpi.rank() == 0,
        }
    }

    /// Trains: `make(device)` builds a rank's trainer, `share` attaches the rank's collective;
    /// rank 0 runs [`crate::fit::run`] (progress, checkpoints, outputs under `out`).
    pub fn train<T: Fit>(
        self,
        make: impl Fn(&Device) -> Result<T> + Sync,
        share: impl Fn(T, Box<dyn Collective>) -> Result<T> + Sync,
        out: &Path,
        checkpoint_every: usize,
        unit: &str,
    ) -> Result<()> {
        match self {
            Self::Alone(device) => {
                crate::fit::run(&mut make(&device)?, out, checkpoint_every, unit)
            }
            Self::Threads(ranks) => {
                let world = ranks.len();
                eprintln!("{world} ranks on this process's devices");
                std::thread::scope(|scope| {
                    let handles: Vec<_> = ranks
                        .into_iter()
                        .enumerate()
                        .map(|(rank, (device, collective))| {
                            let (make, share) = (&make, &share);
                            scope.spawn(move || -> Result<()> {
                                let trainer = make(&device)
                                    .with_context(|| format!("rank {rank} ({device:?})"))?;
                                let mut trainer = share(trainer, Box::new(collective))?;
                                if rank == 0 {
                                    crate::fit::run(&mut trainer, out, checkpoint_every, unit)
                                } else {
                                    follow(&mut trainer)
                                }
                            })
                        })
                        .collect();
                    // A rank that fails releases the others with a collective error ("rank r
                    // stopped"): report the failure itself, not the ranks it released.
                    let released = |e: &anyhow::Error| {
                        matches!(
                            e.downcast_ref::<TrainError>(),
                            Some(TrainError::Collective(_))
                        )
                    };
                    let mut errors: Vec<anyhow::Error> = handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|_| bail!("a rank panicked")))
                        .filter_map(Result::err)
                        .collect();
                    match errors.iter().position(|e| !released(e)) {
                        Some(cause) => Err(errors.swap_remove(cause)),
                        None => errors.into_iter().next().map_or(Ok(()), Err),
                    }
                })
            }
            #[cfg(feature = "mpi")]
            Self::Mpi(device, mpi, abort) => {
                let rank = mpi.rank();
                // A rank that fails ends the whole job: the others would wait for it forever.
                let trainer = make(&device).unwrap_or_else(|e| abort.abort(&e));
                let mut trainer = share(trainer, mpi).unwrap_or_else(|e| abort.abort(&e));
                let result = if rank == 0 {
                    crate::fit::run(&mut trainer, out, checkpoint_every, unit)
                } else {
                    follow(&mut trainer)
                };
                if let Err(e) = result {
                    abort.abort(&e);
                }
                Ok(())
            }
        }
    }
}

/// A rank other than 0: the same steps, no output.
fn follow(trainer: &mut impl Fit) -> Result<()> {
    while !trainer.done() {
        trainer.step()?;
    }
    Ok(())
}

/// This process's place in an MPI job (Open MPI's `mpirun`, or any MPI launcher): sums go
/// through `MPI_Allreduce` on `MPI_COMM_WORLD`.
#[cfg(feature = "mpi")]
pub struct Mpi {
    world: mpi::topology::SimpleCommunicator,
    /// The rank among this machine's processes (which of its devices to take).
    local_rank: usize,
    // Finalizes MPI when dropped, after the communicator.
    _universe: mpi::environment::Universe,
}

#[cfg(feature = "mpi")]
impl Mpi {
    /// Joins the job; the [`Aborter`] can end it after this handle has moved into a trainer.
    fn join() -> Result<(Self, Aborter)> {
        use mpi::topology::Communicator;
        let universe = mpi::initialize()
            .context("--mpi: MPI could not be initialised (already initialised?)")?;
        let world = universe.world();
        let local_rank = world.split_shared(0).rank() as usize;
        let abort = Aborter {
            rank: world.rank(),
            world: universe.world(),
        };
        let this = Self {
            world,
            local_rank,
            _universe: universe,
        };
        Ok((this, abort))
    }

    fn sum<T: mpi::datatype::Equivalence + Copy>(&self, values: &mut [T]) {
        use mpi::collective::{CommunicatorCollectives, SystemOperation};
        let send = values.to_vec();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
    }
}

/// Ends an MPI job from any rank (`MPI_Abort` on `MPI_COMM_WORLD`, which needs no other rank).
#[cfg(feature = "mpi")]
pub struct Aborter {
    world: mpi::topology::SimpleCommunicator,
    rank: i32,
}

#[cfg(feature = "mpi")]
impl Aborter {
    /// Reports `error` and ends every rank of the job.
    fn abort(&self, error: &anyhow::Error) -> ! {
        use mpi::topology::Communicator;
        eprintln!("error (rank {}): {error:#}", self.rank);
        self.world.abort(1)
    }
}

#[cfg(feature = "mpi")]
impl Collective for Mpi {
    fn rank(&self) -> usize {
        use mpi::topology::Communicator;
        self.world.rank() as usize
    }
    fn world(&self) -> usize {
        use mpi::topology::Communicator;
        self.world.size() as usize
    }
    // MPI's default error handler aborts the whole job on a failed collective (every rank
    // exits; none is left waiting), so these return only on success.
    fn sum_f64(&self, values: &mut [f64]) -> Result<(), tessera_core::train::CollectiveError> {
        self.sum(values);
        Ok(())
    }
    fn sum_f32(&self, values: &mut [f32]) -> Result<(), tessera_core::train::CollectiveError> {
        self.sum(values);
        Ok(())
    }
}
