//! Crash safety of the real binary: `hearth pds` with a local PLC directory takes a burst of
//! concurrent writes and is killed with SIGKILL mid-burst, then restarted on the same data
//! directory. Every write that was acknowledged (HTTP 200) must be there with the CID it was
//! acknowledged with; every repository must verify against the account's key in the PLC
//! directory; the firehose must hold a `#commit` for every acknowledged write, in an unbroken
//! sequence; and the sequence must continue where it stopped.

mod binary;

use binary::*;
use hearth_testkit::*;

const ROUNDS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let cases = Cases::new("pds_crash");
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let http = client();

    let mut hearth = spawn(port, &data, plc.url(), "first.log");
    wait_healthy(&http, &format!("http://localhost:{port}")).await;
    let accounts = three_accounts(port).await;

    // Rounds of: a burst of concurrent writes, SIGKILL mid-burst, restart on the same data.
    // Acknowledgements accumulate: every round checks all writes acknowledged so far.
    let mut acked: Vec<Acked> = Vec::new();
    for round in 0..ROUNDS {
        let got = burst(&http, &url, &accounts, round, &mut hearth, Stop::Kill).await;
        cases.case(&format!(
            "round {round}: SIGKILL mid-burst, {} writes acknowledged",
            got.len()
        ));
        acked.extend(got);
        hearth = spawn(port, &data, plc.url(), &format!("run{}.log", round + 1));
        wait_healthy(&http, &format!("http://localhost:{port}")).await;
        check(
            &cases,
            &http,
            &url,
            plc.url(),
            port,
            &accounts,
            &acked,
            round,
        )
        .await;
    }
    println!(
        "pds_crash: {} acknowledged writes survived {ROUNDS} kills",
        acked.len()
    );
}
