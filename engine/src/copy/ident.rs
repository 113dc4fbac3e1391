//! Header identity (Message-ID, Date, size) used only to adopt messages already on
//! the target and to find an APPEND that landed before a crash.

use sha2::{Digest, Sha256};

/// The unfolded, whitespace-collapsed value of the first `name:` field in the
/// header block of `msg` (the header ends at the first empty line).
fn header_value(msg: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    let mut in_field = false;
    for line in msg.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_field && let Some(v) = value.as_mut() {
                v.push(b' ');
                v.extend_from_slice(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        in_field = false;
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            value = Some(line[colon + 1..].to_vec());
            in_field = true;
        }
    }
    let v = value?;
    let s = String::from_utf8_lossy(&v);
    Some(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Digest of Message-ID, Date and the server-reported size. Messages without
/// those headers still get a digest (of size only); multiplicity is handled by
/// the caller, so such twins are never merged.
pub fn ident(header_or_message: &[u8], size: u32) -> String {
    let mut h = Sha256::new();
    for name in ["Message-ID", "Date"] {
        match header_value(header_or_message, name) {
            Some(v) => {
                h.update(b"1");
                h.update(v.as_bytes());
            }
            None => h.update(b"0"),
        }
        h.update([0]);
    }
    h.update(size.to_be_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_full_message_agree() {
        let msg = b"Received: x\r\nMessage-ID:\r\n <a@b>\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: s\r\n\r\nMessage-ID: <body>\r\n";
        let fields = b"Message-ID:\r\n <a@b>\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\n";
        assert_eq!(ident(msg, 10), ident(fields, 10));
        assert_ne!(ident(msg, 10), ident(msg, 11));
        assert_eq!(header_value(msg, "message-id").as_deref(), Some("<a@b>"));
        assert_eq!(
            header_value(b"Subject: x\n\nMessage-ID: <no>\n", "Message-ID"),
            None
        );
    }
}
