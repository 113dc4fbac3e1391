//! Dovecot 2.3 (IMAP + ManageSieve) with a standalone config, in the foreground.

use crate::ports::port_or_free;
use crate::process::{ServerProcess, read_greeting};
use crate::{random_token, run_cmd, write_public};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Numeric owner of the mail files when running as root (no passwd entry needed).
const MAIL_ID_ROOT: u32 = 5000;

/// How to set up one Dovecot instance.
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// "legacy" / "target": names the temp dir, the instance and the IMAP ID.
    pub name: String,
    /// '/' gives `maildir:~/Maildir:LAYOUT=fs`, '.' gives plain Maildir++.
    pub separator: char,
    /// Personal namespace prefix `INBOX<sep>` (Courier / old Cyrus style).
    pub inbox_prefix: bool,
    pub imap_port: Option<u16>,
    pub sieve_port: Option<u16>,
    /// The master user's login (`user*master` or SASL authzid).
    pub master_user: String,
    /// `None`: a random one.
    pub master_password: Option<String>,
    /// Create and subscribe Drafts/Sent/Trash/Junk/Archive at first login
    /// (what a fresh target platform does).
    pub autocreate_special_use: bool,
    /// Appended verbatim to dovecot.conf (later settings win).
    pub extra_conf: String,
    /// TLS: STARTTLS on the IMAP port plus an imaps listener (`Dovecot::imaps_port`).
    /// Plain-text logins stay allowed on the IMAP port.
    pub tls: Option<DovecotTls>,
    /// Accept XOAUTH2/OAUTHBEARER, checking tokens at this RFC 7662
    /// introspection URL (`http://client:secret@host:port/path`); the login
    /// name must equal the reply's `sub`. Users still need `add_user`.
    pub oauth2_introspection_url: Option<String>,
}

/// Certificate and key files (PEM) for [`DovecotOptions::tls`].
#[derive(Debug, Clone)]
pub struct DovecotTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub imaps_port: Option<u16>,
}

impl DovecotTls {
    /// The server certificate of a [`crate::TestCa`], on a random imaps port.
    pub fn from_ca(ca: &crate::TestCa) -> Self {
        DovecotTls {
            cert: ca.server_cert.clone(),
            key: ca.server_key.clone(),
            imaps_port: None,
        }
    }
}

impl DovecotOptions {
    /// The legacy platform: LAYOUT=fs, separator '/', special folders not auto-created.
    pub fn legacy() -> Self {
        DovecotOptions {
            name: "legacy".into(),
            separator: '/',
            inbox_prefix: false,
            imap_port: None,
            sieve_port: None,
            master_user: "cutover-master".into(),
            master_password: None,
            autocreate_special_use: false,
            extra_conf: String::new(),
            tls: None,
            oauth2_introspection_url: None,
        }
    }

    /// The target platform: Maildir++ with separator '.', special folders auto-created.
    pub fn target() -> Self {
        DovecotOptions {
            name: "target".into(),
            separator: '.',
            autocreate_special_use: true,
            ..Self::legacy()
        }
    }
}

