//! Random identifiers: token ids (`jti`), user UUIDs, password salts and
//! opaque OAuth tokens.

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// `N` bytes from the operating system's generator.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

/// Letters and digits, the alphabet of Django's `get_random_string` and
/// oauthlib's `generate_token`.
const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` characters drawn uniformly from letters and digits: a Django salt
/// (22) or an oauthlib token (30).
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn alphanumeric(len: usize) -> Result<String, getrandom::Error> {
    // Bytes past the largest multiple of the alphabet's size are skipped,
    // so every character is equally likely.
    let limit = 256 - 256 % ALPHANUMERIC.len();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<32>()? {
            let byte = usize::from(byte);
            if byte < limit && out.len() < len {
                if let Some(&c) = ALPHANUMERIC.get(byte % ALPHANUMERIC.len()) {
                    out.push(char::from(c));
                }
            }
        }
    }
    Ok(out)
}

/// A token id the way SimpleJWT makes one (`uuid4().hex`): 32 hex digits.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_jti() -> Result<String, getrandom::Error> {
    Ok(hex(&uuid4_bytes()?))
}

/// A random version-4 UUID, canonical lowercase and hyphenated.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_uuid() -> Result<String, getrandom::Error> {
    Ok(hyphenated(&hex(&uuid4_bytes()?)))
}

/// 32 hex digits as a UUID's five hyphen-separated groups.
fn hyphenated(digits: &str) -> String {
    let part = |from: usize, to: usize| digits.get(from..to).unwrap_or("");
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// Brings a UUID as a user might write it (any case, with or without
/// hyphens, as Django's `UUIDField` accepts) to the stored form. `None` when
/// it is not a UUID at all.
pub fn canonical_uuid(text: &str) -> Option<String> {
    let digits: String = text
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.len() != 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(hyphenated(&digits))
}

fn uuid4_bytes() -> Result<[u8; 16], getrandom::Error> {
    let mut b = random_bytes::<16>()?;
    // Version 4 in the high nibble of byte 6, variant 10xx in byte 8.
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x40;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_simplejwt_and_django_shapes() {
        let jti = new_jti().unwrap();
        assert_eq!(jti.len(), 32);
        assert_ne!(jti, new_jti().unwrap());
        let uuid = new_uuid().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.chars().nth(14), Some('4'));
        assert_eq!(
            canonical_uuid(&uuid.to_uppercase().replace('-', "")),
            Some(uuid)
        );
        assert_eq!(canonical_uuid("1"), None);
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    }
}
