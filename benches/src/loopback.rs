//! Loopback runs: `bench-server` processes started on 127.0.0.1, pinned
//! apart from the load generator when the machine has the cores.
//!
//! With two or more cores (and `taskset`, from util-linux), the servers
//! run on the last core and the load generator on the others, so the load
//! never takes CPU from the server under test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// CPU lists for `taskset -c`: the servers', and the load generator's.
#[derive(Clone, Debug)]
pub struct Pinning {
    /// The servers' CPUs (the last core).
    pub server: String,
    /// The load generator's CPUs (the others).
    pub load: String,
}

impl Pinning {
    /// The last core for the servers, the others for the load; `None` on
    /// one core or without `taskset`.
    pub fn detect(cores: usize) -> Option<Pinning> {
        if cores < 2 {
            return None;
        }
        let ok = Command::new("taskset")
            .args(["-c", "0", "true"])
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Pinning {
            server: (cores - 1).to_string(),
            load: if cores == 2 {
                "0".to_owned()
            } else {
                format!("0-{}", cores - 2)
            },
        })
    }

    /// Pins this process (every thread it has now, and so those it starts
    /// later) to the load generator's CPUs.
    pub fn pin_self_to_load(&self) -> std::io::Result<()> {
        let status = Command::new("taskset")
            .args([
                "-a",
                "-c",
                "-p",
                &self.load,
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("taskset failed: {status}")))
        }
    }
}

/// A command, run under `taskset -c cpus` when pinned.
pub fn pinned_command(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// The request rate h2load reports for its measured run (`finished in …,
/// N req/s`).
pub fn h2load_rps(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|l| {
        l.trim()
            .strip_prefix("finished in ")?
            .split(", ")
            .nth(1)?
            .strip_suffix(" req/s")?
            .parse::<f64>()
            .ok()
    })
}

/// The latencies, in milliseconds and sorted, of the HTTP 200 answers in an
/// h2load `--log-file` (start, status, microseconds, tab-separated).
pub fn h2load_latencies_ms(log: &str) -> Vec<f64> {
    let mut ms: Vec<f64> = log
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let _start = cols.next()?;
            let status = cols.next()?;
            let us: f64 = cols.next()?.trim().parse().ok()?;
            (status == "200").then_some(us / 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// Running `bench-server`s, killed on drop.
#[derive(Debug)]
pub struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `bench-server` (the binary beside this one) once per
/// `(framework, port)`, on the servers' CPUs when pinned, and waits until
/// each listens.
pub fn start_servers(frameworks: &[(&str, u16)], pin: Option<&Pinning>) -> Servers {
    let exe = std::env::current_exe().unwrap();
    let server = exe.with_file_name("bench-server");
    let mut children = Vec::new();
    for (fw, port) in frameworks {
        let child = pinned_command(&server, pin.map(|p| p.server.as_str()))
            .args([*fw, &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
        children.push(child);
    }
    let servers = Servers(children);
    for (fw, port) in frameworks {
        let addr = SocketAddr::from(([127, 0, 0, 1], *port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "{fw} server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    servers
}

/// The median of rounds' figures (the mean of the middle two for an even
/// count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
