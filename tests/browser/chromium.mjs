// Launches Debian's headless Chromium (or $CHROMIUM) for the browser tests. launch() gives the
// browser a fresh, temporary profile of its own, removed on close. The flags keep it off the
// network beyond the test's own server: without the background-networking ones, Chromium
// keeps trying to reach Google's hosts, which this machine's closed network refuses.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