/// A running Dovecot; killed on drop.
pub struct Dovecot {
    pub imap_port: u16,
    /// The implicit-TLS port, when started with [`DovecotOptions::tls`].
    pub imaps_port: Option<u16>,
    pub sieve_port: u16,
    pub master_user: String,
    pub master_password: String,
    pub(crate) opts: DovecotOptions,
    pub(crate) mail_uid: u32,
    pub(crate) mail_gid: u32,
    conf: PathBuf,
    users: PathBuf,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl Dovecot {
    pub fn start(opts: DovecotOptions) -> anyhow::Result<Dovecot> {
        let dir = crate::server_dir(&format!("dovecot-{}", opts.name))?;
        let d = dir.path();
        let imap_port = port_or_free(opts.imap_port)?;
        let sieve_port = port_or_free(opts.sieve_port)?;
        let imaps_port = match &opts.tls {
            Some(tls) => Some(port_or_free(tls.imaps_port)?),
            None => None,
        };
        let master_password = opts
            .master_password
            .clone()
            .unwrap_or_else(|| random_token(12));
        let (mail_uid, mail_gid) = if crate::is_root() {
            (MAIL_ID_ROOT, MAIL_ID_ROOT)
        } else {
            let u = rustix::process::geteuid().as_raw();
            (u, rustix::process::getegid().as_raw())
        };
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        std::os::unix::fs::chown(d.join("home"), Some(mail_uid), Some(mail_gid))
            .context("chown home")?;
        // One passwd-file per user: Dovecot stats a passwd-file at most once a
        // second, so a user appended to a shared file right after a login could
        // stay unknown for up to a second; a new file is read at first use.
        let users = d.join("users");
        std::fs::create_dir_all(&users)?;
        write_public(
            &d.join("master-users"),
            format!("{}:{{PLAIN}}{}::::::\n", opts.master_user, master_password),
        )?;
        if let Some(url) = &opts.oauth2_introspection_url {
            write_public(&d.join("oauth2.conf.ext"), oauth2_conf(url))?;
        }
        let conf = d.join("dovecot.conf");
        write_public(
            &conf,
            render_conf(
                &opts,
                d,
                Ports {
                    imap: imap_port,
                    imaps: imaps_port,
                    sieve: sieve_port,
                },
                mail_uid,
                mail_gid,
            )?,
        )?;

        let mut cmd = Command::new("dovecot");
        cmd.arg("-F").arg("-c").arg(&conf);
        let log = d.join("dovecot.log");
        let mut process = ServerProcess::spawn(
            &format!("dovecot {}", opts.name),
            cmd,
            &d.join("stderr.log"),
            &[log],
        )?;
        // The real greeting (not "Waiting for authentication process") means the
        // auth process answers too.
        process.wait_ready(|| {
            Ok(
                read_greeting(imap_port, |l| l.starts_with("* OK [CAPABILITY"))?
                    && read_greeting(sieve_port, |l| l.starts_with("OK"))?,
            )
        })?;
        if let Some(port) = imaps_port {
            process.wait_ports(&[port])?;
        }
        Ok(Dovecot {
            imap_port,
            imaps_port,
            sieve_port,
            master_user: opts.master_user.clone(),
            master_password,
            opts,
            mail_uid,
            mail_gid,
            conf,
            users,
            process,
            dir,
        })
    }

    /// Adds a passwd-file user; Dovecot re-reads the file on the next login.
    pub fn add_user(&self, login: &str, password: &str) -> anyhow::Result<()> {
        for (what, v) in [("login", login), ("password", password)] {
            if v.is_empty() || v.contains([':', '\n', '\r', '/', '%']) {
                anyhow::bail!("{what} {v:?} cannot go into a passwd-file");
            }
        }
        let path = self.users.join(login);
        let tmp = self.users.join(format!(".{login}.tmp"));
        write_public(&tmp, format!("{login}:{{PLAIN}}{password}::::::\n"))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))
    }

    /// The user's home; the mail is in `home/Maildir`.
    pub fn home(&self, login: &str) -> PathBuf {
        self.homes_dir().join(login)
    }

    /// The directory holding every user's home (`<dir>/<login>`).
    pub fn homes_dir(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The server's console output and log file.
    pub fn log(&self) -> String {
        self.process.log()
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The instance's name ("legacy", "target", ...).
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The hierarchy separator of the personal namespace.
    pub fn separator(&self) -> char {
        self.opts.separator
    }

    /// The personal namespace prefix ("" or "INBOX.").
    pub fn namespace_prefix(&self) -> String {
        if self.opts.inbox_prefix {
            format!("INBOX{}", self.opts.separator)
        } else {
            String::new()
        }
    }

    /// Runs `doveadm -c <conf> ARGS`; returns stdout, errors carry its output.
    pub fn doveadm(&self, args: &[&str]) -> anyhow::Result<String> {
        run_cmd(Command::new("doveadm").arg("-c").arg(&self.conf).args(args))
    }

    /// Process id of the Dovecot master.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.process.stop();
    }
}

