//! Deterministic, real-looking demo mail, written as a LAYOUT=fs Maildir tree.
//!
//! The same (owner, count) always gives the same bytes, so demo runs and
//! tests are reproducible. Mix: plain text, multipart/alternative (text +
//! HTML), multipart/mixed with small attachments, replies in threads,
//! encoded non-ASCII subjects, a non-ASCII folder name.

use anyhow::Context as _;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use std::path::Path;

/// What [`generate_mail`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeneratedMail {
    pub messages: usize,
    pub folders: usize,
}

/// Folder (LAYOUT=fs path), share of the messages in percent, date range.
const FOLDERS: &[(&str, u64, &str, &str)] = &[
    ("INBOX", 45, "2025-09-01T08:00:00Z", "2025-11-28T18:00:00Z"),
    ("Sent", 18, "2025-01-10T08:00:00Z", "2025-11-28T18:00:00Z"),
    (
        "Archive/2024",
        14,
        "2024-01-08T08:00:00Z",
        "2024-12-20T18:00:00Z",
    ),
    (
        "Archive/2025",
        12,
        "2025-01-06T08:00:00Z",
        "2025-08-29T18:00:00Z",
    ),
    (
        "Projects/Cutover",
        6,
        "2025-06-02T08:00:00Z",
        "2025-11-27T18:00:00Z",
    ),
    (
        "Réunions",
        3,
        "2025-03-03T08:00:00Z",
        "2025-11-20T18:00:00Z",
    ),
    ("Drafts", 1, "2025-11-01T08:00:00Z", "2025-11-28T18:00:00Z"),
    ("Trash", 1, "2025-10-01T08:00:00Z", "2025-11-28T18:00:00Z"),
];

const CONTACTS: &[(&str, &str)] = &[
    ("Alice Archer", "alice@example.com"),
    ("Bob Brenner", "bob@example.com"),
    ("Carol Chevalier", "carol@example.com"),
    ("Dmitri Volkov", "dmitri.volkov@partner.example.net"),
    ("Jürgen Weiß", "j.weiss@lieferant.example.de"),
    ("Helpdesk", "helpdesk@example.com"),
    ("Newsletter Team", "news@updates.example.org"),
    ("Søren Kierkegaard", "soren@example.dk"),
    ("Priya Natarajan", "priya@consulting.example.in"),
];

const SUBJECTS: &[&str] = &[
    "Quarterly report draft",
    "Lunch on Thursday?",
    "Invoice 2025-{n} attached",
    "Server maintenance window",
    "Budget review – final numbers",
    "Mailbox migration: your slot",
    "Travel expenses for {month}",
    "Besprechung nächste Woche",
    "Réunion d'équipe",
    "Contract renewal",
    "Photos from the offsite",
    "Your password expires soon",
    "Agenda for the steering committee",
    "Kundentermin – Rückfrage",
    "Weekly status {n}",
];

const SENTENCES: &[&str] = &[
    "Thanks for the quick turnaround on this.",
    "I have attached the latest version for your review.",
    "Could you take a look before Friday?",
    "The numbers still need a second pair of eyes.",
    "Let me know if anything is unclear.",
    "We agreed to move the deadline by one week.",
    "Please keep the old address in copy until the migration is done.",
    "Vielen Dank für die schnelle Rückmeldung.",
    "Merci pour votre retour rapide, à bientôt.",
    "The meeting room on the third floor is booked.",
    "I will be out of office next Monday.",
    "Nothing changes for you until your booked slot.",
];

/// Writes `count` messages for `owner` below `out` (folders as in [`FOLDERS`]).
pub fn generate_mail(
    out: &Path,
    owner: &str,
    owner_name: &str,
    count: usize,
) -> anyhow::Result<GeneratedMail> {
    let mut rng = Rng::new(owner);
    let mut stats = GeneratedMail::default();
    let mut thread_ids: Vec<(String, String)> = Vec::new();
    let mut n = 0usize;
    for (i, (folder, share, from, to)) in FOLDERS.iter().enumerate() {
        let mut in_folder = (count as u64 * share / 100) as usize;
        if i == 0 {
            // INBOX takes the rounding remainder
            let rest: u64 = FOLDERS
                .iter()
                .skip(1)
                .map(|f| count as u64 * f.1 / 100)
                .sum();
            in_folder = count.saturating_sub(rest as usize);
        }
        let dir = out.join(folder).join("cur");
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let (start, end) = (parse_date(from)?, parse_date(to)?);
        let step = (end - start).max(1) / in_folder.max(1) as i64;
        for k in 0..in_folder {
            let date = start + step * k as i64 + rng.below(step.max(1) as u64) as i64;
            let sent = *folder == "Sent" || *folder == "Drafts";
            let msg = Message::random(&mut rng, owner, owner_name, sent, date, n, &mut thread_ids);
            let path = dir.join(format!("gen.{n:05}"));
            std::fs::write(&path, msg.render(&mut rng))
                .with_context(|| format!("write {}", path.display()))?;
            n += 1;
            stats.messages += 1;
        }
        stats.folders += 1;
    }
    Ok(stats)
}

