/// A Redis operation that did not complete. Read paths never surface it to clients:
/// they degrade to the database instead.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis is not connected")]
    NotConnected,
    #[error("redis did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("redis error: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("invalid redis configuration: {0}")]
    Config(String),
}
