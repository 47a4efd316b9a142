//! The profiles shipped with the tool, built into the binary so `--profile local` works from
//! any directory. The files themselves live in the repository's `profiles/` folder.

/// `(name, TOML text)` of every shipped profile.
pub const SHIPPED_PROFILES: &[(&str, &str)] = &[
    ("local", include_str!("../../profiles/local.toml")),
    ("smoke", include_str!("../../profiles/smoke.toml")),
    ("spike", include_str!("../../profiles/spike.toml")),
    ("soak", include_str!("../../profiles/soak.toml")),
    ("prod", include_str!("../../profiles/prod.toml")),
    (
        "native-heavy",
        include_str!("../../profiles/native-heavy.toml"),
    ),
    ("js-heavy", include_str!("../../profiles/js-heavy.toml")),
    (
        "single-node",
        include_str!("../../profiles/single-node.toml"),
    ),
    ("split", include_str!("../../profiles/split.toml")),
    ("scaled", include_str!("../../profiles/scaled.toml")),
    ("capacity", include_str!("../../profiles/capacity.toml")),
];

/// The text of a shipped profile.
pub fn shipped_profile(name: &str) -> Option<&'static str> {
    SHIPPED_PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}
