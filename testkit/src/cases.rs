//! Counting the cases a test runs.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the cases a test ran and prints the total when dropped: `<name>: <n> cases run`,
/// the line `scripts/test` collects.
pub struct Cases {
    name: &'static str,
    n: AtomicUsize,
}

impl Cases {
    pub fn new(name: &'static str) -> Cases {
        Cases {
            name,
            n: AtomicUsize::new(0),
        }
    }

    /// Counts one case and names it on stderr, so a failure's output says how far it got.
    pub fn case(&self, what: &str) {
        let n = self.n.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("  [{}] case {n}: {what}", self.name);
    }

    pub fn count(&self) -> usize {
        self.n.load(Ordering::Relaxed)
    }
}

impl Drop for Cases {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            println!("{}: {} cases run", self.name, self.count());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cases;

    #[test]
    fn counts_each_case() {
        let cases = Cases::new("cases");
        cases.case("one");
        cases.case("two");
        assert_eq!(cases.count(), 2);
        // Not dropped: its `cases run` line would join the suite totals `scripts/test` prints.
        std::mem::forget(cases);
    }
}
