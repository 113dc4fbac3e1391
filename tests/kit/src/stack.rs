//! The whole demo/test stack: legacy + target Dovecot, slapd, Radicale, SMTP sink.

use crate::{Dovecot, DovecotOptions, Ports, Radicale, Slapd, SlapdOptions, SmtpSink};

/// Master password of both Dovecots in the demo (tests get random ones).
pub const DEMO_MASTER_PASSWORD: &str = "cutover-master-pw";
/// slapd admin password in the demo (tests get a random one).
pub const DEMO_LDAP_ADMIN_PASSWORD: &str = "cutover-ldap-pw";

/// A demo user; the password is `<uid>-pw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub id: &'static str,
    pub email: &'static str,
    pub display_name: &'static str,
    pub locale: &'static str,
    pub wave: u32,
}

impl DemoUser {
    pub fn password(&self) -> String {
        format!("{}-pw", self.id)
    }
}

/// The demo users; `examples/demo-users.csv` holds the same rows.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        id: "alice",
        email: "alice@example.com",
        display_name: "Alice Archer",
        locale: "en",
        wave: 1,
    },
    DemoUser {
        id: "bob",
        email: "bob@example.com",
        display_name: "Bob Brenner",
        locale: "de",
        wave: 1,
    },
    DemoUser {
        id: "carol",
        email: "carol@example.com",
        display_name: "Carol Chevalier",
        locale: "fr",
        wave: 2,
    },
];

/// CSV of `users` with the header of `examples/demo-users.csv`.
pub fn demo_users_csv(users: &[DemoUser]) -> String {
    let mut out = String::from("id,email,display_name,locale,wave\n");
    for u in users {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            u.id, u.email, u.display_name, u.locale, u.wave
        ));
    }
    out
}

fn join<T>(r: std::thread::Result<anyhow::Result<T>>) -> anyhow::Result<T> {
    r.unwrap_or_else(|_| Err(anyhow::anyhow!("server start panicked")))
}

/// All servers of the migration scenario.
pub struct Stack {
    pub legacy: Dovecot,
    pub target: Dovecot,
    pub ldap: Slapd,
    pub radicale: Radicale,
    pub smtp: SmtpSink,
}

impl Stack {
    /// Starts everything (in parallel); fixed ports come from `ports`.
    /// With [`Ports::demo`] the master and LDAP admin passwords are the
    /// documented demo ones, otherwise random.
    pub fn start(ports: Ports) -> anyhow::Result<Stack> {
        Self::start_with(ports, DovecotOptions::legacy(), DovecotOptions::target())
    }

    /// [`Stack::start`] with other Dovecot settings (ports and master
    /// password still come from `ports`).
    pub fn start_with(
        ports: Ports,
        legacy: DovecotOptions,
        target: DovecotOptions,
    ) -> anyhow::Result<Stack> {
        let demo = ports == Ports::demo();
        let master = demo.then(|| DEMO_MASTER_PASSWORD.to_owned());
        let legacy = DovecotOptions {
            imap_port: ports.legacy_imap,
            sieve_port: ports.legacy_sieve,
            master_password: master.clone(),
            ..legacy
        };
        let target = DovecotOptions {
            imap_port: ports.target_imap,
            sieve_port: ports.target_sieve,
            master_password: master,
            ..target
        };
        let ldap = SlapdOptions {
            port: ports.ldap,
            admin_password: demo.then(|| DEMO_LDAP_ADMIN_PASSWORD.to_owned()),
            ..SlapdOptions::default()
        };
        std::thread::scope(|s| {
            let legacy = s.spawn(|| Dovecot::start(legacy));
            let target = s.spawn(|| Dovecot::start(target));
            let ldap = s.spawn(|| Slapd::start(ldap));
            let radicale = s.spawn(|| Radicale::start(ports.radicale));
            let smtp = s.spawn(|| SmtpSink::start(ports.smtp));
            // join all first, so every started server is dropped on any error
            let (legacy, target, ldap, radicale, smtp) = (
                join(legacy.join()),
                join(target.join()),
                join(ldap.join()),
                join(radicale.join()),
                join(smtp.join()),
            );
            Ok(Stack {
                legacy: legacy?,
                target: target?,
                ldap: ldap?,
                radicale: radicale?,
                smtp: smtp?,
            })
        })
    }

    /// Creates `user` everywhere the demo needs it: legacy and target Dovecot
    /// (double provisioning), LDAP with `mailHost: <mail_host>`, Radicale.
    pub fn add_user(&self, user: &DemoUser, mail_host: &str) -> anyhow::Result<()> {
        let pw = user.password();
        self.legacy.add_user(user.email, &pw)?;
        self.target.add_user(user.email, &pw)?;
        self.ldap
            .add_user(user.id, user.email, user.display_name, &pw, mail_host)?;
        self.radicale.add_user(user.email, &pw)?;
        Ok(())
    }
}
