//! A minimal blocking IMAP client for checks in tests (not a product client).

use anyhow::Context as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;

/// One IMAP connection on 127.0.0.1.
pub struct ImapProbe {
    reader: BufReader<TcpStream>,
    tag: u32,
    /// The greeting line (after any "Waiting for authentication" line).
    pub greeting: String,
}

/// The reply to one command: untagged data (literals inlined) and the tagged line.
#[derive(Debug, Clone)]
pub struct ImapReply {
    pub untagged: Vec<Vec<u8>>,
    pub status: String,
}

impl ImapReply {
    pub fn is_ok(&self) -> bool {
        self.status.split_whitespace().nth(1) == Some("OK")
    }
    /// Untagged lines as (lossy) text.
    pub fn lines(&self) -> Vec<String> {
        self.untagged
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }
}

impl ImapProbe {
    pub fn connect(port: u16) -> anyhow::Result<ImapProbe> {
        let s = crate::process::connect(port)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        let mut p = ImapProbe {
            reader: BufReader::new(s),
            tag: 0,
            greeting: String::new(),
        };
        loop {
            let line = p.read_line()?;
            let text = String::from_utf8_lossy(&line).into_owned();
            if !text.contains("Waiting for authentication") {
                p.greeting = text;
                break;
            }
        }
        Ok(p)
    }

    /// LOGIN with quoted strings.
    pub fn login(&mut self, user: &str, password: &str) -> anyhow::Result<ImapReply> {
        self.command(&format!("LOGIN {} {}", quote(user), quote(password)))
    }

    /// Sends one command (without tag) and reads until its tagged reply.
    pub fn command(&mut self, cmd: &str) -> anyhow::Result<ImapReply> {
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        self.reader
            .get_mut()
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())?;
        let mut untagged = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.starts_with(format!("{tag} ").as_bytes()) {
                let status = String::from_utf8_lossy(&line).into_owned();
                return Ok(ImapReply { untagged, status });
            }
            untagged.push(line);
        }
    }

    /// Reads one response line with literals inlined, without the CRLF.
    fn read_line(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut part = Vec::new();
            let n = self.reader.read_until(b'\n', &mut part)?;
            anyhow::ensure!(n > 0, "IMAP server closed the connection");
            while part.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                part.pop();
            }
            let literal = literal_len(&part);
            out.extend_from_slice(&part);
            match literal {
                Some(len) => {
                    let mut buf = vec![0; len];
                    self.reader.read_exact(&mut buf).context("read literal")?;
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(&buf);
                }
                None => return Ok(out),
            }
        }
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let rest = line.strip_suffix(b"}")?;
    let open = rest.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&rest[open + 1..])
        .ok()?
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// An IMAP quoted string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
