//! The wire layer: framing with imap-codec's Fragmentizer, decoding with
//! ResponseCodec, encoding with CommandCodec, tag routing for pipelined commands.

use super::ImapError;
use super::session::AppendMessage;
use super::stream::Stream;
use super::types::{self, Completion, Outcome, RespCode, Untagged};
use imap_codec::encode::{Encoder, Fragment};
use imap_codec::fragmentizer::{DecodeMessageError, Fragmentizer};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::LiteralMode;
use imap_codec::imap_types::response::{GreetingKind, Response, Status};
use imap_codec::{CommandCodec, GreetingCodec, ResponseCodec};
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_CHUNK: usize = 64 * 1024;
/// Literals bigger than this are written directly instead of being buffered.
const DIRECT_WRITE: usize = 64 * 1024;

pub(crate) struct Conn {
    stream: Stream,
    frag: Fragmentizer,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    tag_seq: u32,
    /// Untagged data received since the caller last drained it.
    pub(crate) untagged: Vec<Untagged>,
    completed: HashMap<String, Completion>,
    bye: Option<String>,
}

/// What a read produced that the caller may be waiting for.
enum Event {
    Tagged(String, Completion),
    Continue,
    Other,
}

impl Conn {
    pub(crate) fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            frag: Fragmentizer::without_max_message_size(),
            rbuf: vec![0; READ_CHUNK],
            wbuf: Vec::with_capacity(READ_CHUNK),
            tag_seq: 0,
            untagged: Vec::new(),
            completed: HashMap::new(),
            bye: None,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    pub(crate) fn into_stream(self) -> Stream {
        self.stream
    }

