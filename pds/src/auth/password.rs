//! Password hashing with Argon2id (RustCrypto's `argon2`, the OWASP-recommended default).

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

/// Argon2 holds its whole memory cost (19 MiB with the default parameters) for as long as a
/// hash runs, and hashes run on tokio's blocking threads, of which there can be hundreds: ten
/// sign-ups at once took the PDS from 20 to 200 MiB of RSS. More hashes at once than there are
/// cores only wait for CPU anyway, so at most that many run; the rest queue here.
struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

struct Permit(&'static Gate);

impl Gate {
    fn global() -> &'static Gate {
        static GATE: OnceLock<Gate> = OnceLock::new();
        GATE.get_or_init(|| Gate {
            running: Mutex::new(0),
            freed: Condvar::new(),
            max: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Blocks the calling (blocking-pool) thread until a hash may run.
    fn enter(&'static self) -> Permit {
        // The counter stays consistent even if a holder panicked, so poisoning is ignored.
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= self.max {
            running = self
                .freed
                .wait(running)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *running += 1;
        Permit(self)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        self.0.freed.notify_one();
    }
}

/// Hashes a password. Slow and memory-hungry by design: call it from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let _permit = Gate::global().enter();
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a stored hash. Slow by design: call it from a blocking thread.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            let _permit = Gate::global().enter();
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An app password in the reference's shape: four groups of four lowercase letters and digits.
pub fn new_app_password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes: [u8; 16] = rand::random();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CHARS[(*b as usize) % CHARS.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}
