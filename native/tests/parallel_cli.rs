//! Data-parallel training as users launch it: ranks on threads of one process (`--devices`),
//! and ranks in the processes of an MPI job (`mpirun … --mpi`, in builds with `--features mpi`).
//! Each must end with the weights one process takes on the same micro-batches.

mod common;

use std::path::Path;

use common::{fails, ok, p, repo, scratch, shared, tensors};

/// Tiny BMFM-RNA runs on pbmc3k: 8 cells a step in micro-batches of 2.
fn rna(out: &Path, extra: &[&str]) -> Vec<String> {
    let data = shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad");
    let mut args: Vec<String> = [
        "rna",
        "train",
        "--data",
        p(&data),
        "--out",
        p(out),
        "--batch-size",
        "8",
        "--micro-batch",
        "2",
        "--warmup",
        "2",
        "--steps",
        "6",
        "--checkpoint-every",
        "3",
    ]
    .map(String::from)
    .to_vec();
    args.extend(common::RNA_TINY.iter().chain(extra).map(|s| s.to_string()));
    args
}

/// A tiny MAMMAL run on two tasks (classification and regression): 8 prompts a step in
/// micro-batches of 4.
fn mammal(out: &Path, extra: &[&str]) -> Vec<String> {
    let tasks = repo().join("native/tasks");
    let tokenizer = shared().join("data/mammal-tokenizer");
    let mut args: Vec<String> = [
        "mammal",
        "train",
        "--task",
        p(&tasks.join("b3db-bbb.json")),
        "--task",
        p(&tasks.join("esol.json")),
        "--tokenizer",
        p(&tokenizer),
        "--out",
        p(out),
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--micro-batch",
        "4",
        "--warmup",
        "2",
        "--checkpoint-every",
        "0",
    ]
    .map(String::from)
    .to_vec();
    args.extend(
        common::MAMMAL_TINY
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    args
}

fn run(args: &[String]) -> String {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The model's weights as f32, by tensor name.
fn weights(out: &Path) -> Vec<(String, Vec<f32>)> {
    tensors(&out.join("model/model.safetensors"))
        .into_iter()
        .map(|(name, dtype, bytes)| {
            assert_eq!(dtype, safetensors::Dtype::F32, "{name}");
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

/// Asserts two runs' models hold the same weights up to float rounding (the ranks add their
/// gradients in another order than one process does).
fn same_weights(a: &Path, b: &Path) {
    let (a, b) = (weights(a), weights(b));
    assert_eq!(a.len(), b.len());
    let mut worst = (0f32, String::new());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        for (u, v) in x.iter().zip(y) {
            let error = (u - v).abs() / u.abs().max(1e-2);
            if error > worst.0 {
                worst = (error, name.clone());
            }
        }
    }
    assert!(
        worst.0 < 1e-3,
        "{} differs by {} (relative)",
        worst.1,
        worst.0
    );
}

#[test]
fn ranks_on_threads_train_the_weights_of_one_process() {
    let dir = scratch("parallel-threads");
    let (one, two) = (dir.join("one"), dir.join("two"));
    run(&rna(&one, &[]));
    let log = run(&rna(&two, &["--devices", "cpu,cpu"]));
    assert!(log.is_empty(), "the CLI's report goes to stderr: {log}");
    same_weights(&one, &two);
    for file in ["checkpoints/step-3/trainer.json", "history.json"] {
        assert!(two.join(file).is_file(), "{file} missing");
    }

    let (one, two) = (dir.join("mammal-one"), dir.join("mammal-two"));
    run(&mammal(&one, &[]));
    let text = run(&mammal(&two, &["--devices", "cpu,cpu"]));
    assert!(text.contains("esol (held out)"), "{text}");
    same_weights(&one, &two);
}

/// Two ranks sharing the Vulkan device (Mesa's software driver in CI; set
/// TESSERA_REQUIRE_VULKAN=1 to make a missing driver fail).
#[test]
fn ranks_on_one_vulkan_device_train_the_weights_of_one_rank() {
    let dir = scratch("parallel-vulkan");
    let (one, two) = (dir.join("one"), dir.join("two"));
    let args = rna(&one, &["--backend", "vulkan"]);
    let first = common::tessera(&args.iter().map(String::as_str).collect::<Vec<_>>());
    if !common::vulkan_ran(&first) {
        return;
    }
    run(&rna(&two, &["--devices", "vulkan,vulkan"]));
    same_weights(&one, &two);
}

#[test]
fn bad_parallel_settings_are_refused_by_name() {
    let dir = scratch("parallel-refused");
    let refuse = |args: Vec<String>| fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // The whole batch as one micro-batch leaves the second rank nothing.
    let mut args = rna(&dir.join("a"), &["--devices", "cpu,cpu"]);
    let at = args.iter().position(|a| a == "--micro-batch").unwrap();
    args.drain(at..at + 2);
    let error = refuse(args);
    assert!(error.contains("every rank needs one"), "{error}");
    let mut args = rna(&dir.join("b"), &[]);
    let at = args.iter().position(|a| a == "--micro-batch").unwrap();
    args[at + 1] = "9".into();
    let error = refuse(args);
    assert!(error.contains("micro_batch 9"), "{error}");
    let error = refuse(rna(&dir.join("c"), &["--devices", "cpu,tpu:0"]));
    assert!(error.contains("--devices tpu:0"), "{error}");
    #[cfg(not(feature = "mpi"))]
    {
        let error = refuse(rna(&dir.join("d"), &["--mpi"]));
        assert!(error.contains("--features mpi"), "{error}");
    }
}

/// `mpirun -np <ranks> tessera <args> --mpi`.
#[cfg(feature = "mpi")]
fn mpirun(ranks: usize, args: &[String]) -> String {
    let output = std::process::Command::new("mpirun")
        // CI runs as root; two ranks on a two-core machine are not oversubscribed, but a
        // busier one may be.
        .args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(ranks.to_string())
        .arg(common::BIN)
        .args(args)
        .arg("--mpi")
        .output()
        .expect("mpirun (Open MPI's openmpi-bin) on PATH");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "mpirun {args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned() + &stderr
}

#[cfg(feature = "mpi")]
#[test]
fn mpi_processes_train_the_weights_of_one_process_and_resume() {
    let dir = scratch("parallel-mpi");
    let (one, two) = (dir.join("one"), dir.join("two"));
    run(&rna(&one, &[]));
    let log = mpirun(2, &rna(&two, &[]));
    assert_eq!(
        log.matches("model →").count(),
        1,
        "rank 0 alone reports: {log}"
    );
    same_weights(&one, &two);

    // Resumed mid-run on two processes: the uninterrupted two-process run, bit for bit.
    let resumed = dir.join("resumed");
    let checkpoint = two.join("checkpoints/step-3");
    let args: Vec<String> = [
        "rna",
        "train",
        "--data",
        p(&shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad")),
        "--out",
        p(&resumed),
        "--resume",
        p(&checkpoint),
    ]
    .map(String::from)
    .to_vec();
    let log = mpirun(2, &args);
    assert!(log.contains("resuming at step 3 of 6"), "{log}");
    assert!(
        tensors(&resumed.join("model/model.safetensors"))
            == tensors(&two.join("model/model.safetensors")),
        "a resumed run ends with the weights of an uninterrupted one"
    );

    let (one, two) = (dir.join("mammal-one"), dir.join("mammal-two"));
    run(&mammal(&one, &[]));
    let log = mpirun(2, &mammal(&two, &[]));
    assert_eq!(log.matches("esol (held out)").count(), 1, "{log}");
    same_weights(&one, &two);

    // A streamed corpus in two streams: each process reads its own shards.
    let corpus = dir.join("corpus");
    ok(&[
        "data",
        "shard",
        "--data",
        p(&shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad")),
        "--cells-per-shard",
        "700",
        "--out",
        p(&corpus),
    ]);
    let streamed = |out: &Path| {
        let mut args = rna(out, &["--corpus", p(&corpus), "--streams", "2"]);
        let at = args.iter().position(|a| a == "--data").unwrap();
        args.drain(at..at + 2);
        args
    };
    let (one, two) = (dir.join("corpus-one"), dir.join("corpus-two"));
    run(&streamed(&one));
    mpirun(2, &streamed(&two));
    same_weights(&one, &two);

    // One rank that fails (here: a device it cannot open) ends the job; the other is not left
    // waiting for it.
    let mut child = std::process::Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2"])
        .arg(common::BIN)
        .args(rna(
            &dir.join("failing"),
            &["--mpi", "--devices", "cpu,tpu:0"],
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mpirun");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("a job with a failed rank still ran after 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("error (rank 1): --devices tpu:0"),
        "{stderr}"
    );
}
