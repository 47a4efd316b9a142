//! Client authentication as Relay reads it: the `X-Sentry-Auth` header
//! (`Sentry sentry_version=7, sentry_client=x/1.0, sentry_key=<public>`), falling back to the
//! `sentry_key` query parameter.

/// The public key a request presents, if any.
pub fn public_key(header: Option<&str>, query: Option<&str>) -> Option<String> {
    if let Some(h) = header {
        let h = h.trim();
        let body = h
            .strip_prefix("Sentry ")
            .or_else(|| h.strip_prefix("sentry "))
            .unwrap_or(h);
        for pair in body.split(',') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k.trim() == "sentry_key"
            {
                return Some(v.trim().to_owned());
            }
        }
    }
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "sentry_key")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_then_query() {
        let h = "Sentry sentry_version=7, sentry_client=sentry-load/0.1, sentry_key=abc";
        assert_eq!(public_key(Some(h), None).as_deref(), Some("abc"));
        assert_eq!(
            public_key(None, Some("sentry_version=7&sentry_key=def")).as_deref(),
            Some("def")
        );
        assert_eq!(public_key(Some("Sentry sentry_version=7"), None), None);
        assert_eq!(public_key(None, None), None);
    }
}
