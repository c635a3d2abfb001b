//! `hearth-bench`: one load client driving Hearth's PDS and the reference PDS
//! (`@atproto/pds`) through the same workloads, one server at a time, against one shared PLC
//! directory; prints one table and, with `--doc`, writes it into the benchmarks document.
//! `scripts/bench` builds everything, starts the PLC and runs this.

mod firehose;
mod load;
mod report;
mod server;
mod sys;
mod workloads;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use server::{Kind, Launcher};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Only {
    Reference,
    Hearth,
}

#[derive(Parser, Debug)]
#[command(
    name = "hearth-bench",
    about = "Side-by-side PDS benchmark: Hearth against the reference PDS"
)]
pub struct Args {
    /// The PLC directory both servers use.
    #[arg(long)]
    pub plc_url: String,
    /// The PLC directory's process, counted as part of the benchmark when measuring what
    /// other processes on the machine used.
    #[arg(long)]
    pub plc_pid: Option<u32>,
    /// Hearth's binary (run as `<bin> pds`).
    #[arg(long)]
    pub hearth_bin: PathBuf,
    /// Node 22.
    #[arg(long, default_value = "node")]
    pub node: PathBuf,
    /// The script that runs the reference PDS (tests/interop/bench/reference-pds.mjs).
    #[arg(long)]
    pub reference_script: PathBuf,
    /// Where data directories, logs and pid files go.
    #[arg(long)]
    pub run_dir: PathBuf,
    /// Replace the side-by-side section of this Markdown file with the results.
    #[arg(long)]
    pub doc: Option<PathBuf>,
    /// The command line to state in the document.
    #[arg(long, default_value = "scripts/bench")]
    pub command: String,
    /// The Hearth revision to state in the document.
    #[arg(long)]
    pub hearth_rev: Option<String>,
    /// Run against one server only (for trying things out; the document is not written).
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    #[arg(long, default_value_t = 10)]
    pub accounts: usize,
    #[arg(long, default_value_t = 20)]
    pub writers: usize,
    #[arg(long, default_value_t = 5000)]
    pub posts: usize,
    #[arg(long, default_value_t = 20)]
    pub readers: usize,
    #[arg(long, default_value_t = 20000)]
    pub reads: usize,
    #[arg(long, default_value_t = 50)]
    pub replay_subscribers: usize,
    #[arg(long, default_value_t = 20)]
    pub live_subscribers: usize,
    /// Writes during W4.
    #[arg(long, default_value_t = 2000)]
    pub live_posts: usize,
    #[arg(long, default_value_t = 10000)]
    pub repo_records: usize,
    /// Downloads of the large repository (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repo_downloads: usize,
    /// Idle time before the first and after the last workload (idle RSS).
    #[arg(long, default_value_t = 5)]
    pub settle_secs: u64,
    /// Launches per server for the start-up median (the last one runs the workloads).
    #[arg(long, default_value_t = 3)]
    pub startup_runs: usize,
    /// Requests to `/xrpc/_health` for the client's ceiling.
    #[arg(long, default_value_t = 50000)]
    pub ceiling_requests: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.accounts == 0 || args.writers == 0 || args.readers == 0 || args.posts == 0 {
        bail!("accounts, writers, readers and posts must be positive");
    }
    std::fs::create_dir_all(&args.run_dir)?;
    let launcher = Launcher {
        hearth_bin: args.hearth_bin.clone(),
        node: args.node.clone(),
        reference_script: args.reference_script.clone(),
        plc_url: args.plc_url.trim_end_matches('/').to_owned(),
        run_dir: args.run_dir.clone(),
    };
    let http = load::client()?;
    let started = std::time::Instant::now();

    let reference = if args.only != Some(Only::Hearth) {
        Some(workloads::phase(Kind::Reference, &args, &launcher, &http).await?)
    } else {
        None
    };
    let hearth = if args.only != Some(Only::Reference) {
        Some(workloads::phase(Kind::Hearth, &args, &launcher, &http).await?)
    } else {
        None
    };

    let ctx = report::Context {
        args: &args,
        machine: sys::machine(),
        date: {
            let (y, mo, d, h, mi, _) = sys::utc_now();
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
        },
        node_version: std::process::Command::new(&args.node)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
        fs: sys::fs_type(&args.run_dir),
        total: started.elapsed(),
    };
    let table = report::table(reference.as_ref(), hearth.as_ref());
    println!();
    println!("{table}");
    let ceiling = report::ceiling(&ctx, hearth.as_ref());
    println!("{ceiling}");
    let sane = reference.iter().chain(hearth.iter()).all(|m| m.sane());
    println!();
    println!(
        "whole run: {:.0} s; sanity: {}",
        ctx.total.as_secs_f64(),
        if sane { "all checks passed" } else { "FAILED" }
    );
    for m in reference.iter().chain(hearth.iter()) {
        if m.other_cores() > 0.25 {
            println!(
                "WARNING: other processes kept {:.2} cores busy during the {} phase; its figures are depressed",
                m.other_cores(),
                m.kind.name()
            );
        }
    }
    if !sane {
        bail!("sanity checks failed; the document was not written");
    }
    if let Some(doc) = &args.doc {
        let (Some(r), Some(h)) = (&reference, &hearth) else {
            bail!("--doc needs both servers (drop --only)");
        };
        let section = report::section(&ctx, r, h, &table, &ceiling);
        let old = std::fs::read_to_string(doc).unwrap_or_default();
        std::fs::write(
            doc,
            report::replace_section(&old, report::HEADING, &section),
        )
        .with_context(|| format!("writing {}", doc.display()))?;
        println!("wrote {}", doc.display());
    }
    Ok(())
}
