//! Value types of a profile that carry their own validation and never print secrets.

use crate::interpolate::{Unresolved, resolve};
use sentry_load_common::redact;
use serde::Deserialize;
use std::fmt;
use std::str::FromStr;
use url::Url;

/// What a value holds while a `${VAR}` it references is unset: a placeholder of the right
/// type, on a host that cannot resolve (RFC 2606's `.invalid`). A command that reads the key
/// refuses first ([`crate::Profile::require`]); the placeholder is never sent anywhere.
const UNSET_URL: &str = "http://unset.invalid/";

/// Resolves `raw`, or gives `placeholder` when a variable it needs is unset.
fn resolve_or(raw: &str, placeholder: &str) -> Result<String, String> {
    match resolve(raw) {
        Ok(v) => Ok(v),
        Err(Unresolved::Unset(_)) => Ok(placeholder.to_owned()),
        Err(e @ Unresolved::Malformed(_)) => Err(e.to_string()),
    }
}

/// A plain text value (an organization or project slug, a user name) with its `${VAR}`s
/// resolved, for `deserialize_with`; an unset one leaves `unset` (see [`UNSET_URL`]).
pub(crate) fn interpolated<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    resolve_or(&raw, "unset").map_err(serde::de::Error::custom)
}

/// A secret (token, password) read through `${VAR}`; shown as `***` and nowhere else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret's value, for the one place that sends it to a service.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl TryFrom<String> for Secret {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        resolve_or(&raw, "").map(Secret)
    }
}

/// A Sentry DSN (`scheme://<public_key>[:<secret>]@<host>[:port][/path]/<project_id>`).
/// `Display` and `Debug` show it redacted.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Dsn {
    inner: sentry::types::Dsn,
    project_id: u64,
    shown: String,
}

impl Dsn {
    /// The project the DSN sends to.
    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    /// The DSN as the Sentry SDK's type: for the envelope URL and the auth header.
    pub fn sentry_dsn(&self) -> &sentry::types::Dsn {
        &self.inner
    }

    /// The redacted form used in output.
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

impl FromStr for Dsn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let url = Url::parse(s).map_err(|e| format!("not a valid DSN: {e}"))?;
        let inner: sentry::types::Dsn = s.parse().map_err(|e| {
            format!("not a valid DSN ({e}); expected scheme://<public_key>@<host>/<project_id>")
        })?;
        let project_id = inner.project_id().value().parse().map_err(|_| {
            "not a valid DSN: the project id (the last path segment) must be a number".to_string()
        })?;
        Ok(Dsn {
            inner,
            project_id,
            shown: redact::dsn(&url),
        })
    }
}

impl TryFrom<String> for Dsn {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        resolve_or(&raw, "http://unset@unset.invalid/0")?.parse()
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({})", self.shown)
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A service address (ClickHouse, Postgres, Sentry web) that may carry credentials;
/// `Display` and `Debug` show it with passwords and tokens replaced.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ServiceUrl(Url);

impl ServiceUrl {
    /// The full URL, credentials included, for connecting.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl FromStr for ServiceUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Url::parse(s)
            .map(ServiceUrl)
            .map_err(|e| format!("not a valid URL: {e}"))
    }
}

impl TryFrom<String> for ServiceUrl {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        resolve_or(&raw, UNSET_URL)?.parse()
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceUrl({})", redact::url(&self.0))
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact::url(&self.0))
    }
}

/// Events per second: finite, above 0, at most 10,000,000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Rate(f64);

impl Rate {
    /// The largest rate a profile may ask for.
    pub const MAX: f64 = 10_000_000.0;

    /// The rate in events per second.
    pub fn per_second(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 && v <= Rate::MAX {
            Ok(Rate(v))
        } else {
            Err(format!(
                "invalid rate {v}: expected events per second above 0 and at most {}",
                Rate::MAX
            ))
        }
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: f64 = s
            .parse()
            .map_err(|_| format!("invalid rate `{s}`: expected a number of events per second"))?;
        Rate::try_from(v)
    }
}

/// A rate in a stage: like [`Rate`] but 0 is allowed (a pause, or a ramp's start).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct StageRate(f64);

impl StageRate {
    /// The rate in events per second.
    pub fn per_second(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for StageRate {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (0.0..=Rate::MAX).contains(&v) {
            Ok(StageRate(v))
        } else {
            Err(format!(
                "invalid rate {v}: expected events per second from 0 to {}",
                Rate::MAX
            ))
        }
    }
}

/// A fraction from 0 to 1 (loss ratios, rate ratios).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Ratio(f64);

impl Ratio {
    /// The fraction.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Ratio {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&v) {
            Ok(Ratio(v))
        } else {
            Err(format!("invalid ratio {v}: expected a number from 0 to 1"))
        }
    }
}

/// A weight in a mix: finite and at least 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Deserialize)]
#[serde(try_from = "f64")]
pub struct Weight(f64);

impl Weight {
    /// The weight.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Weight {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(Weight(v))
        } else {
            Err(format!(
                "invalid weight {v}: expected a number of 0 or more"
            ))
        }
    }
}

/// A SQL identifier (database or table name): letters, digits and `_`, not starting with a
/// digit, at most 128 characters — safe to place in query text. `${VAR}` is resolved first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Identifier(String);

impl Identifier {
    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Identifier {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let v = resolve_or(&raw, "unset")?;
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !v.as_bytes()[0].is_ascii_digit();
        if ok {
            Ok(Identifier(v))
        } else {
            Err(format!(
                "invalid name `{v}`: expected letters, digits and `_`, not starting with a digit"
            ))
        }
    }
}

impl From<&str> for Identifier {
    /// For defaults written in code; they are checked by a test.
    fn from(v: &str) -> Identifier {
        Identifier(v.to_owned())
    }
}

/// A duration as profiles write it (`1m 30s`), for error messages.
pub(crate) fn shown_duration(d: std::time::Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_parses_and_never_shows_its_secret() {
        let d: Dsn = "http://abcdef0123:s3cr3t@127.0.0.1:9000/7".parse().unwrap();
        assert_eq!(d.project_id(), 7);
        assert!(!format!("{d} {d:?}").contains("s3cr3t"));
        assert!(!format!("{d}").contains("abcdef0123"));
        assert!("http://127.0.0.1:9000/7".parse::<Dsn>().is_err());
        assert!("http://k@127.0.0.1:9000/".parse::<Dsn>().is_err());
    }

    #[test]
    fn ranges_are_enforced() {
        assert!(Rate::try_from(0.0).is_err());
        assert!(Rate::try_from(f64::NAN).is_err());
        assert!(Rate::try_from(1e9).is_err());
        assert!(Rate::try_from(0.5).is_ok());
        assert!(Ratio::try_from(1.5).is_err());
        assert!(Weight::try_from(-1.0).is_err());
        assert!(Identifier::try_from("errors_local; DROP".to_string()).is_err());
        assert!(Identifier::try_from("errors_local".to_string()).is_ok());
    }

    #[test]
    fn secrets_debug_as_stars() {
        assert_eq!(format!("{:?}", Secret::new("tok")), "Secret(***)");
    }
}