fn parse_date(s: &str) -> anyhow::Result<i64> {
    Ok(DateTime::parse_from_rfc3339(s)?.timestamp())
}

struct Message {
    from: (String, String),
    to: Vec<(String, String)>,
    cc: Vec<(String, String)>,
    subject: String,
    date: i64,
    id: String,
    in_reply_to: Option<String>,
    body: Vec<String>,
    kind: u64,
}

impl Message {
    fn random(
        rng: &mut Rng,
        owner: &str,
        owner_name: &str,
        sent: bool,
        date: i64,
        n: usize,
        threads: &mut Vec<(String, String)>,
    ) -> Message {
        let others: Vec<(String, String)> = CONTACTS
            .iter()
            .filter(|c| c.1 != owner)
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        let me = (owner_name.to_owned(), owner.to_owned());
        let peer = rng.pick(&others).clone();
        let (from, to) = if sent {
            (me, vec![peer])
        } else {
            (peer, vec![me])
        };
        let cc = if rng.below(100) < 20 {
            vec![rng.pick(&others).clone()]
        } else {
            Vec::new()
        };
        let local = owner.split('@').next().unwrap_or("user");
        let id = format!("<{date:x}.{n}.{local}@gen.example.com>");
        let (subject, in_reply_to) = if !threads.is_empty() && rng.below(100) < 20 {
            let (s, parent) = rng.pick(threads).clone();
            (
                format!("Re: {}", s.trim_start_matches("Re: ")),
                Some(parent),
            )
        } else {
            let month =
                DateTime::<Utc>::from_timestamp(date, 0).map(|d| d.format("%B").to_string());
            let s = rng
                .pick(SUBJECTS)
                .replace("{n}", &(n % 97 + 1).to_string())
                .replace("{month}", &month.unwrap_or_default());
            (s, None)
        };
        threads.push((subject.clone(), id.clone()));
        let body = (0..2 + rng.below(6))
            .map(|_| (*rng.pick(SENTENCES)).to_owned())
            .collect();
        Message {
            from,
            to,
            cc,
            subject,
            date,
            id,
            in_reply_to,
            body,
            kind: rng.below(100),
        }
    }

    fn render(&self, rng: &mut Rng) -> Vec<u8> {
        let mut h = String::new();
        let date = DateTime::<Utc>::from_timestamp(self.date, 0).unwrap_or_default();
        h += &format!("Date: {}\r\n", date.to_rfc2822());
        h += &format!("From: {}\r\n", addr(&self.from));
        h += &format!(
            "To: {}\r\n",
            self.to.iter().map(addr).collect::<Vec<_>>().join(", ")
        );
        if !self.cc.is_empty() {
            h += &format!(
                "Cc: {}\r\n",
                self.cc.iter().map(addr).collect::<Vec<_>>().join(", ")
            );
        }
        h += &format!("Subject: {}\r\n", encode_word(&self.subject));
        h += &format!("Message-ID: {}\r\n", self.id);
        if let Some(p) = &self.in_reply_to {
            h += &format!("In-Reply-To: {p}\r\nReferences: {p}\r\n");
        }
        h += "MIME-Version: 1.0\r\n";
        let greeting = format!(
            "Hi {},",
            self.to[0].0.split_whitespace().next().unwrap_or("")
        );
        let text = format!(
            "{greeting}\r\n\r\n{}\r\n\r\n-- \r\n{}\r\n",
            self.body.join("\r\n"),
            self.from.0
        );
        let boundary = format!("=_gen_{:016x}", rng.next());
        let body = match self.kind {
            0..=49 => {
                h += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
                text
            }
            50..=79 => {
                h += &format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n");
                let html = format!(
                    "<html><body><p>{greeting}</p>{}<p>-- <br>{}</p></body></html>\r\n",
                    self.body
                        .iter()
                        .map(|s| format!("<p>{}</p>", html_escape(s)))
                        .collect::<String>(),
                    html_escape(&self.from.0)
                );
                format!(
                    "This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n\
                     Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
                     --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
                     --{boundary}--\r\n",
                    quoted_printable(&text),
                    quoted_printable(&html)
                )
            }
            _ => {
                h += &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n");
                let (name, ctype, data) = attachment(rng, self.kind);
                let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
                let wrapped: Vec<&str> = b64
                    .as_bytes()
                    .chunks(76)
                    .map(|c| std::str::from_utf8(c).unwrap_or(""))
                    .collect();
                format!(
                    "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
                     --{boundary}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n\
                     Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
                     --{boundary}--\r\n",
                    wrapped.join("\r\n")
                )
            }
        };
        format!("{h}\r\n{body}").into_bytes()
    }
}

