//! A session process's start-up (spawn through `gatehouse exec-agent` until `/ping` answers), sandboxed against
//! `isolation = "none"`, with the reference agent (`gatehouse agent`) as the session's program. Criterion
//! measures each; a final interleaved run prints the medians and their ratios (target: sandboxed <= 1.5x), with
//! a sandboxed start under `egress = "all"` (slirp4netns attached) when slirp4netns is installed, and a start in
//! the sandbox gatehouse uses without root (user namespaces, `exec-agent`'s two stages, dialed through the first).
//! Needs root (the sandbox's per-session uids; the user-namespace start runs as root too, its mapping of uid 0
//! aside the same steps); without it only the unsandboxed start is measured.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::agent::launch::{Hidden, Launcher, SandboxMode};
use gatehouse::agent::supervisor::{ProcessSpec, Supervisor};
use gatehouse::clock::SystemClock;
use gatehouse::config::{Egress, Isolation, LimitsConfig, SandboxConfig};

struct Bench {
    rt: tokio::runtime::Runtime,
    sup: Supervisor,
    /// The same, its launcher in the user-namespace mode gatehouse has without root.
    sup_userns: Supervisor,
    _tmp: tempfile::TempDir,
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"));
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let sandbox = SandboxConfig {
        workdir_root: tmp.path().join("sessions"),
        ..SandboxConfig::default()
    };
    let launcher = Launcher::new(exe.clone(), &data, sandbox, Hidden::default());
    let mut userns = launcher.clone();
    userns.mode = SandboxMode::UserNamespace;
    let supervisor = |launcher: Launcher| {
        let _g = rt.enter();
        Supervisor::new(
            exe.clone(),
            data.clone(),
            gatehouse::outbound::client(),
            Arc::new(SystemClock),
            1024,
        )
        .with_launcher(launcher)
    };
    let (sup, sup_userns) = (supervisor(launcher), supervisor(userns));
    Bench {
        rt,
        sup,
        sup_userns,
        _tmp: tmp,
    }
}

fn spec(isolation: Isolation, egress: Egress) -> ProcessSpec {
    ProcessSpec {
        runtime: "bench".into(),
        arn: format!("arn:bench:{isolation:?}:{egress:?}"),
        argv: vec!["gatehouse".into(), "agent".into()],
        idle_timeout: Duration::from_secs(3600),
        max_lifetime: Duration::from_secs(3600),
        limits: LimitsConfig::default(),
        isolation,
        egress,
        keep_workdir: false,
        port: 8080,
    }
}

/// One start (timed) and stop (not timed); `userns`: in the sandbox gatehouse has without root.
fn start_once(b: &Bench, spec: &ProcessSpec, userns: bool) -> Duration {
    let sup = if userns { &b.sup_userns } else { &b.sup };
    b.rt.block_on(async {
        let session = gatehouse::util::random_alnum(36);
        let t = Instant::now();
        let (_p, lease) = sup.acquire(spec, &session, "bench").await.unwrap();
        let took = t.elapsed();
        drop(lease);
        sup.stop(&spec.arn, &session, Duration::ZERO).await;
        took
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let b = setup();
    let root = nix::unistd::geteuid().is_root();
    let mut modes = vec![("isolation_none", spec(Isolation::None, Egress::None), false)];
    let slirp = std::path::Path::new(gatehouse::config::sandbox::DEFAULT_SLIRP4NETNS).is_file();
    if root {
        modes.push(("sandboxed", spec(Isolation::Sandbox, Egress::None), false));
        modes.push((
            "sandboxed_user_namespaces",
            spec(Isolation::Sandbox, Egress::None),
            true,
        ));
        if slirp {
            modes.push((
                "sandboxed_egress_all",
                spec(Isolation::Sandbox, Egress::All),
                false,
            ));
        } else {
            eprintln!("no slirp4netns: the egress = \"all\" start is not measured");
        }
    } else {
        eprintln!("not root: the sandboxed start is not measured");
    }
    let mut g = c.benchmark_group("session_start");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    for (name, s, userns) in &modes {
        g.bench_function(*name, |bench| {
            bench.iter_custom(|iters| (0..iters).map(|_| start_once(&b, s, *userns)).sum())
        });
    }
    g.finish();
    if root {
        // Interleaved, so drift on a shared machine hits both alike.
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
        for _ in 0..30 {
            for (i, (_, s, userns)) in modes.iter().enumerate() {
                samples[i].push(start_once(&b, s, *userns));
            }
        }
        let medians: Vec<Duration> = samples.into_iter().map(median).collect();
        let (n, s) = (medians[0], medians[1]);
        println!(
            "session start-up, median of 30 interleaved: isolation=none {n:?}, sandboxed {s:?}, ratio {:.2}x (target <= 1.5x)",
            s.as_secs_f64() / n.as_secs_f64()
        );
        let u = medians[2];
        println!(
            "sandboxed in user namespaces (gatehouse without root) {u:?}: {:.2}x isolation=none, {:.2}x sandboxed",
            u.as_secs_f64() / n.as_secs_f64(),
            u.as_secs_f64() / s.as_secs_f64()
        );
        if let Some(e) = medians.get(3) {
            println!(
                "sandboxed with egress = \"all\" {e:?}: {:.2}x isolation=none, {:.2}x sandboxed",
                e.as_secs_f64() / n.as_secs_f64(),
                e.as_secs_f64() / s.as_secs_f64()
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
