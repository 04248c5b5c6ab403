// Drives the demo page in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, for the Rust tests.
//
//   node demo.mjs PAGE_URL COURSE_ID SCREENSHOT_PATH
//
// Loads the page (the token is in PAGE_URL's query), waits for the course's
// progress bar, prints {"type":"ready","percent":..}, waits until the bar shows a
// different percentage (up to 15 s), saves a screenshot, and prints
// {"type":"changed","percent":..} (or {"type":"timeout"}); then waits (up to 15 s)
// for the page to say the session ended (the test signs it out) and prints
// {"type":"ended","status":"<the status line>"} (or {"type":"timeout"}).
import { chromium } from "playwright-core";

const [pageUrl, courseId, screenshot] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.on("console", (msg) => process.stderr.write(`page: ${msg.text()}\n`));
  await page.goto(pageUrl);
  const bar = page.locator(`[data-course-id="${courseId}"] .bar`);
  await bar.waitFor({ timeout: 15000 });
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15000 });
  const before = await bar.getAttribute("data-percent");
  print({ type: "ready", percent: Number(before) });
  try {
    await page.waitForFunction(
      ([sel, prev]) => document.querySelector(sel)?.getAttribute("data-percent") !== prev,
      [`[data-course-id="${courseId}"] .bar`, before],
      { timeout: 15000 },
    );
    // Let the CSS transition finish before the picture is taken.
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot, fullPage: true });
    print({ type: "changed", percent: Number(await bar.getAttribute("data-percent")) });
  } catch {
    await page.screenshot({ path: screenshot, fullPage: true });
    print({ type: "timeout" });
  }
  try {
    await page.waitForSelector('#status[data-state="ended"]', { timeout: 15000 });
    print({ type: "ended", status: await page.locator("#status").textContent() });
  } catch {
    print({ type: "timeout" });
  }
} finally {
  await browser.close();
}
