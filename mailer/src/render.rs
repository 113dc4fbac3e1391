//! Notice templates: `templates/emails/<locale>/<template>.txt` (blocks
//! `subject` and `body`) and `.html`. Unknown locales fall back to English.

use askama::Template;
use serde::{Deserialize, Deserializer};

/// A notice ready to be put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The recipient's name for the To header, when the notice has one.
    pub display_name: Option<String>,
}

/// A notice that can never be rendered; retrying will not help.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown notice template {0:?}")]
    UnknownTemplate(String),
    #[error("parameters of {template:?}: {source}")]
    Params {
        template: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

/// Accepts a preformatted string or unix seconds (shown in UTC).
fn time_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unix(i64),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Unix(t) => chrono::DateTime::from_timestamp(t, 0)
            .map(|dt| dt.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| t.to_string()),
    })
}

#[derive(Debug, Deserialize)]
pub struct BookingConfirmed {
    #[serde(default)]
    pub display_name: String,
    pub email: String,
    #[serde(deserialize_with = "time_text")]
    pub slot_time: String,
    pub portal_url: String,
}

#[derive(Debug, Deserialize)]
pub struct Moved {
    #[serde(default)]
    pub display_name: String,
    pub email: String,
    pub imap_host: String,
    pub smtp_host: String,
    pub portal_url: String,
}

#[derive(Debug, Deserialize)]
pub struct CutoverPostponed {
    #[serde(default)]
    pub display_name: String,
    pub email: String,
    #[serde(deserialize_with = "time_text")]
    pub slot_time: String,
    pub portal_url: String,
}

#[derive(Template)]
#[template(path = "emails/en/cutover_postponed.txt", blocks = ["subject", "body"])]
struct CutoverPostponedEnText<'a> {
    p: &'a CutoverPostponed,
}
#[derive(Template)]
#[template(path = "emails/en/cutover_postponed.html")]
struct CutoverPostponedEnHtml<'a> {
    p: &'a CutoverPostponed,
}
#[derive(Template)]
#[template(path = "emails/de/cutover_postponed.txt", blocks = ["subject", "body"])]
struct CutoverPostponedDeText<'a> {
    p: &'a CutoverPostponed,
}
#[derive(Template)]
#[template(path = "emails/de/cutover_postponed.html")]
struct CutoverPostponedDeHtml<'a> {
    p: &'a CutoverPostponed,
}

#[derive(Template)]
#[template(path = "emails/en/booking_confirmed.txt", blocks = ["subject", "body"])]
struct BookingConfirmedEnText<'a> {
    p: &'a BookingConfirmed,
}
#[derive(Template)]
#[template(path = "emails/en/booking_confirmed.html")]
struct BookingConfirmedEnHtml<'a> {
    p: &'a BookingConfirmed,
}
#[derive(Template)]
#[template(path = "emails/de/booking_confirmed.txt", blocks = ["subject", "body"])]
struct BookingConfirmedDeText<'a> {
    p: &'a BookingConfirmed,
}
#[derive(Template)]
#[template(path = "emails/de/booking_confirmed.html")]
struct BookingConfirmedDeHtml<'a> {
    p: &'a BookingConfirmed,
}
#[derive(Template)]
#[template(path = "emails/en/moved.txt", blocks = ["subject", "body"])]
struct MovedEnText<'a> {
    p: &'a Moved,
}
#[derive(Template)]
#[template(path = "emails/en/moved.html")]
struct MovedEnHtml<'a> {
    p: &'a Moved,
}
#[derive(Template)]
#[template(path = "emails/de/moved.txt", blocks = ["subject", "body"])]
struct MovedDeText<'a> {
    p: &'a Moved,
}
#[derive(Template)]
#[template(path = "emails/de/moved.html")]
struct MovedDeHtml<'a> {
    p: &'a Moved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locale {
    En,
    De,
}

impl Locale {
    /// `de`, `de-DE`, `de_AT` → German; anything else → English.
    fn pick(raw: &str) -> Locale {
        let lang = raw.split(['-', '_']).next().unwrap_or("").trim();
        if lang.eq_ignore_ascii_case("de") {
            Locale::De
        } else {
            Locale::En
        }
    }
}

fn params<T: serde::de::DeserializeOwned>(
    template: &'static str,
    v: &serde_json::Value,
) -> Result<T, RenderError> {
    T::deserialize(v).map_err(|source| RenderError::Params { template, source })
}

