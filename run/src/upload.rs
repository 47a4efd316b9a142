//! `sentry-load upload-artifacts`, and the upload `run` does before JavaScript traffic: the
//! run's artifact bundle (minified bundle + sourcemap, from the profile's seed) goes to the
//! Sentry web API through chunk-upload and `artifactbundle/assemble`, a bundle per release the
//! JavaScript events carry.

use crate::error::Failure;
use anyhow::anyhow;
use sentry_load_common::{EventKind, redact};
use sentry_load_config::{ArtifactsConfig, Profile, Protocol, SentryApiConfig};
use sentry_load_engine::generate::artifacts::{artifact_bundle, javascript_releases};

use sentry_load_engine::generate::js_bundle::Bundle;
use sentry_load_engine::upload::ReleaseFile;
use sentry_load_engine::upload::{
    UploadError, UploadTarget, upload_artifact_bundles, upload_release_files,
};

/// `upload-artifacts --profile P`.
pub async fn upload_artifacts(profile: &str) -> Result<(), Failure> {
    let loaded = crate::profile::load_for(profile, &["artifacts"])?;
    let p = &loaded.profile;
    let Some(artifacts) = &p.artifacts else {
        return Err(Failure::usage(anyhow!(
            "profile {} has no [artifacts] table (url, token, org, project): nowhere to upload",
            loaded.source
        )));
    };
    upload(
        p,
        &target_of(artifacts.get_ref()),
        *p.target.protocol.get_ref(),
    )
    .await?;
    Ok(())
}

/// The upload target an `[artifacts]` table names.
pub fn target_of(a: &ArtifactsConfig) -> UploadTarget {
    UploadTarget {
        url: a.url.expose().clone(),
        shown: redact::url(a.url.expose()),
        token: a.token.clone(),
        org: a.org.clone(),
        project: a.project.clone(),
    }
}

/// The upload target of an embedded sim.
pub fn embedded_target(api: &SentryApiConfig) -> UploadTarget {
    UploadTarget {
        url: api.url.expose().clone(),
        shown: redact::url(api.url.expose()),
        token: api.token.clone(),
        org: api.org.clone(),
        project: "1".into(),
    }
}

/// Uploads the bundle of `profile` to `target` — as artifact bundles, or as release files for
/// a Sentry 9 (`protocol = "store"`) — and says so on stderr.
pub async fn upload(
    profile: &Profile,
    target: &UploadTarget,
    protocol: Protocol,
) -> Result<(), Failure> {
    let bundle = Bundle::generate(profile.seed);
    let realism = profile
        .traffic
        .get_ref()
        .realism()
        .of(EventKind::Javascript);
    let releases = javascript_releases(realism.releases);
    let refused = |e: UploadError| match &e {
        UploadError::Refused {
            status: 401 | 403, ..
        } => Failure::usage(anyhow::Error::new(e).context("uploading the sourcemaps")),
        _ => Failure::unreachable(anyhow::Error::new(e).context("uploading the sourcemaps")),
    };
    if protocol == Protocol::Store {
        let files = upload_release_files(target, &bundle_files(&bundle), &releases)
            .await
            .map_err(refused)?;
        eprintln!(
            "release files of {} ({files} uploaded) for {} release(s) at {} org {} project {}",
            bundle.debug_id,
            releases.len(),
            target.shown,
            target.org,
            target.project
        );
        return Ok(());
    }
    let bundles: Vec<(String, Vec<u8>)> = releases
        .into_iter()
        .map(|release| {
            let zip = artifact_bundle(&bundle, &target.org, &target.project, &release);
            (release, zip)
        })
        .collect();
    let summary = upload_artifact_bundles(target, &bundles)
        .await
        .map_err(refused)?;
    eprintln!(
        "artifact bundles of {} ({} bytes, {} chunks, {} sent) assembled, one for each of {} \
         release(s), at {} org {} project {}",
        bundle.debug_id,
        summary.bytes,
        summary.chunks,
        summary.sent,
        summary.releases,
        target.shown,
        target.org,
        target.project
    );
    Ok(())
}

/// The release files of `bundle`: the minified file (pointing at its sourcemap) and the
/// sourcemap, by the `~/…` names Sentry 9 looks them up by.
fn bundle_files(bundle: &Bundle) -> Vec<ReleaseFile> {
    let name = format!("~/static/js/{}", bundle.file_name);
    vec![
        ReleaseFile {
            name: name.clone(),
            header: Some(format!("Sourcemap: {}.map", bundle.file_name)),
            bytes: bundle.minified.as_bytes().to_vec(),
        },
        ReleaseFile {
            name: format!("{name}.map"),
            header: None,
            bytes: bundle.sourcemap.clone(),
        },
    ]
}
