//! Copies the demo page's Socket.IO client out of `web/node_modules` (installed by
//! `npm ci` in `web/`, from its lockfile) into `OUT_DIR`, where `src/web.rs`
//! embeds it. Without it the build stops here, saying how to get it: a binary
//! whose demo page cannot load its client would only fail later, in a browser.

use std::path::Path;

const CLIENT: &str = "web/node_modules/socket.io-client/dist/socket.io.min.js";

fn main() {
    println!("cargo::rerun-if-changed={CLIENT}");
    println!("cargo::rerun-if-changed=web/package-lock.json");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let client = Path::new(&dir).join(CLIENT);
    if let Err(e) = std::fs::copy(&client, Path::new(&out).join("socket.io.min.js")) {
        panic!(
            "\n\nskillup-realtime embeds the demo page's Socket.IO client, {} ({e}).\n\
             Install it from the lockfile first:\n\n    \
             (cd crates/skillup-realtime/web && npm ci)\n\n\
             scripts/dev.sh, scripts/test.sh and the other scripts that build it do this.\n",
            client.display()
        );
    }
}
