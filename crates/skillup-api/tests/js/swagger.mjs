// Opens the API's Swagger UI in headless Chromium (Debian's /usr/bin/chromium)
// with playwright-core, for the Rust tests.
//
//   node swagger.mjs DOCS_URL
//
// Waits until the page has rendered the operations of /api/openapi.json, then
// prints one JSON line: {"title":..,"operations":N,"requests":[every URL the page
// asked for],"failed":[URLs that failed or answered >= 400]}. Requests to any
// other host are aborted (and listed), so the page gets nothing from outside.
import { chromium } from "playwright-core";

const [docsUrl] = process.argv.slice(2);
const origin = new URL(docsUrl).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const requests = [];
const failed = [];
try {
  const page = await browser.newPage();
  page.on("console", (msg) => process.stderr.write(`page: ${msg.text()}\n`));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    requests.push(url);
    if (url.startsWith(origin + "/") || url.startsWith("data:")) return route.continue();
    failed.push(url);
    return route.abort();
  });
  page.on("requestfailed", (req) => failed.includes(req.url()) || failed.push(req.url()));
  page.on("response", (res) => res.status() >= 400 && failed.push(`${res.status()} ${res.url()}`));
  await page.goto(docsUrl);
  await page.waitForSelector(".opblock", { timeout: 20000 });
  const operations = await page.locator(".opblock").count();
  const title = await page.locator(".info .title").first().textContent();
  process.stdout.write(JSON.stringify({ title, operations, requests, failed }) + "\n");
} finally {
  await browser.close();
}
