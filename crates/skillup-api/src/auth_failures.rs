//! The budget of failed authentications per client address (`AUTH_FAILURE_*`).
//!
//! Every 401 caused by the `Authorization` header — a malformed header, a bad,
//! expired or forged token, a revoked session — spends one unit of the caller's
//! address's budget; once it is spent, such failures answer 429
//! `too_many_requests` with `Retry-After` instead of 401. A request whose token is
//! valid is never refused and spends nothing, even from an address that is over
//! its budget: one misbehaving client behind a shared NAT or proxy cannot lock
//! the others out. Requests without the header are not counted either (`401 sign
//! in` on a protected route is not a guess).
//!
//! The client address is the TCP peer. `X-Forwarded-For` is not trusted (any
//! client can write it); behind a load balancer every client therefore shares
//! the balancer's budget, which can only make bad tokens meet 429 sooner. IPv6
//! peers are counted per /64, the block one subscriber usually gets.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::AuthFailureConfig;
use crate::error::ApiError;

/// Shared by every worker; cheap to clone.
#[derive(Clone)]
pub struct AuthFailures {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AuthFailures {
    /// `limit` failures at once, refilled at `limit` per `window` (GCRA).
    pub fn new(cfg: &AuthFailureConfig) -> Self {
        let period = (cfg.window / cfg.limit.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("the period is at least 1 ns")
            .allow_burst(cfg.limit);
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
        }
    }

    /// Counts one failed authentication from `client` and returns the error to
    /// answer: `refusal` (the 401) while the budget lasts, else 429 with the
    /// time until the next failure would be answered 401 again.
    pub fn refuse(&self, client: IpAddr, refusal: ApiError) -> ApiError {
        match self.limiter.check_key(&client) {
            Ok(()) => {
                metrics::counter!("auth_failures_total", "limited" => "false").increment(1);
                refusal
            }
            Err(not_until) => {
                metrics::counter!("auth_failures_total", "limited" => "true").increment(1);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                tracing::debug!(%client, ?wait, "failed authentication over the budget");
                ApiError::TooManyRequests { retry_after: wait }
            }
        }
    }

    /// Forgets addresses whose budget is full again, so the table holds only
    /// recent offenders.
    pub fn forget_recovered(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Addresses currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// The address a request's failures are counted under: the TCP peer, IPv4-mapped
/// IPv6 as IPv4, other IPv6 by /64. Without a peer (never over TCP) every such
/// request shares one budget.
pub fn client_key(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| key_of(addr.ip()))
}

fn key_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limiter(limit: u32, window_secs: u64) -> AuthFailures {
        AuthFailures::new(&AuthFailureConfig {
            limit: NonZeroU32::new(limit).unwrap(),
            window: Duration::from_secs(window_secs),
        })
    }

    fn refused(f: &AuthFailures, ip: IpAddr) -> Result<(), Duration> {
        match f.refuse(ip, ApiError::Unauthorized("bad token".to_owned())) {
            ApiError::Unauthorized(_) => Ok(()),
            ApiError::TooManyRequests { retry_after } => Err(retry_after),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_failure_after_the_limit_is_429_per_address() {
        let f = limiter(3, 60);
        let a = IpAddr::from([127, 0, 0, 1]);
        let b = IpAddr::from([127, 0, 0, 2]);
        for _ in 0..3 {
            assert_eq!(refused(&f, a), Ok(()));
        }
        let wait = refused(&f, a).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "one unit comes back every window / limit: {wait:?}"
        );
        assert_eq!(refused(&f, b), Ok(()), "another address has its own budget");
        assert_eq!(f.tracked(), 2);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key_of(one), key_of(same_64));
        assert_ne!(key_of(one), key_of(other_64));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(key_of(mapped), IpAddr::from([10, 1, 2, 3]));
    }
}