struct Ports {
    imap: u16,
    imaps: Option<u16>,
    sieve: u16,
}

/// RFC 7662 introspection; Dovecot sends the URL's user:password as Basic auth.
fn oauth2_conf(url: &str) -> String {
    format!(
        "introspection_mode = post\nintrospection_url = {url}\n\
         username_attribute = sub\nactive_attribute = active\nactive_value = true\n"
    )
}

fn render_conf(
    o: &DovecotOptions,
    d: &Path,
    ports: Ports,
    uid: u32,
    gid: u32,
) -> anyhow::Result<String> {
    let (imap_port, sieve_port) = (ports.imap, ports.sieve);
    let ssl = match &o.tls {
        Some(t) => format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\nssl_min_protocol = TLSv1.2\n",
            t.cert.display(),
            t.key.display()
        ),
        None => "ssl = no\n".to_owned(),
    };
    let imaps_port = ports.imaps.unwrap_or(0);
    let (mechanisms, oauth_passdb) = if o.oauth2_introspection_url.is_some() {
        (
            "plain login xoauth2 oauthbearer",
            format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
                 args = {}/oauth2.conf.ext\n}}\n",
                d.display()
            ),
        )
    } else {
        ("plain login", String::new())
    };
    let d = d.display();
    let sep = o.separator;
    let location = match sep {
        '/' => "maildir:~/Maildir:LAYOUT=fs",
        '.' => "maildir:~/Maildir",
        other => anyhow::bail!("separator {other:?} not supported (use '/' or '.')"),
    };
    let prefix = if o.inbox_prefix {
        format!("INBOX{sep}")
    } else {
        String::new()
    };
    let auto = if o.autocreate_special_use {
        "subscribe"
    } else {
        "no"
    };
    let specials: String = ["Drafts", "Sent", "Trash", "Junk", "Archive"]
        .iter()
        .map(|m| format!("  mailbox {m} {{\n    special_use = \\{m}\n    auto = {auto}\n  }}\n"))
        .collect();
    let nonroot = if crate::is_root() {
        String::new()
    } else {
        // Without root Dovecot runs entirely as the invoking user.
        let user = std::env::var("USER").unwrap_or_else(|_| uid.to_string());
        format!(
            "default_internal_user = {user}\ndefault_login_user = {user}\n\
             service anvil {{\n  chroot =\n}}\nservice imap-login {{\n  chroot =\n}}\n\
             service managesieve-login {{\n  chroot =\n}}\n"
        )
    };
    let name = &o.name;
    Ok(format!(
        r#"# generated by cutover-testkit: instance '{name}'
instance_name = cutover-kit-{name}-{imap_port}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap sieve
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_master_user_separator = *
# tests make failing logins on purpose; don't slow the next ones down
auth_failure_delay = 0
mail_location = {location}
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
mail_fsync = never
mail_max_userip_connections = 100
imap_id_send = name {name}
namespace inbox {{
  inbox = yes
  separator = {sep}
  prefix = {prefix}
{specials}}}
# master users first: "user*master" or SASL authzid; pass=yes checks that the
# user exists in the normal passdb
passdb {{
  driver = passwd-file
  master = yes
  pass = yes
  args = scheme=PLAIN {d}/master-users
}}
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users/%u
  default_fields = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    address = 127.0.0.1
    port = {sieve_port}
  }}
}}
# No auth penalty: every test login comes from 127.0.0.1, and one failing
# login would otherwise delay the following ones by up to 15 s.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
{nonroot}
{extra}
"#,
        extra = o.extra_conf
    ))
}
