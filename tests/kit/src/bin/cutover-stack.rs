//! `cutover-stack demo -- <command>`: the demo stack around a command.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use cutover_testkit::{DEMO_USERS, DovecotOptions, Ports, Stack, demo_users_csv, generate_mail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Real mail servers on loopback for the cutover demo")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start legacy + target Dovecot, slapd, Radicale and an SMTP sink on the
    /// fixed demo ports, create and fill the demo users, run COMMAND, and stop
    /// everything when it exits (or on Ctrl-C).
    Demo(DemoArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// A LAYOUT=fs Maildir tree to load into alice's legacy mailbox instead of
    /// the bundled sample mail (e.g. the Enron corpus).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where the run's users CSV and env file go.
    #[arg(long, default_value = "target/cutover-demo")]
    state_dir: PathBuf,
    /// The bundled sample mail (MIT-licensed MIME fixtures).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sample-mail"))]
    sample: PathBuf,
    /// Generated messages per user (0: none, alice gets only the sample/corpus).
    #[arg(long, default_value_t = 300)]
    messages: usize,
    /// Hierarchy separator of the target Dovecot: '.' (Maildir++) or '/'
    /// (LAYOUT=fs, like the legacy one).
    #[arg(long, default_value_t = '.')]
    target_separator: char,
    /// Free ports instead of the fixed demo ports (to run beside a demo).
    #[arg(long)]
    random_ports: bool,
    /// The command to run while the stack is up; without one, wait for Ctrl-C.
    #[arg(last = true)]
    command: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Demo(args) => {
            let code = demo(args)?;
            std::process::exit(code);
        }
    }
}

fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let t = Instant::now();
    let ports = if args.random_ports {
        Ports::random()
    } else {
        Ports::demo()
    };
    let target = DovecotOptions {
        separator: args.target_separator,
        ..DovecotOptions::target()
    };
    let stack = Stack::start_with(ports, DovecotOptions::legacy(), target)
        .context("start the demo stack")?;
    eprintln!("servers up in {:.2?}", t.elapsed());
    for u in DEMO_USERS {
        stack.add_user(u, "legacy")?;
    }
    fill_mailboxes(&stack, &args)?;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("create {}", args.state_dir.display()))?;
    let state_dir = std::fs::canonicalize(&args.state_dir)?;
    let csv = state_dir.join("demo-users.csv");
    std::fs::write(&csv, demo_users_csv(DEMO_USERS))?;
    let env = stack_env(&stack, &csv, &state_dir);
    let env_file: String = env
        .iter()
        .map(|(k, v)| format!("export {k}='{v}'\n"))
        .collect();
    std::fs::write(state_dir.join("stack.env"), env_file)?;
    print_summary(&stack, &csv);
    eprintln!("ready in {:.2?}", t.elapsed());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(run_child(&args.command, &env))?;
    let t = Instant::now();
    drop(stack);
    eprintln!("servers stopped in {:.2?}", t.elapsed());
    Ok(code)
}

fn fill_mailboxes(stack: &Stack, args: &DemoArgs) -> anyhow::Result<()> {
    let staging = tempfile::Builder::new()
        .prefix("demo-mail-")
        .tempdir_in(ensure_base()?)?;
    for u in DEMO_USERS {
        let t = Instant::now();
        let mut stats = cutover_testkit::LoadStats::default();
        if args.messages > 0 {
            let dir = staging.path().join(u.id);
            generate_mail(&dir, u.email, u.display_name, args.messages)?;
            stats = stack.legacy.load_maildir(u.email, &dir)?;
        }
        if u.id == "alice" {
            let extra = args.corpus.as_deref().unwrap_or(&args.sample);
            let s = stack
                .legacy
                .load_maildir(u.email, extra)
                .with_context(|| format!("load {}", extra.display()))?;
            stats.messages += s.messages;
            stats.folders += s.folders;
            stats.bytes += s.bytes;
        }
        eprintln!(
            "{}: {} messages in {} folders ({} KB) loaded in {:.2?}",
            u.email,
            stats.messages,
            stats.folders,
            stats.bytes / 1024,
            t.elapsed()
        );
    }
    Ok(())
}

fn ensure_base() -> anyhow::Result<&'static Path> {
    let base = Path::new(cutover_testkit::BASE_DIR);
    std::fs::create_dir_all(base)?;
    Ok(base)
}

