//! `hearth admin`: the operator's commands. Each parses its arguments, calls the operation in
//! `hearth-ops` (which works on the data directory, or on a running server with `--url`) and
//! prints the outcome.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hearth_ops::accounts::{AccountRow, NewAccount, Writable};
use hearth_ops::remote::Remote;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's data directory. Reading it is safe beside a running server; commands that
    /// change accounts refuse while a server runs on it (use --url then).
    #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Send account and invite commands to the running server at this URL instead (with the
    /// admin password).
    #[arg(long, env = "HEARTH_ADMIN_URL", global = true)]
    pub url: Option<String>,
    /// The server's admin password, for --url.
    #[arg(
        long,
        env = "HEARTH_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Back up the data directory now (safe while the server runs): databases, blobs, space
    /// images and keys, into a new timestamped directory with a manifest.
    Backup {
        /// Where the backup goes (a `hearth-<time>` directory is made inside).
        #[arg(long, env = "HEARTH_BACKUP_DIR")]
        out: PathBuf,
        /// Delete all but this many newest backups afterwards.
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Restore a backup into a new, empty data directory (`--data-dir`), after checking every
    /// file against the backup's manifest.
    Restore {
        /// The backup directory (`hearth-<time>`).
        backup: PathBuf,
    },
    /// Check the data directory: databases intact, every repository verifies against its
    /// account's key and agrees with the record index, every blob's bytes present. Exits with
    /// status 1 if anything is wrong.
    Verify,
    /// Figures: accounts, firehose head, databases (size, rows), blobs and images.
    Stats {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accounts on the PDS.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Invite codes.
    #[command(subcommand)]
    Invites(InvitesCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Every account: DID, handle, email, status.
    List,
    /// Create an account (no invite code needed).
    Create {
        #[arg(long)]
        handle: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "HEARTH_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Take an account down: its sessions end and its repository is no longer served.
    Takedown {
        did: String,
        /// A reference recorded with the takedown (a ticket, a reason).
        #[arg(long, default_value = "takedown")]
        reference: String,
    },
    /// Reverse a takedown.
    Restore { did: String },
    /// Set a new password; the account's sessions end.
    ResetPassword {
        did: String,
        #[arg(long, env = "HEARTH_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Delete an account and everything it stored.
    Delete {
        did: String,
        /// Confirm: the deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InvitesCommand {
    /// Make invite codes.
    Create {
        /// How many codes.
        #[arg(long, default_value_t = 1)]
        count: i64,
        /// How many sign-ups each code allows.
        #[arg(long, default_value_t = 1)]
        uses: i64,
    },
    /// The newest codes and how much of each is used.
    List,
}

/// The server's own configuration, from the same environment it runs with: accounts created
/// here get its hostnames and PLC directory.
#[derive(Parser)]
struct ServerEnv {
    #[command(flatten)]
    pds: hearth_pds::config::PdsConfig,
}

/// Where account and invite commands go.
enum Target {
    Direct(PathBuf),
    Remote(Remote),
}

impl AdminArgs {
    fn target(&self) -> anyhow::Result<Target> {
        match &self.url {
            None => Ok(Target::Direct(self.data_dir.clone())),
            Some(url) => {
                let Some(password) = self.admin_password.as_deref() else {
                    bail!("--url needs the server's admin password: set HEARTH_ADMIN_PASSWORD");
                };
                // The server's own trust settings (HEARTH_CA_CERTS) reach it behind a private CA.
                let mut net = ServerEnv::try_parse_from(["hearth"])
                    .context("reading the server's configuration from the environment")?
                    .pds
                    .net();
                net.user_agent = concat!("hearth-admin/", env!("CARGO_PKG_VERSION")).to_owned();
                net.timeout = std::time::Duration::from_secs(60);
                Ok(Target::Remote(Remote::new(
                    url,
                    password,
                    net.operator_client()?,
                )))
            }
        }
    }

    /// The data directory for commands that only work on one.
    fn local_only(&self, what: &str) -> anyhow::Result<()> {
        if self.url.is_some() {
            bail!("{what} works on the data directory, not over --url: run it where the data is");
        }
        Ok(())
    }

    fn writable(&self) -> anyhow::Result<Writable> {
        let mut cfg = ServerEnv::try_parse_from(["hearth"])
            .context("reading the server's configuration from the environment")?
            .pds;
        cfg.data_dir = self.data_dir.clone();
        Ok(Writable::open(cfg)?)
    }
}

fn print_accounts(rows: &[AccountRow]) {
    for a in rows {
        println!(
            "{}\t{}\t{}\t{}",
            a.did,
            a.handle.as_deref().unwrap_or("-"),
            a.email.as_deref().unwrap_or("-"),
            a.status
        );
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match &args.command {
        AdminCommand::Backup { out, keep } => {
            args.local_only("backup")?;
            let (data, root) = (args.data_dir.clone(), out.clone());
            let made =
                tokio::task::spawn_blocking(move || hearth_ops::backup::create(&data, &root))
                    .await?
                    .with_context(|| format!("backing up {}", args.data_dir.display()))?;
            let bytes: u64 = made.manifest.files.iter().map(|f| f.size).sum();
            println!(
                "backup {}: {} files, {bytes} bytes, firehose head {}",
                made.dir.display(),
                made.manifest.files.len(),
                made.manifest
                    .pds_head_seq
                    .map_or_else(|| "none (no PDS)".into(), |s| s.to_string())
            );
            if let Some(keep) = keep {
                for dir in hearth_ops::backup::prune(out, (*keep).max(1))? {
                    println!("deleted old backup {}", dir.display());
                }
            }
        }
        AdminCommand::Restore { backup } => {
            args.local_only("restore")?;
            let m = hearth_ops::restore::restore(backup, &args.data_dir).with_context(|| {
                format!(
                    "restoring {} into {}",
                    backup.display(),
                    args.data_dir.display()
                )
            })?;
            println!(
                "restored {} files from {} (taken {}) into {}; the firehose continues after seq {}",
                m.files.len(),
                backup.display(),
                m.created_at,
                args.data_dir.display(),
                m.pds_head_seq.unwrap_or(0)
            );
        }
        AdminCommand::Verify => {
            args.local_only("verify")?;
            let data = args.data_dir.clone();
            let r =
                tokio::task::spawn_blocking(move || hearth_ops::verify::verify(&data)).await??;
            for (db, problem) in &r.damaged {
                println!("DAMAGED {db}: {problem}");
            }
            for (did, problem) in &r.bad_repos {
                println!("BAD REPO {did}: {problem}");
            }
            for cid in &r.missing_blobs {
                println!("MISSING BLOB {cid}");
            }
            for (did, problem) in &r.appview_ahead {
                println!("APPVIEW AHEAD {did}: {problem}");
            }
            if let Some(bucket) = &r.blobs_elsewhere {
                println!("blob bytes are in the {bucket}: not checked here");
            }
            println!(
                "{} databases, {} repositories ({} records), {} blobs checked; the AppView has yet \
                 to apply the latest commit of {} accounts: {}",
                r.databases,
                r.repos,
                r.records,
                r.blobs,
                r.appview_behind,
                if r.is_clean() {
                    "all good"
                } else {
                    "PROBLEMS FOUND"
                }
            );
            if !r.is_clean() {
                std::process::exit(1);
            }
        }
        AdminCommand::Stats { json } => {
            args.local_only("stats")?;
            let s = hearth_ops::stats::stats(&args.data_dir)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                for (status, n) in &s.accounts {
                    println!("accounts {status}: {n}");
                }
                println!("firehose head seq: {}", s.firehose_head_seq);
                for db in &s.databases {
                    println!("database {}: {} bytes", db.path, db.bytes);
                    for (table, rows) in &db.tables {
                        println!("  {table}: {rows} rows");
                    }
                }
                for (group, n, bytes) in &s.files {
                    println!("files {group}: {n} files, {bytes} bytes");
                }
            }
        }
        AdminCommand::Accounts(cmd) => accounts(&args, cmd).await?,
        AdminCommand::Invites(cmd) => invites(&args, cmd).await?,
    }
    Ok(())
}

async fn accounts(args: &AdminArgs, cmd: &AccountsCommand) -> anyhow::Result<()> {
    let target = args.target()?;
    match cmd {
        AccountsCommand::List => {
            let rows = match &target {
                Target::Direct(dir) => hearth_ops::accounts::list_accounts(dir)?,
                Target::Remote(r) => r.list_accounts().await?,
            };
            print_accounts(&rows);
        }
        AccountsCommand::Create {
            handle,
            email,
            password,
        } => {
            let n = NewAccount {
                handle: handle.clone(),
                email: email.clone(),
                password: password.clone(),
            };
            let row = match &target {
                Target::Direct(_) => args.writable()?.create_account(n).await?,
                Target::Remote(r) => r.create_account(n).await?,
            };
            print_accounts(&[row]);
        }
        AccountsCommand::Takedown { did, reference } => {
            match &target {
                Target::Direct(_) => {
                    args.writable()?
                        .set_takedown(did, Some(reference.clone()))
                        .await?
                }
                Target::Remote(r) => r.set_takedown(did, Some(reference.clone())).await?,
            }
            println!("{did} taken down");
        }
        AccountsCommand::Restore { did } => {
            match &target {
                Target::Direct(_) => args.writable()?.set_takedown(did, None).await?,
                Target::Remote(r) => r.set_takedown(did, None).await?,
            }
            println!("{did} restored");
        }
        AccountsCommand::ResetPassword { did, password } => {
            match &target {
                Target::Direct(_) => args.writable()?.reset_password(did, password).await?,
                Target::Remote(r) => r.reset_password(did, password).await?,
            }
            println!("{did}: password reset, sessions ended");
        }
        AccountsCommand::Delete { did, yes } => {
            if !yes {
                bail!("deleting {did} cannot be undone: add --yes to confirm");
            }
            match &target {
                Target::Direct(_) => args.writable()?.delete_account(did).await?,
                Target::Remote(r) => r.delete_account(did).await?,
            }
            println!("{did} deleted");
        }
    }
    Ok(())
}

async fn invites(args: &AdminArgs, cmd: &InvitesCommand) -> anyhow::Result<()> {
    let target = args.target()?;
    match cmd {
        InvitesCommand::Create { count, uses } => {
            let codes = match &target {
                Target::Direct(_) => args.writable()?.create_invites(*count, *uses).await?,
                Target::Remote(r) => r.create_invites(*count, *uses).await?,
            };
            for c in codes {
                println!("{c}");
            }
        }
        InvitesCommand::List => {
            let rows = match &target {
                Target::Direct(dir) => hearth_ops::accounts::list_invites(dir)?,
                Target::Remote(r) => r.list_invites().await?,
            };
            for i in rows {
                println!(
                    "{}\t{}/{} used\t{}{}",
                    i.code,
                    i.used,
                    i.available,
                    i.for_account,
                    if i.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}
