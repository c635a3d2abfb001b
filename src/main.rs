//! `hearth`: the PDS, the AppView, or both in one process.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "A PDS, an AppView and members-only spaces on the AT Protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the personal data server.
    Pds,
    /// Run the AppView.
    Appview,
    /// Run PDS and AppView together for local use.
    Up,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let name = match cli.command {
        Command::Pds => "pds",
        Command::Appview => "appview",
        Command::Up => "up",
    };
    anyhow::bail!("`hearth {name}` is not built yet")
}
