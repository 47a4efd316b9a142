//! Client authentication as Relay reads it: the `X-Sentry-Auth` header
//! (`Sentry sentry_version=7, sentry_client=x/1.0, sentry_key=<public>`), falling back to the
//! `sentry_key` query parameter.

/// The public key a request presents, if any.
pub fn public_key(header: Option<&str>, query: Option<&str>) -> Option<String> {
    field("sentry_key", header, query)
}

/// The `sentry_*` field `name` of the header, else of the query.
pub fn field(name: &str, header: Option<&str>, query: Option<&str>) -> Option<String> {
    if let Some(h) = header
        && let Some(v) = header_fields(h).find(|(k, _)| *k == name).map(|(_, v)| v)
    {
        return Some(v.to_owned());
    }
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether the query carries any `sentry_*` parameter.
pub fn query_has_auth(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k.starts_with("sentry_"))
    })
}

/// The `key=value` pairs of an `X-Sentry-Auth` header.
fn header_fields(h: &str) -> impl Iterator<Item = (&str, &str)> {
    let h = h.trim();
    let body = h
        .strip_prefix("Sentry ")
        .or_else(|| h.strip_prefix("sentry "))
        .unwrap_or(h);
    body.split(',').filter_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        Some((k.trim(), v.trim()))
    })
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
