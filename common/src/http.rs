//! Reading an HTTP answer's body with a bound: a peer that answers hugely or endlessly costs
//! at most `limit` bytes of memory and the client's timeout, never more.

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed while reading.
    #[error("reading the answer: {0}")]
    Read(String),
    /// The body is longer than allowed.
    #[error("the answer is over {0} bytes")]
    TooLarge(usize),
}

/// The body of `resp`, refused once it passes `limit` bytes.
pub async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
