//! The one table, the client's ceiling, and the section of `docs/benchmarks.md`.

use crate::Args;
use crate::sys::Machine;
use crate::workloads::Measured;
use std::fmt::Write;
use std::time::Duration;

pub const HEADING: &str = "## PDS, side by side with the reference";

pub struct Context<'a> {
    pub args: &'a Args,
    pub machine: Machine,
    pub date: String,
    pub node_version: String,
    pub fs: String,
    pub total: Duration,
}

/// 12,345 / 123 / 12.3 / 1.23.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x != 0.0 && x.abs() < 0.005 {
        return "< 0.01".into();
    }
    if x.abs() >= 100.0 {
        let s = format!("{:.0}", x.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "–".into()
    } else if r > 1000.0 {
        "> 1,000×".into()
    } else if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

enum Better {
    Higher,
    Lower,
}

struct Row {
    name: String,
    reference: String,
    hearth: String,
    ratio: String,
    goal: &'static str,
}

fn metric(
    name: impl Into<String>,
    r: Option<&Measured>,
    h: Option<&Measured>,
    better: Better,
    goal: &'static str,
    f: impl Fn(&Measured) -> f64,
) -> Row {
    let (rv, hv) = (r.map(&f), h.map(&f));
    let ratio = match (rv, hv, better) {
        (Some(r), Some(h), Better::Higher) => ratio(h / r),
        (Some(r), Some(h), Better::Lower) => ratio(r / h),
        _ => "–".into(),
    };
    Row {
        name: name.into(),
        reference: rv.map_or("–".into(), num),
        hearth: hv.map_or("–".into(), num),
        ratio,
        goal,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The table: one row per figure, both servers, and Hearth over the reference oriented so
/// that more than 1× means Hearth is better.
pub fn table(r: Option<&Measured>, h: Option<&Measured>) -> String {
    let mut rows = vec![
        metric(
            "W1 createRecord, writes/s",
            r,
            h,
            Better::Higher,
            "≥ 15×",
            |m| m.w1.per_sec(),
        ),
        metric("W1 createRecord p50, ms", r, h, Better::Lower, "", |m| {
            m.w1.p_ms(0.5)
        }),
        metric(
            "W1 createRecord p99, ms",
            r,
            h,
            Better::Lower,
            "Hearth p99 < reference p50",
            |m| m.w1.p_ms(0.99),
        ),
        metric(
            "W2 getRecord, reads/s",
            r,
            h,
            Better::Higher,
            "≥ 20×",
            |m| m.w2.per_sec(),
        ),
        metric("W2 getRecord p50, ms", r, h, Better::Lower, "", |m| {
            m.w2.p_ms(0.5)
        }),
        metric("W2 getRecord p99, ms", r, h, Better::Lower, "", |m| {
            m.w2.p_ms(0.99)
        }),
        metric(
            "W3 subscribeRepos replay from 0, frames/s (all subscribers)",
            r,
            h,
            Better::Higher,
            "≥ 5×",
            |m| m.w3.per_sec(),
        ),
        metric(
            "W4 live firehose lag p50, ms",
            r,
            h,
            Better::Lower,
            "",
            |m| m.w4.p_ms(0.5),
        ),
        metric(
            "W4 live firehose lag p99, ms",
            r,
            h,
            Better::Lower,
            "Hearth < 50 ms",
            |m| m.w4.p_ms(0.99),
        ),
        metric(
            "W5 sync.getRepo, 10k-record repo, ms (median)",
            r,
            h,
            Better::Lower,
            "≥ 5×",
            |m| ms(m.w5.median()),
        ),
    ];
    let pass = |m: Option<&Measured>| {
        m.map_or("–".into(), |m| {
            if m.w5.passed() { "pass" } else { "FAIL" }.to_owned()
        })
    };
    rows.push(Row {
        name: "W5 CAR verified with the PLC signing key".into(),
        reference: pass(r),
        hearth: pass(h),
        ratio: "–".into(),
        goal: "pass",
    });
    rows.extend([
        metric(
            "W5 seeding by applyWrites ×200, records/s",
            r,
            h,
            Better::Higher,
            "",
            |m| m.w5.seed_per_sec(),
        ),
        metric(
            "W6 peak RSS over the run (VmHWM), MiB",
            r,
            h,
            Better::Lower,
            "≥ 5× (≤ 1/5)",
            |m| mib(m.hwm_kib),
        ),
        metric(
            "W6 idle RSS after start-up, MiB",
            r,
            h,
            Better::Lower,
            "",
            |m| mib(m.idle_start_kib),
        ),
        metric(
            "W6 idle RSS at the end, MiB",
            r,
            h,
            Better::Lower,
            "",
            |m| mib(m.idle_end_kib),
        ),
        metric(
            "W7 start-up to healthy, fresh data dir, ms (median)",
            r,
            h,
            Better::Lower,
            "",
            |m| ms(m.startup_median()),
        ),
    ]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | reference | Hearth | Hearth vs reference | goal |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | --- |");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.name, row.reference, row.hearth, row.ratio, row.goal
        );
    }
    out.trim_end().to_owned()
}

/// What the client can do on its own, measured in the same run.
pub fn ceiling(ctx: &Context<'_>, h: Option<&Measured>) -> String {
    let Some(h) = h else {
        return "client ceiling: not measured (Hearth was not run)".into();
    };
    let mut out = String::new();
    if let Some(c) = &h.ceiling {
        let cpu_per_req = c.client_cpu / c.ok().max(1) as f64;
        let _ = writeln!(
            out,
            "Client ceiling, HTTP: {} req/s against Hearth's `/xrpc/_health` ({} connections, {} requests, p50 {} ms, p99 {} ms); \
             the client spent {:.1} µs of CPU per request, so alone it could send about {} req/s on {} cores.",
            num(c.per_sec()),
            ctx.args.readers,
            num(c.ok() as f64),
            num(c.p_ms(0.5)),
            num(c.p_ms(0.99)),
            cpu_per_req * 1e6,
            num(ctx.machine.cores as f64 / cpu_per_req),
            ctx.machine.cores,
        );
    }
    let _ = write!(
        out,
        "Client ceiling, firehose: `decode_frame` alone handles {} frames/s per core (Hearth's W3 frames).",
        num(h.decode_per_core)
    );
    out
}

fn details(m: &Measured) -> String {
    let mut out = String::new();
    let name = match m.kind {
        crate::server::Kind::Reference => "Reference",
        crate::server::Kind::Hearth => "Hearth",
    };
    let _ = writeln!(out, "{name}:");
    let _ = writeln!(out, "- W1: {}", m.w1.summary());
    let _ = writeln!(out, "- W2: {}", m.w2.summary());
    let _ = writeln!(
        out,
        "- W3: single-subscriber probe {} frames in {:.2} s ({} frames/s); 50-subscriber replay {} frames in {:.2} s; CPU: server {:.1} s, client {:.1} s",
        m.probe_frames,
        m.probe_elapsed.as_secs_f64(),
        num(m.probe_frames as f64 / m.probe_elapsed.as_secs_f64()),
        m.w3.total(),
        m.w3.elapsed.as_secs_f64(),
        m.w3.server_cpu,
        m.w3.client_cpu
    );
    let _ = writeln!(
        out,
        "- W4: writes {}; lag max {} ms; {} of {} frames arrived before the client had the write's HTTP response (counted as 0 ms)",
        m.w4_writes.summary(),
        num(m.w4.hist.max() as f64 / 1000.0),
        m.w4.before_ack,
        m.w4.matched
    );
    let _ = writeln!(
        out,
        "- W5: CAR {:.1} MiB; downloads {}; seeding {:.1} s",
        m.w5.car_bytes as f64 / 1048576.0,
        m.w5.downloads
            .iter()
            .map(|d| format!("{} ms", num(ms(*d))))
            .collect::<Vec<_>>()
            .join(", "),
        m.w5.seed_elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- W6: peak RSS sampled every 100 ms {} MiB (VmHWM {} MiB); RSS right after each workload: {}",
        num(mib(m.peak_sampled_kib)),
        num(mib(m.hwm_kib)),
        m.rss_after
            .iter()
            .map(|(w, k)| format!("{w} {} MiB", num(mib(*k))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "- machine: other processes used {:.1} CPU s during the {:.0} s of workloads ({:.2} of {} cores on average)",
        m.other_cpu,
        m.wall.as_secs_f64(),
        m.other_cpu / m.wall.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        out,
        "- W7: start-ups {}",
        m.startups
            .iter()
            .map(|d| format!("{} ms", num(ms(*d))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "- sanity: {}",
        m.sanity
            .iter()
            .map(|(c, ok)| format!("{c} ({})", if *ok { "ok" } else { "FAILED" }))
            .collect::<Vec<_>>()
            .join("; ")
    );
    out
}

/// The whole section for the benchmarks document.
pub fn section(
    ctx: &Context<'_>,
    r: &Measured,
    h: &Measured,
    table: &str,
    ceiling: &str,
) -> String {
    let a = ctx.args;
    let m = &ctx.machine;
    let mut out = String::new();
    let _ = writeln!(out, "{HEADING}\n");
    let _ = writeln!(out, "    {}\n", ctx.command_line());
    let _ = writeln!(
        out,
        "Measured {} on {} cores ({}), {:.1} GiB RAM, Linux {}; Node {}; Hearth {}; data directories on {}. \
         The whole run took {:.0} s. While the workloads ran, other processes on the machine used \
         {:.2} cores on average during the reference's phase and {:.2} during Hearth's.\n",
        ctx.date,
        m.cores,
        m.cpu_model,
        m.ram_gib,
        m.kernel,
        ctx.node_version,
        a.hearth_rev.as_deref().unwrap_or("(unknown revision)"),
        ctx.fs,
        ctx.total.as_secs_f64(),
        r.other_cores(),
        h.other_cores(),
    );
    let _ = writeln!(
        out,
        "One real PLC directory (`@did-plc/server`, in-memory) serves both PDSes. The reference is \
         `@atproto/pds` 0.5.35 alone in its Node process (`tests/interop/bench/reference-pds.mjs`: dev \
         mode, rate limits off); Hearth is `target/release/hearth pds` (`HEARTH_DEV=true`, \
         `HEARTH_RATE_LIMITS=false`). Each gets a fresh data directory and runs alone: the reference \
         first, then Hearth, never both at once. The same client (`bench/`, Rust, HTTP/1.1 keep-alive, \
         `atproto::firehose::decode_frame` for every frame) drives both, on the same machine.\n"
    );
    let _ = writeln!(
        out,
        "Workloads: W1 {} `app.bsky.feed.post` records by `createRecord` from {} concurrent writers over \
         {} accounts; W2 {} `repo.getRecord` of those posts from {} readers; W3 {} subscribers replay \
         `subscribeRepos` from cursor 0 at once, each until the head seq; W4 {} live subscribers while \
         {} more posts are written as in W1, lag = frame arrival minus the write's HTTP response, \
         matched by record URI; W5 `sync.getRepo` of a {}-record repository seeded by `applyWrites` \
         batches of 200, then verified with `atproto::repo::verify_repo_car` against the `#atproto` key \
         of the PLC document; W6 VmRSS sampled every 100 ms, VmHWM at the end, idle RSS after {} s of \
         rest at the start and at the end; W7 spawn to first 200 from `/xrpc/_health`, {} launches \
         with fresh data directories.\n",
        num(a.posts as f64),
        a.writers,
        a.accounts,
        num(a.reads as f64),
        a.readers,
        a.replay_subscribers,
        a.live_subscribers,
        num(a.live_posts as f64),
        num(a.repo_records as f64),
        a.settle_secs,
        a.startup_runs
    );
    let _ = writeln!(
        out,
        "Durability is not the same on both sides. Hearth runs SQLite in WAL mode with \
         `synchronous = FULL` (`db/src/lib.rs`): every acknowledged write has been fsynced. The \
         reference sets no `synchronous` pragma on its databases, and `better-sqlite3` is compiled with \
         `SQLITE_DEFAULT_WAL_SYNCHRONOUS=1`, so it runs WAL with `synchronous = NORMAL`: commits are \
         not fsynced (only checkpoints are), and a power loss can drop acknowledged writes.\n"
    );
    let _ = writeln!(out, "{table}\n");
    let _ = writeln!(
        out,
        "Hearth vs reference: Hearth's figure over the reference's for rates, the reference's over \
         Hearth's for times and memory, so more than 1× always means Hearth is better. Goals are the \
         targets of the \"PDS performance\" issue.\n"
    );
    for line in ceiling.lines() {
        let _ = writeln!(out, "{line}\n");
    }
    let _ = writeln!(
        out,
        "Every sanity check passed on both servers (listed under each).\n"
    );
    for m in [r, h] {
        let _ = writeln!(out, "{}", details(m));
    }
    out.trim_end().to_owned() + "\n"
}

impl Context<'_> {
    fn command_line(&self) -> String {
        self.args.command.clone()
    }
}

/// Replaces the level-2 section headed `heading` (up to the next level-2 heading) with
/// `section`, or appends it when absent; the rest of the document is kept as it is.
pub fn replace_section(doc: &str, heading: &str, section: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == heading);
    let mut out = String::new();
    match start {
        Some(s) => {
            let end = lines[s + 1..]
                .iter()
                .position(|l| l.starts_with("## "))
                .map_or(lines.len(), |i| s + 1 + i);
            for l in &lines[..s] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(section.trim_end());
            out.push('\n');
            if end < lines.len() {
                out.push('\n');
                for l in &lines[end..] {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        None => {
            out.push_str(doc.trim_end());
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(section.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_its_section() {
        let doc = "# B\n\nintro\n\n## A\n\na\n\n### A1\n\nx\n\n## PDS, side by side with the reference\n\nold\n\n### sub\n\nold too\n\n## Z\n\nz\n";
        let new = replace_section(doc, HEADING, &format!("{HEADING}\n\nnew\n"));
        assert_eq!(
            new,
            "# B\n\nintro\n\n## A\n\na\n\n### A1\n\nx\n\n## PDS, side by side with the reference\n\nnew\n\n## Z\n\nz\n"
        );
        let appended = replace_section("# B\n\n## A\n\na\n", HEADING, &format!("{HEADING}\n\nn"));
        assert_eq!(appended, format!("# B\n\n## A\n\na\n\n{HEADING}\n\nn\n"));
        // Running twice changes nothing more.
        assert_eq!(
            replace_section(&appended, HEADING, &format!("{HEADING}\n\nn")),
            appended
        );
    }

    #[test]
    fn numbers_and_ratios() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(ratio(15.2), "15×");
        assert_eq!(ratio(1.52), "1.5×");
        assert_eq!(ratio(0.5), "0.50×");
        assert_eq!(ratio(230527.0), "> 1,000×");
        assert_eq!(num(0.001), "< 0.01");
    }
}
