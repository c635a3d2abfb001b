//! `hearth admin`: the operator's commands. Each parses its arguments, calls the operation in
//! its crate (`hearth-ops`, `hearth-pds`) and prints the outcome; the work is done there.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's data directory (read directly; safe beside a running server).
    #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
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
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::Backup { out, keep } => {
            let made = hearth_ops::backup::create(&args.data_dir, &out)
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
                for dir in hearth_ops::backup::prune(&out, keep.max(1))? {
                    println!("deleted old backup {}", dir.display());
                }
            }
        }
        AdminCommand::Restore { backup } => {
            let m = hearth_ops::restore::restore(&backup, &args.data_dir).with_context(|| {
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
    }
    Ok(())
}