fn stack_env(stack: &Stack, csv: &Path, state_dir: &Path) -> Vec<(String, String)> {
    let v = |k: &str, v: String| (format!("CUTOVER_DEMO_{k}"), v);
    vec![
        v("LEGACY_IMAP_PORT", stack.legacy.imap_port.to_string()),
        v("LEGACY_SIEVE_PORT", stack.legacy.sieve_port.to_string()),
        v(
            "LEGACY_CONF",
            stack.legacy.conf_path().display().to_string(),
        ),
        v(
            "LEGACY_HOMES",
            stack.legacy.homes_dir().display().to_string(),
        ),
        v("TARGET_IMAP_PORT", stack.target.imap_port.to_string()),
        v("TARGET_SIEVE_PORT", stack.target.sieve_port.to_string()),
        v(
            "TARGET_CONF",
            stack.target.conf_path().display().to_string(),
        ),
        v(
            "TARGET_HOMES",
            stack.target.homes_dir().display().to_string(),
        ),
        v("MASTER_USER", stack.legacy.master_user.clone()),
        v(
            "LEGACY_MASTER_PASSWORD",
            stack.legacy.master_password.clone(),
        ),
        v(
            "TARGET_MASTER_PASSWORD",
            stack.target.master_password.clone(),
        ),
        v("LDAP_PORT", stack.ldap.port.to_string()),
        v("LDAP_URL", stack.ldap.url()),
        v("LDAP_BASE_DN", stack.ldap.base_dn.clone()),
        v("LDAP_ADMIN_DN", stack.ldap.admin_dn.clone()),
        v("LDAP_ADMIN_PASSWORD", stack.ldap.admin_password.clone()),
        v("RADICALE_PORT", stack.radicale.port.to_string()),
        v("RADICALE_URL", stack.radicale.url()),
        v("SMTP_PORT", stack.smtp.port.to_string()),
        v("SMTP_SPOOL", stack.smtp.spool_dir().display().to_string()),
        v("USERS_CSV", csv.display().to_string()),
        v("STATE_DIR", state_dir.display().to_string()),
        // the secrets examples/demo.toml leaves to the environment
        (
            "CUTOVER_LEGACY__MASTER_PASSWORD".into(),
            stack.legacy.master_password.clone(),
        ),
        (
            "CUTOVER_TARGET__MASTER_PASSWORD".into(),
            stack.target.master_password.clone(),
        ),
        (
            "CUTOVER_LDAP__BIND_PASSWORD".into(),
            stack.ldap.admin_password.clone(),
        ),
    ]
}

fn print_summary(stack: &Stack, csv: &Path) {
    let (l, t) = (&stack.legacy, &stack.target);
    println!("cutover demo stack (127.0.0.1):");
    println!(
        "  legacy Dovecot  IMAP {}  ManageSieve {}",
        l.imap_port, l.sieve_port
    );
    println!(
        "  target Dovecot  IMAP {}  ManageSieve {}",
        t.imap_port, t.sieve_port
    );
    if l.master_password == t.master_password {
        println!(
            "  master user     {} / {} (both sides)",
            l.master_user, l.master_password
        );
    } else {
        println!(
            "  master user     {} / {} (legacy), {} (target)",
            l.master_user, l.master_password, t.master_password
        );
    }
    println!(
        "  LDAP            {}  {} / {}",
        stack.ldap.url(),
        stack.ldap.admin_dn,
        stack.ldap.admin_password
    );
    println!("  Radicale        {}", stack.radicale.url());
    println!(
        "  SMTP sink       127.0.0.1:{}  (mail kept in {})",
        stack.smtp.port,
        stack.smtp.spool_dir().display()
    );
    println!("  users           {}", csv.display());
    for u in DEMO_USERS {
        println!(
            "    {:<20} {:<10} {}",
            u.email,
            u.password(),
            u.display_name
        );
    }
}

/// Runs the command with the stack's env; forwards Ctrl-C/SIGTERM and waits.
async fn run_child(command: &[String], env: &[(String, String)]) -> anyhow::Result<i32> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate())?;
    let Some((prog, rest)) = command.split_first() else {
        eprintln!("no command given; press Ctrl-C to stop the stack");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm.recv() => {}
        }
        return Ok(0);
    };
    let mut child = tokio::process::Command::new(prog)
        .args(rest)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .with_context(|| format!("run {command:?}"))?;
    let status = tokio::select! {
        s = child.wait() => s?,
        _ = tokio::signal::ctrl_c() => stop_child(&mut child).await?,
        _ = sigterm.recv() => stop_child(&mut child).await?,
    };
    Ok(status.code().unwrap_or(130))
}

async fn stop_child(child: &mut tokio::process::Child) -> anyhow::Result<std::process::ExitStatus> {
    match child.id() {
        Some(pid) => eprintln!("stopping the command (pid {pid}) ..."),
        None => eprintln!("stopping the command ..."),
    }
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(s) => Ok(s?),
        Err(_) => {
            child.kill().await?;
            Ok(child.wait().await?)
        }
    }
}
