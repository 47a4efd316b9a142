//! Secret-free rendering of addresses that may carry credentials.
//!
//! Every URL or DSN that reaches output, logs, journals or reports goes through here: passwords,
//! DSN secret keys and query tokens are replaced, and a DSN's public key is shortened.

use url::Url;

/// A URL with its password and any credential-looking query values replaced by `***`.
pub fn url(raw: &Url) -> String {
    let mut u = raw.clone();
    if u.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have none to hide.
        let _ = u.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let secret = matches!(
                k.as_ref(),
                "password" | "sentry_secret" | "token" | "access_token" | "sentry_key"
            );
            (
                k.into_owned(),
                if secret { "***".into() } else { v.into_owned() },
            )
        })
        .collect();
    if !pairs.is_empty() {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A DSN as `scheme://abcd…@host[:port]/path/project`: the public key cut to four characters,
/// the secret key dropped.
pub fn dsn(raw: &Url) -> String {
    let mut u = raw.clone();
    let user = u.username().to_owned();
    let short = format!("{}…", user.get(..4).unwrap_or(&user));
    let _ = u.set_password(None);
    let _ = u.set_username("");
    let s = u.to_string();
    match s.split_once("://") {
        Some((scheme, rest)) if !user.is_empty() => format!("{scheme}://{short}@{rest}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_never_survive() {
        let u = Url::parse("postgres://postgres:hunter2@db:5432/postgres?password=x&sslmode=off")
            .unwrap();
        let shown = url(&u);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("password=x"), "{shown}");
        assert!(shown.contains("sslmode=off"), "{shown}");
    }

    #[test]
    fn dsn_keeps_only_a_key_prefix() {
        let u = Url::parse("https://0123456789abcdef:topsecret@sentry.example.com/42").unwrap();
        let shown = dsn(&u);
        assert_eq!(shown, "https://0123…@sentry.example.com/42");
    }
}