/// Header values may not carry line breaks or other control characters;
/// lettre encodes the rest.
pub(crate) fn one_line(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name is one line; without one, greet the address.
fn name_or_email(name: &str, email: &str) -> String {
    let name = one_line(name);
    if name.is_empty() {
        email.to_owned()
    } else {
        name
    }
}

fn finish(subject: String, text: String, html: String, display_name: &str) -> Rendered {
    let display_name = one_line(display_name);
    Rendered {
        subject: one_line(&subject),
        text: format!("{}\n", text.trim()),
        html,
        display_name: (!display_name.is_empty()).then_some(display_name),
    }
}

/// Renders one notice kind: parses its parameters, then the text (subject and
/// body blocks) and HTML templates of the chosen locale.
macro_rules! notice {
    ($name:literal, $params:ty, $locale:expr, $json:expr,
     { $($loc:path => ($text:ident, $html:ident)),+ $(,)? }) => {{
        let mut p: $params = params($name, $json)?;
        p.display_name = name_or_email(&p.display_name, &p.email);
        let (subject, text, html) = match $locale {
            $($loc => {
                let t = $text { p: &p };
                (t.as_subject().render()?, t.as_body().render()?, $html { p: &p }.render()?)
            })+
        };
        Ok(finish(subject, text, html, &p.display_name))
    }};
}

/// Renders `template` in `locale` with the row's JSON parameters.
pub fn render(
    template: &str,
    locale: &str,
    p: &serde_json::Value,
) -> Result<Rendered, RenderError> {
    let locale = Locale::pick(locale);
    match template {
        "booking_confirmed" => notice!("booking_confirmed", BookingConfirmed, locale, p, {
            Locale::En => (BookingConfirmedEnText, BookingConfirmedEnHtml),
            Locale::De => (BookingConfirmedDeText, BookingConfirmedDeHtml),
        }),
        "moved" => notice!("moved", Moved, locale, p, {
            Locale::En => (MovedEnText, MovedEnHtml),
            Locale::De => (MovedDeText, MovedDeHtml),
        }),
        "cutover_postponed" => notice!("cutover_postponed", CutoverPostponed, locale, p, {
            Locale::En => (CutoverPostponedEnText, CutoverPostponedEnHtml),
            Locale::De => (CutoverPostponedDeText, CutoverPostponedDeHtml),
        }),
        other => Err(RenderError::UnknownTemplate(other.to_string())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn moved(name: &str) -> serde_json::Value {
        json!({"display_name": name, "email": "alice@example.com", "imap_host": "imap.new.example.net",
               "smtp_host": "smtp.new.example.net", "portal_url": "https://portal.example.net/"})
    }

    #[test]
    fn moved_renders_both_parts_in_both_locales() {
        let en = render("moved", "en", &moved("Alice Example")).unwrap();
        assert_eq!(en.subject, "You have moved: your new mail settings");
        assert!(en.text.starts_with("Hello Alice Example,"), "{}", en.text);
        assert!(en.text.contains("imap.new.example.net"));
        assert!(en.html.contains("<strong>smtp.new.example.net</strong>"));
        let de = render("moved", "de-DE", &moved("Alice Example")).unwrap();
        assert!(de.subject.starts_with("Umzug abgeschlossen"));
        assert!(
            de.text
                .contains("Posteingang (IMAP):    imap.new.example.net")
        );
        let fallback = render("moved", "fr", &moved("A")).unwrap();
        assert_eq!(fallback.subject, en.subject);
    }

    #[test]
    fn postponed_renders_in_both_locales_with_a_neutral_time() {
        let p = json!({"display_name": "", "email": "bob@example.com", "slot_time": 0,
                       "portal_url": "https://portal.example.net/"});
        let en = render("cutover_postponed", "en", &p).unwrap();
        assert_eq!(en.subject, "Your mailbox switch is delayed");
        assert!(en.text.starts_with("Hello bob@example.com,"), "{}", en.text);
        assert!(en.text.contains("1970-01-01 00:00 UTC"), "{}", en.text);
        let de = render("cutover_postponed", "de", &p).unwrap();
        assert!(de.subject.contains("verzögert"), "{}", de.subject);
        assert!(de.html.contains("1970-01-01 00:00 UTC"));
    }

    #[test]
    fn html_is_escaped_and_headers_are_one_line() {
        let r = render(
            "moved",
            "en",
            &moved("<b>Eve</b>\r\nBcc: victim@example.org"),
        )
        .unwrap();
        assert!(
            r.html.contains("&#60;b&#62;Eve") || r.html.contains("&lt;b&gt;Eve"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<b>Eve"));
        let name = r.display_name.unwrap();
        assert!(!name.contains('\n') && !name.contains('\r'), "{name:?}");
    }

    #[test]
    fn booking_accepts_unix_time_and_rejects_missing_params() {
        let p = json!({"display_name": "", "email": "bob@example.com", "slot_time": 1_767_261_600,
                       "portal_url": "https://portal.example.net/"});
        let r = render("booking_confirmed", "en", &p).unwrap();
        assert_eq!(
            r.subject,
            "Your mailbox move is booked for 2026-01-01 10:00 UTC"
        );
        assert!(r.text.starts_with("Hello bob@example.com,"));
        assert!(matches!(
            render("booking_confirmed", "en", &json!({})),
            Err(RenderError::Params { .. })
        ));
        assert!(matches!(
            render("nope", "en", &p),
            Err(RenderError::UnknownTemplate(_))
        ));
    }
}
