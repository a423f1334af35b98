//! Password hashes for the users made with `--user`.
//!
//! A salted SHA-256, not a slow password KDF: these users are test fixtures
//! created at every start, and a deliberately slow hash (Django's PBKDF2)
//! would only slow down tests and the login step of the benchmark. Do not
//! take this module as a model for storing real passwords.

use sha2::{Digest, Sha256};

use crate::ids::{hex, random_bytes};

const SCHEME: &str = "sha256";

/// `sha256$<salt>$<digest>` for `password` with a fresh random salt.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn hash(password: &str) -> Result<String, getrandom::Error> {
    let salt = hex(&random_bytes::<16>()?);
    Ok(format!("{SCHEME}${salt}${}", digest(&salt, password)))
}

/// Whether `password` matches `stored`, compared in constant time.
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(SCHEME), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let actual = digest(salt, password);
    actual.len() == expected.len()
        && actual
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn digest(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b"$");
    hasher.update(password.as_bytes());
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_verifies_and_wrong_one_does_not() {
        let stored = hash("wonderland").unwrap();
        assert!(verify("wonderland", &stored));
        assert!(!verify("wonderlands", &stored));
        assert!(!verify("wonderland", "plain"));
        assert_ne!(stored, hash("wonderland").unwrap());
    }
}
