//! Posts the envelope in `$ENVELOPE_FILE` to `/api/1/envelope/` as fast as Goose's users can
//! (a closed model: each user waits for its answer before sending again).

use goose::prelude::*;
use std::sync::OnceLock;

static BODY: OnceLock<Vec<u8>> = OnceLock::new();

async fn post_envelope(user: &mut GooseUser) -> TransactionResult {
    let body = BODY.get().cloned().unwrap_or_default();
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/1/envelope/")?
        .header("Content-Type", "application/x-sentry-envelope")
        .header("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key=0123456789abcdef0123456789abcdef")
        .body(body);
    let request = GooseRequest::builder().set_request_builder(builder).build();
    user.request(request).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let path = std::env::var("ENVELOPE_FILE").expect("ENVELOPE_FILE names the envelope to post");
    BODY.set(std::fs::read(&path).expect("the envelope file is readable")).ok();
    GooseAttack::initialize()?
        .register_scenario(scenario!("envelopes").register_transaction(transaction!(post_envelope)))
        .execute()
        .await?;
    Ok(())
}
