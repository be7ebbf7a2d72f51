//! The watcher's pause between two looks: a timerfd in tokio's reactor, so a pause wakes the
//! process once, at its end. tokio's own timer wheel reaches a deadline seconds away through
//! coarser slots, and wakes the process at each slot boundary on the way (two or three times
//! for a 2 s pause); on an idle machine a wake-up costs about as much as the work it wakes for,
//! and the idle watcher is mostly pauses. Where no timerfd can be had, tokio's sleep does it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// One loop's pause: its timerfd, made on the first pause and re-armed for each.
#[derive(Default)]
pub struct Pause {
    timer: Option<AsyncFd<OwnedFd>>,
    /// The timerfd failed once: tokio's sleep from then on.
    broken: bool,
}

impl Pause {
    /// Waits `d`. Cancel-safe: a pause dropped before its end leaves nothing behind that would
    /// cut the next one short.
    pub async fn sleep(&mut self, d: Duration) {
        if !self.broken {
            match self.timer_sleep(d).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "no timerfd for the pause; using tokio's timer");
                    self.broken = true;
                    self.timer = None;
                }
            }
        }
        tokio::time::sleep(d).await;
    }

    async fn timer_sleep(&mut self, d: Duration) -> io::Result<()> {
        let timer = match &mut self.timer {
            Some(t) => t,
            // SAFETY: an OwnedFd names the same open descriptor until it is dropped, which is
            // when the AsyncFd holding it is.
            None => self.timer.insert(unsafe {
                AsyncFd::register_with_interest(timerfd()?, Interest::READABLE)?
            }),
        };
        arm(timer.get_ref(), d)?;
        loop {
            let mut ready = timer.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into an 8-byte buffer from the owned descriptor.
            match ready.try_io(|fd| {
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        expirations.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }) {
                Ok(result) => {
                    // Read: the timer is not readable again until re-armed and expired.
                    ready.clear_ready();
                    return result;
                }
                // Readiness left from an earlier, cancelled pause: re-arming reset the timer.
                Err(_would_block) => continue,
            }
        }
    }
}

/// A non-blocking monotonic timerfd.
fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the descriptor is owned by the returned value.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `timer` to expire once, `d` from now (re-arming resets any expiration not yet read).
fn arm(timer: &OwnedFd, d: Duration) -> io::Result<()> {
    // A zero it_value disarms the timer: a zero pause is the shortest one instead.
    let d = d.max(Duration::from_nanos(1));
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: d.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: spec is a valid itimerspec; the old value is not asked for.
    let rc = unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "current_thread")]
    async fn a_pause_lasts_its_time_and_a_cancelled_one_does_not_cut_the_next_short() {
        let mut p = Pause::default();
        let start = Instant::now();
        p.sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(!p.broken, "a timerfd was used");

        // A pause dropped before its end, then its expiry left unread.
        let _ = tokio::time::timeout(Duration::from_millis(5), p.sleep(Duration::from_millis(20)))
            .await;
        std::thread::sleep(Duration::from_millis(40));
        let start = Instant::now();
        p.sleep(Duration::from_millis(50)).await;
        assert!(
            start.elapsed() >= Duration::from_millis(50),
            "{:?}",
            start.elapsed()
        );

        let start = Instant::now();
        p.sleep(Duration::ZERO).await;
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
