//! A server child process: own process group, log file, watchdog, kill on drop.

use anyhow::Context as _;
use rustix::process::{Pid, Signal, kill_process_group};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct ServerProcess {
    name: String,
    child: Child,
    logs: Vec<PathBuf>,
    watchdog: Option<Watchdog>,
}

impl ServerProcess {
    /// Spawns `cmd` in its own process group (Ctrl-C in a terminal does not reach
    /// it; we stop it ourselves) with stdout+stderr appended to `console_log`.
    /// `extra_logs` are the server's own log files, shown in errors too.
    pub(crate) fn spawn(
        name: &str,
        mut cmd: Command,
        console_log: &Path,
        extra_logs: &[PathBuf],
    ) -> anyhow::Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(console_log)
            .with_context(|| format!("open {}", console_log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("{name}: spawn {cmd:?}"))?;
        let watchdog = spawn_watchdog(child.id());
        let mut logs = vec![console_log.to_path_buf()];
        logs.extend_from_slice(extra_logs);
        Ok(ServerProcess {
            name: name.to_owned(),
            child,
            logs,
            watchdog,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// All log files, concatenated.
    pub(crate) fn log(&self) -> String {
        self.logs
            .iter()
            .map(|p| format!("--- {} ---\n{}\n", p.display(), crate::read_log(p)))
            .collect()
    }

    /// An error for a server that failed, with its logs.
    pub(crate) fn failure(&self, what: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{} {what}\n{}", self.name, self.log())
    }

    /// Fails (with the log) if the process has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.failure(format!("exited during startup ({status})"))),
            Ok(None) => Ok(()),
            Err(e) => Err(self.failure(format!("cannot be waited for: {e}"))),
        }
    }

    /// Polls `ready` until it returns `Ok(true)`, the process dies, or the
    /// start timeout passes; errors carry the last probe error and the log.
    pub(crate) fn wait_ready(
        &mut self,
        mut ready: impl FnMut() -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.check_alive()?;
            let last = match ready() {
                Ok(true) => return Ok(()),
                Ok(false) => "not ready".to_owned(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                return Err(self.failure(format!(
                    "did not become ready within {START_TIMEOUT:?} (last probe: {last})"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every port accepts TCP connections.
    pub(crate) fn wait_ports(&mut self, ports: &[u16]) -> anyhow::Result<()> {
        self.wait_ready(|| {
            for p in ports {
                connect(*p)?;
            }
            Ok(true)
        })
    }

    /// Kills the whole process group (the server and its workers) and reaps
    /// the server. SIGKILL, not SIGTERM: Dovecot's master sleeps over a second
    /// on a graceful shutdown, and test servers hold nothing worth flushing.
    pub(crate) fn stop(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        if let Ok(None) = self.child.try_wait() {
            if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
                let _ = kill_process_group(pid, Signal::KILL);
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `sh` that kills the server's process group once this process is gone
/// (test killed by a timeout, demo killed with SIGKILL): no orphaned daemons.
/// It waits for EOF on a pipe whose write end only this process holds; polling
/// our pid would not work where PID 1 never reaps zombies (some containers).
fn spawn_watchdog(server_pid: u32) -> Option<Watchdog> {
    // dash wants `-s KILL --` before a negative (process group) id
    let script = r#"read _ignored; kill -s KILL -- "-$0" 2>/dev/null"#;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg(server_pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let pipe = child.stdin.take()?;
    Some(Watchdog { child, _pipe: pipe })
}

struct Watchdog {
    child: Child,
    _pipe: std::process::ChildStdin,
}

/// Connects to 127.0.0.1:port with a short timeout.
pub(crate) fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(s)
}

/// Reads lines until one satisfies `done` (e.g. the real IMAP greeting after
/// Dovecot's "Waiting for authentication process" line).
pub(crate) fn read_greeting(port: u16, done: impl Fn(&str) -> bool) -> anyhow::Result<bool> {
    let s = connect(port)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    for _ in 0..30 {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        if done(&line) {
            let _ = r.get_mut().write_all(b"z LOGOUT\r\n");
            return Ok(true);
        }
    }
    Ok(false)
}
