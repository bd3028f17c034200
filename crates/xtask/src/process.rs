//! Child processes the commands start and must stop again.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// SIGTERM first so servers shut down gracefully; SIGKILL if they linger
/// for 10 s. Waits for the child to end.
pub(crate) fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
