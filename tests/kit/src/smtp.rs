//! A real SMTP server that keeps every message: aiosmtpd with a tiny handler.

use crate::ports::port_or_free;
use crate::process::ServerProcess;
use crate::write_public;
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The handler: one `<n>.eml` (exact DATA bytes) + `<n>.json` (envelope) per
/// message; the .json is renamed into place last, so it marks a complete message.
const HANDLER: &str = r#"import itertools, json, os

class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.seq = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        base = os.path.join(self.dir, "%08d" % next(self.seq))
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        meta = {"mail_from": envelope.mail_from, "rcpt_to": list(envelope.rcpt_tos)}
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 OK queued as %s" % os.path.basename(base)
"#;

/// One message as received: the SMTP envelope and the DATA bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    #[serde(skip)]
    pub data: Vec<u8>,
}

impl ReceivedMail {
    /// The message as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// A running SMTP sink; killed on drop.
pub struct SmtpSink {
    pub port: u16,
    spool: PathBuf,
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start(port: Option<u16>) -> anyhow::Result<SmtpSink> {
        let dir = crate::server_dir("smtp")?;
        let d = dir.path();
        let port = port_or_free(port)?;
        let spool = d.join("spool");
        std::fs::create_dir_all(&spool)?;
        write_public(&d.join("kit_sink.py"), HANDLER)?;
        // Debian's python: a pyenv/venv python3 on PATH does not see python3-aiosmtpd.
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.env("PYTHONPATH", d)
            .env("PYTHONUNBUFFERED", "1")
            .args(["-m", "aiosmtpd", "-n", "-u", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "kit_sink.Sink"])
            .arg(&spool);
        let mut process = ServerProcess::spawn("aiosmtpd", cmd, &d.join("aiosmtpd.log"), &[])?;
        process.wait_ports(&[port])?;
        Ok(SmtpSink {
            port,
            spool,
            process,
            _dir: dir,
        })
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> anyhow::Result<Vec<ReceivedMail>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.spool)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|json| {
                let meta =
                    std::fs::read(json).with_context(|| format!("read {}", json.display()))?;
                let mut mail: ReceivedMail = serde_json::from_slice(&meta)
                    .with_context(|| format!("parse {}", json.display()))?;
                mail.data = std::fs::read(json.with_extension("eml"))?;
                Ok(mail)
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived; errors after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<ReceivedMail>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages()?;
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "SMTP sink got {} of {n} messages within {timeout:?}\n{}",
                    got.len(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where messages land: `<n>.eml` (DATA bytes) and `<n>.json` (envelope).
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool
    }

    /// Forgets all received messages.
    pub fn clear(&self) -> anyhow::Result<()> {
        for e in std::fs::read_dir(&self.spool)? {
            std::fs::remove_file(e?.path())?;
        }
        Ok(())
    }

    /// The server's output.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.process.stop();
    }
}