    /// Reads the greeting; returns the capabilities it carried, if any.
    pub(crate) async fn read_greeting(&mut self) -> Result<Option<Vec<String>>, ImapError> {
        self.next_message().await?;
        let greeting = self
            .frag
            .decode_message(&GreetingCodec::default())
            .map_err(|e| ImapError::Protocol(format!("bad greeting: {}", describe(&e))))?;
        match greeting.kind {
            GreetingKind::Bye => Err(ImapError::Bye(greeting.text.to_string())),
            GreetingKind::PreAuth | GreetingKind::Ok => {
                Ok(match greeting.code.as_ref().map(types::code) {
                    Some(RespCode::Capability(caps)) => Some(caps),
                    _ => None,
                })
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag_seq += 1;
        format!("c{}", self.tag_seq)
    }

    async fn next_message(&mut self) -> Result<(), ImapError> {
        loop {
            if self.frag.progress().is_some() {
                if self.frag.is_message_complete() {
                    return Ok(());
                }
                continue;
            }
            let n = self.stream.read(&mut self.rbuf).await?;
            if n == 0 {
                return Err(match self.bye.take() {
                    Some(text) => ImapError::Bye(text),
                    None => ImapError::Closed,
                });
            }
            self.frag.enqueue_bytes(&self.rbuf[..n]);
        }
    }

    async fn read_event(&mut self) -> Result<Event, ImapError> {
        self.next_message().await?;
        let response = match self.frag.decode_message(&ResponseCodec::default()) {
            Ok(r) => r,
            Err(e) => {
                // Skip what we cannot parse; if it carried a tag, fail that command
                // rather than waiting forever.
                let what = describe(&e);
                tracing::warn!(len = self.frag.message_bytes().len(), error = %what, "unparsable response skipped");
                if let Some(tag) = self.frag.decode_tag() {
                    let completion = Completion {
                        outcome: Outcome::Bad,
                        code: None,
                        text: format!("unparsable response: {what}"),
                    };
                    return Ok(Event::Tagged(tag.as_ref().to_owned(), completion));
                }
                return Ok(Event::Other);
            }
        };
        Ok(match response {
            Response::CommandContinuationRequest(_) => Event::Continue,
            Response::Data(data) => {
                if let Some(u) = types::untagged(&data) {
                    self.untagged.push(u);
                }
                Event::Other
            }
            Response::Status(Status::Tagged(t)) => Event::Tagged(
                t.tag.as_ref().to_owned(),
                Completion {
                    outcome: types::outcome(t.body.kind),
                    code: t.body.code.as_ref().map(types::code),
                    text: t.body.text.to_string(),
                },
            ),
            Response::Status(Status::Untagged(body)) => {
                if let Some(code) = body.code.as_ref() {
                    self.untagged.push(Untagged::Code(types::code(code)));
                }
                Event::Other
            }
            Response::Status(Status::Bye(bye)) => {
                self.bye = Some(bye.text.to_string());
                Event::Other
            }
        })
    }

    /// Queues a command; sync literals wait for the server's continuation.
    pub(crate) async fn send(&mut self, body: CommandBody<'_>) -> Result<String, ImapError> {
        let tag = self.next_tag();
        let command = Command::new(tag.as_str(), body)
            .map_err(|e| ImapError::Protocol(format!("cannot build command: {e}")))?;
        for fragment in CommandCodec::default().encode(&command) {
            match fragment {
                Fragment::Line { data } => self.wbuf.extend_from_slice(&data),
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync {
                        self.wait_continuation(&tag).await?;
                    }
                    self.wbuf.extend_from_slice(&data);
                }
            }
        }
        Ok(tag)
    }

    /// Queues `APPEND` of one message, or of several in one MULTIAPPEND command
    /// (RFC 3502). Encoded by hand so each message is written straight from the
    /// caller's buffer. With LITERAL+ nothing waits, so appends pipeline.
    pub(crate) async fn send_append(
        &mut self,
        mailbox: &str,
        messages: &[AppendMessage<'_>],
        literal_plus: bool,
    ) -> Result<String, ImapError> {
        let tag = self.next_tag();
        self.wbuf.extend_from_slice(tag.as_bytes());
        self.wbuf.extend_from_slice(b" APPEND ");
        write_astring(&mut self.wbuf, mailbox);
        for m in messages {
            let nul = m.body.contains(&0);
            self.append_head(
                &tag,
                m.flags,
                m.internal_date,
                m.body.len() as u64,
                nul,
                literal_plus,
            )
            .await?;
            if m.body.len() > DIRECT_WRITE {
                // Big messages go straight from the caller's buffer: no second copy.
                self.flush().await?;
                self.stream.write_all(m.body).await?;
            } else {
                self.wbuf.extend_from_slice(m.body);
                if self.wbuf.len() > 256 * 1024 {
                    self.flush().await?;
                }
            }
        }
        self.wbuf.extend_from_slice(b"\r\n");
        Ok(tag)
    }

    /// Queues `APPEND` of one message read from `body` (exactly `len` bytes), in
    /// pieces: memory stays bounded whatever the message size.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_append_stream<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        mailbox: &str,
        flags: &[String],
        date: Option<&chrono::DateTime<chrono::FixedOffset>>,
        body: &mut R,
        len: u64,
        nul: bool,
        literal_plus: bool,
    ) -> Result<String, ImapError> {
        let tag = self.next_tag();
        self.wbuf.extend_from_slice(tag.as_bytes());
        self.wbuf.extend_from_slice(b" APPEND ");
        write_astring(&mut self.wbuf, mailbox);
        self.append_head(&tag, flags, date, len, nul, literal_plus)
            .await?;
        self.flush().await?;
        let copied = tokio::io::copy(&mut body.take(len), &mut self.stream).await?;
        if copied != len {
            // The literal is short: the connection is out of step and unusable.
            return Err(ImapError::Protocol(format!(
                "message source ended after {copied} of {len} bytes"
            )));
        }
        self.wbuf.extend_from_slice(b"\r\n");
        Ok(tag)
    }

    /// ` (flags) "date" {len+}` of one APPEND message, waiting for the
    /// continuation when the literal is synchronizing.
    async fn append_head(
        &mut self,
        tag: &str,
        flags: &[String],
        date: Option<&chrono::DateTime<chrono::FixedOffset>>,
        len: u64,
        nul: bool,
        literal_plus: bool,
    ) -> Result<(), ImapError> {
        self.wbuf.extend_from_slice(b" (");
        for (i, flag) in flags.iter().enumerate() {
            if i > 0 {
                self.wbuf.push(b' ');
            }
            self.wbuf.extend_from_slice(flag.as_bytes());
        }
        self.wbuf.push(b')');
        if let Some(date) = date {
            self.wbuf.extend_from_slice(
                format!(" \"{}\"", date.format("%d-%b-%Y %H:%M:%S %z")).as_bytes(),
            );
        }
        // Messages with NUL need BINARY's literal8 (caller checked the capability).
        let tilde = if nul { "~" } else { "" };
        let plus = if literal_plus { "+" } else { "" };
        self.wbuf
            .extend_from_slice(format!(" {tilde}{{{len}{plus}}}\r\n").as_bytes());
        if !literal_plus {
            self.wait_continuation(tag).await?;
        }
        Ok(())
    }

    /// Sends a raw line (SASL continuation data); `line` has no CRLF.
    pub(crate) async fn send_line(&mut self, line: &[u8]) -> Result<(), ImapError> {
        self.wbuf.extend_from_slice(line);
        self.wbuf.extend_from_slice(b"\r\n");
        self.flush().await
    }

    pub(crate) async fn flush(&mut self) -> Result<(), ImapError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    async fn wait_continuation(&mut self, tag: &str) -> Result<(), ImapError> {
        self.flush().await?;
        loop {
            match self.read_event().await? {
                Event::Continue => return Ok(()),
                Event::Tagged(t, c) if t == tag => {
                    return Err(ImapError::Refused {
                        command: "literal",
                        status: status_name(c.outcome),
                        code: c.code.map(|c| format!("{c:?}")),
                        text: c.text,
                    });
                }
                Event::Tagged(t, c) => {
                    self.completed.insert(t, c);
                }
                Event::Other => {}
            }
        }
    }

    /// Waits for the completion of `tag`, or a continuation request when
    /// `want_continue` (SASL); `None` means a continuation arrived.
    pub(crate) async fn wait_or_continue(
        &mut self,
        tag: &str,
        want_continue: bool,
    ) -> Result<Option<Completion>, ImapError> {
        if let Some(c) = self.completed.remove(tag) {
            return Ok(Some(c));
        }
        self.flush().await?;
        loop {
            match self.read_event().await? {
                Event::Tagged(t, c) if t == tag => return Ok(Some(c)),
                Event::Tagged(t, c) => {
                    self.completed.insert(t, c);
                }
                Event::Continue if want_continue => return Ok(None),
                Event::Continue => {
                    tracing::debug!("unexpected continuation request ignored")
                }
                Event::Other => {}
            }
        }
    }

    pub(crate) async fn wait(&mut self, tag: &str) -> Result<Completion, ImapError> {
        loop {
            if let Some(c) = self.wait_or_continue(tag, false).await? {
                return Ok(c);
            }
        }
    }
}

fn status_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "OK",
        Outcome::No => "NO",
        Outcome::Bad => "BAD",
    }
}

pub(crate) fn refused(command: &'static str, c: Completion) -> ImapError {
    ImapError::Refused {
        command,
        status: status_name(c.outcome),
        code: c.code.map(|c| match c {
            RespCode::Other(s) => s,
            other => format!("{other:?}"),
        }),
        text: c.text,
    }
}

fn describe<C: imap_codec::decode::Decoder>(e: &DecodeMessageError<'_, C>) -> String
where
    for<'a> C::Error<'a>: std::fmt::Debug,
{
    match e {
        DecodeMessageError::DecodingFailure(f) => format!("decoding failure {f:?}"),
        DecodeMessageError::DecodingRemainder { .. } => "trailing bytes".to_owned(),
        DecodeMessageError::MessageTooLong { .. } => "message too long".to_owned(),
        DecodeMessageError::MessagePoisoned { .. } => "poisoned".to_owned(),
    }
}

/// Writes a string as a quoted string, or as a literal+ when it cannot be quoted.
fn write_astring(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n')
    {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}+}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s.as_bytes());
    }
}
