//! Folder mapping: namespace prefix and separator translation, modified UTF-7,
//! special-use folders, subscriptions.

use super::CopyIssue;
use crate::imap::{ImapError, ListEntry, Session, mutf7};
use std::collections::{HashMap, HashSet};

/// One side's folder tree as listed.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub delimiter: char,
    /// Personal namespace prefix, e.g. `INBOX.` (empty for most servers).
    pub prefix: String,
    pub entries: Vec<ListEntry>,
    pub subscribed: HashSet<String>,
}

impl Tree {
    pub async fn read(s: &mut Session) -> Result<Tree, ImapError> {
        let (ns, entries, subscribed) = s.folders().await?;
        let subscribed = subscribed.into_iter().collect();
        let delimiter = ns
            .as_ref()
            .and_then(|n| n.delimiter)
            .or_else(|| entries.iter().find_map(|e| e.delimiter))
            .unwrap_or('/');
        Ok(Tree {
            delimiter,
            prefix: ns.map(|n| n.prefix).unwrap_or_default(),
            entries,
            subscribed,
        })
    }

    fn special_use(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for e in &self.entries {
            for a in &e.attributes {
                if SPECIAL_USE.iter().any(|s| s.eq_ignore_ascii_case(a)) {
                    out.entry(a.to_ascii_lowercase())
                        .or_insert_with(|| e.name.clone());
                }
            }
        }
        out
    }
}

const SPECIAL_USE: [&str; 5] = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"];

/// Where one source folder goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPlan {
    /// Source name as on the wire.
    pub source: String,
    /// Target name as on the wire.
    pub target: String,
    /// Human-readable (UTF-8) source name, for reports.
    pub display: String,
    /// `\Noselect`/`\NonExistent`: created on the target, never selected.
    pub selectable: bool,
    pub subscribed: bool,
    pub target_exists: bool,
}

fn is_inbox(s: &str) -> bool {
    s.eq_ignore_ascii_case("INBOX")
}

/// Maps every source folder to a target name. Folders that cannot be mapped
/// (two sources onto one target) are reported, never dropped silently.
pub fn plan_folders(source: &Tree, target: &Tree) -> (Vec<FolderPlan>, Vec<CopyIssue>) {
    let mut issues = Vec::new();
    let target_special = target.special_use();
    let target_names: HashSet<String> = target.entries.iter().map(|e| e.name.clone()).collect();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut plans = Vec::new();
    for e in &source.entries {
        let display = display_name(&e.name, source);
        let mut tname = translate(&e.name, source, target, &mut issues);
        if !is_inbox(&e.name)
            && let Some(special) = e
                .attributes
                .iter()
                .find(|a| SPECIAL_USE.iter().any(|s| s.eq_ignore_ascii_case(a)))
            && let Some(t) = target_special.get(&special.to_ascii_lowercase())
        {
            tname = t.clone();
        }
        let fold = tname.to_lowercase();
        if let Some(other) = seen.get(&fold) {
            issues.push(CopyIssue {
                folder: display.clone(),
                uid: None,
                reason: format!(
                    "maps onto target folder {tname:?} like source {other:?}; not copied"
                ),
            });
            continue;
        }
        seen.insert(fold, e.name.clone());
        plans.push(FolderPlan {
            target_exists: target_names.contains(&tname)
                || (is_inbox(&tname) && target_names.iter().any(|n| is_inbox(n))),
            subscribed: source.subscribed.contains(&e.name),
            selectable: e.is_selectable(),
            display,
            source: e.name.clone(),
            target: tname,
        });
    }
    // Parents before children, so CREATE never depends on an implicit parent.
    plans.sort_by(|a, b| {
        let da = a.target.matches(target.delimiter).count();
        let db = b.target.matches(target.delimiter).count();
        da.cmp(&db).then_with(|| a.target.cmp(&b.target))
    });
    (plans, issues)
}

fn components<'a>(name: &'a str, tree: &Tree) -> Vec<&'a str> {
    let rel = if !tree.prefix.is_empty() && name.starts_with(&tree.prefix) && !is_inbox(name) {
        &name[tree.prefix.len()..]
    } else {
        name
    };
    rel.split(tree.delimiter).collect()
}

fn display_name(name: &str, tree: &Tree) -> String {
    components(name, tree)
        .iter()
        .map(|c| mutf7::decode(c).unwrap_or_else(|| (*c).to_owned()))
        .collect::<Vec<_>>()
        .join("/")
}

fn translate(name: &str, source: &Tree, target: &Tree, issues: &mut Vec<CopyIssue>) -> String {
    if is_inbox(name) {
        return "INBOX".to_owned();
    }
    let parts = components(name, source);
    let mut out_parts = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if i == 0 && is_inbox(part) {
            out_parts.push("INBOX".to_owned());
            continue;
        }
        let decoded = mutf7::decode(part);
        let mut text = decoded.clone().unwrap_or_else(|| (*part).to_owned());
        if text.contains(target.delimiter) {
            let fixed = text.replace(target.delimiter, "_");
            issues.push(CopyIssue {
                folder: name.to_owned(),
                uid: None,
                reason: format!(
                    "name part {text:?} contains the target separator {:?}; copied as {fixed:?}",
                    target.delimiter
                ),
            });
            text = fixed;
        }
        // Re-encode only what we could decode; an invalid name stays byte-exact.
        out_parts.push(if decoded.is_some() {
            mutf7::encode(&text)
        } else {
            text
        });
    }
    let inbox_child = out_parts.first().is_some_and(|p| is_inbox(p));
    let joined = out_parts.join(&target.delimiter.to_string());
    if inbox_child || target.prefix.is_empty() {
        joined
    } else {
        format!("{}{joined}", target.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(delim: char, prefix: &str, names: &[(&str, &[&str])]) -> Tree {
        Tree {
            delimiter: delim,
            prefix: prefix.into(),
            entries: names
                .iter()
                .map(|(n, attrs)| ListEntry {
                    name: (*n).into(),
                    delimiter: Some(delim),
                    attributes: attrs.iter().map(|a| (*a).to_owned()).collect(),
                })
                .collect(),
            subscribed: HashSet::new(),
        }
    }

    #[test]
    fn translates_prefix_separator_and_special_use() {
        let src = tree(
            '.',
            "INBOX.",
            &[
                ("INBOX", &[]),
                ("INBOX.Entw&APw-rfe", &[]),
                ("INBOX.a.b", &[]),
                ("INBOX.x/y", &[]),
                ("INBOX.Gesendet", &["\\Sent"]),
            ],
        );
        let dst = tree('/', "", &[("INBOX", &[]), ("Sent", &["\\Sent"])]);
        let (plans, issues) = plan_folders(&src, &dst);
        let map: HashMap<_, _> = plans
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        assert_eq!(map["INBOX"], "INBOX");
        assert_eq!(map["INBOX.Entw&APw-rfe"], "Entw&APw-rfe");
        assert_eq!(map["INBOX.a.b"], "a/b");
        assert_eq!(map["INBOX.x/y"], "x_y");
        assert_eq!(map["INBOX.Gesendet"], "Sent");
        assert_eq!(issues.len(), 1);

        let (back, _) = plan_folders(
            &tree('/', "", &[("a/b", &[]), ("INBOX/c", &[])]),
            &tree('.', "INBOX.", &[]),
        );
        let map: HashMap<_, _> = back
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        assert_eq!(map["a/b"], "INBOX.a.b");
        assert_eq!(map["INBOX/c"], "INBOX.c");
    }
}
