//! Password hashes as Django stores them: `PBKDF2PasswordHasher`,
//! `pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte digest>`, so
//! a Django user table's hashes verify here and these verify in Django.
//!
//! The iteration count is the cost of every login; tests and benchmarks
//! pass a low one (`--password-iterations`), deployments keep Django's.

use base64::Engine as _;
use sha2::Sha256;

use crate::ids::alphanumeric;

const ALGORITHM: &str = "pbkdf2_sha256";

/// Django 5.2's `PBKDF2PasswordHasher.iterations`.
pub const DJANGO_ITERATIONS: u32 = 1_000_000;

/// 22 letters and digits carry the 128 bits Django asks of a salt.
const SALT_LENGTH: usize = 22;

/// `pbkdf2_sha256$<iterations>$<salt>$<digest>` for `password` with a
/// fresh random salt.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn hash(password: &str, iterations: u32) -> Result<String, getrandom::Error> {
    let salt = salt()?;
    let iterations = iterations.max(1);
    Ok(format!(
        "{ALGORITHM}${iterations}${salt}${}",
        digest(password, &salt, iterations)
    ))
}

/// Whether `password` matches `stored`, compared in constant time as
/// Django's `constant_time_compare` does. A hash in any other format (or
/// with another hasher's prefix) matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.splitn(4, '$');
    let (Some(ALGORITHM), Some(iterations), Some(salt), Some(expected)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 {
        return false;
    }
    let actual = digest(password, salt, iterations);
    actual.len() == expected.len()
        && actual
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn digest(password: &str, salt: &str, iterations: u32) -> String {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn salt() -> Result<String, getrandom::Error> {
    alphanumeric(SALT_LENGTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_verifies_and_wrong_one_does_not() {
        let stored = hash("wonderland", 10).unwrap();
        assert!(stored.starts_with("pbkdf2_sha256$10$"), "{stored}");
        assert!(verify("wonderland", &stored));
        assert!(!verify("wonderlands", &stored));
        assert!(!verify("wonderland", "plain"));
        assert!(!verify("wonderland", "pbkdf2_sha256$0$salt$x"));
        assert!(!verify("wonderland", "pbkdf2_sha256$ten$salt$x"));
        assert_ne!(stored, hash("wonderland", 10).unwrap());
    }

    /// Django's `pbkdf2` is `hashlib.pbkdf2_hmac`; this is its value for
    /// Django's test password at 1000 iterations. (Django's own known value
    /// at its default 1 000 000, `pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2
    /// Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=`, verifies too, in 12 s of an
    /// unoptimised build: too slow to keep here.)
    #[test]
    fn django_hashes_verify() {
        assert!(verify(
            "lètmein",
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A="
        ));
        assert!(!verify(
            "letmein",
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A="
        ));
    }

    #[test]
    fn salts_are_djangos_length_and_alphabet() {
        let salt = salt().unwrap();
        assert_eq!(salt.len(), SALT_LENGTH);
        assert!(salt.bytes().all(|b| b.is_ascii_alphanumeric()), "{salt}");
    }
}
