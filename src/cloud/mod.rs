//! The TencentCloud API client: signing, retries, clock skew, credentials, one module per action.