fn attachment(rng: &mut Rng, kind: u64) -> (String, &'static str, Vec<u8>) {
    match kind % 3 {
        0 => {
            let rows: String = (0..20 + rng.below(200))
                .map(|i| {
                    format!(
                        "{i},item-{},{}.{:02}\r\n",
                        rng.below(1000),
                        rng.below(5000),
                        rng.below(100)
                    )
                })
                .collect();
            (
                format!("report-{}.csv", rng.below(100)),
                "text/csv",
                format!("id,item,amount\r\n{rows}").into_bytes(),
            )
        }
        1 => {
            // random bytes: an incompressible "photo"
            let len = 2_000 + rng.below(30_000) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            (
                format!("IMG_{:04}.jpg", rng.below(10_000)),
                "image/jpeg",
                data,
            )
        }
        _ => {
            let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cutover//demo//EN\r\nBEGIN:VEVENT\r\n\
                        UID:demo-event@example.com\r\nDTSTART:20251204T090000Z\r\nDTEND:20251204T100000Z\r\n\
                        SUMMARY:Steering committee\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
            (
                "invite.ics".into(),
                "text/calendar",
                text.as_bytes().to_vec(),
            )
        }
    }
}

fn addr((name, email): &(String, String)) -> String {
    format!("{} <{email}>", encode_word(name))
}

/// RFC 2047 B-encoding for non-ASCII header text.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Quoted-printable (RFC 2045) with soft line breaks at 76 columns.
fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    for line in s.split("\r\n") {
        let mut col = 0;
        for (i, b) in line.bytes().enumerate() {
            let last = i + 1 == line.len();
            let enc = if b == b'=' || !(0x20..0x7f).contains(&b) || (last && b == b' ') {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if col + enc.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += enc.len();
            out.push_str(&enc);
        }
        out.push_str("\r\n");
    }
    out.truncate(out.len().saturating_sub(2));
    out
}

/// SplitMix64 seeded from the owner: deterministic across runs and platforms.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_parseable() {
        let a = tempfile::tempdir().expect("tmp");
        let b = tempfile::tempdir().expect("tmp");
        let s = generate_mail(a.path(), "alice@example.com", "Alice Archer", 200).expect("gen");
        generate_mail(b.path(), "alice@example.com", "Alice Archer", 200).expect("gen");
        assert_eq!(s.messages, 200);
        assert_eq!(s.folders, FOLDERS.len());
        let f = a.path().join("INBOX/cur/gen.00000");
        let data = std::fs::read(&f).expect("read");
        assert_eq!(
            data,
            std::fs::read(b.path().join("INBOX/cur/gen.00000")).expect("read")
        );
        for e in std::fs::read_dir(a.path().join("Archive/2024/cur")).expect("dir") {
            let data = std::fs::read(e.expect("entry").path()).expect("read");
            let m = mail_parser::MessageParser::new()
                .parse(&data)
                .expect("parse");
            assert!(m.date().is_some() && m.subject().is_some() && m.message_id().is_some());
        }
    }

    #[test]
    fn qp_roundtrip_shape() {
        let q = quoted_printable("Grüße = 1\r\n");
        assert_eq!(q, "Gr=C3=BC=C3=9Fe =3D 1\r\n");
    }
}
