// Runs searches on the built site in Debian's headless Chromium and prints what it saw as one
// JSON document on stdout; tests/site_search_browser.rs asserts on it, and bench/search.sh
// uses its measuring mode.
//
// Usage: node check-search.mjs <base URL ending in /> <queries JSON file> [--measure]
//        node check-search.mjs --serve <dir> <path ending in /> <queries JSON file> [--measure]
//
// The JSON file is {"queries": ["q=email", "q=%40acme&status=active", ...]}: each is the query
// string of a visit to search.html. For each, the report has the status line, the names, badges
// and version of the results shown, the page navigation and the form as the page filled it in.
// Then (unless --measure) it plays a person: typing, reloading, paging, going Back, changing a
// filter, and reading the site with JavaScript off.
//
// With --measure every query runs in a fresh browser context (nothing cached), and the report
// gives, per query, the milliseconds from navigation to the results on screen and from the
// search starting to results on screen, and every file loaded with when it was requested and
// when it arrived (bench/search.sh sizes them from disk).
//
// With --serve it serves <dir> itself, from this process (asynchronous file reads, keep-alive,
// like a static host), instead of reading from a server at a URL: python's http.server, which
// the tests use, starts a thread per request and on a loaded machine adds its own latency to
// every request.
//
// Every console error or warning, uncaught exception, failed request, HTTP error and request
// to another origin is recorded in `problems`.

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { launchChromium } from "./chromium.mjs";

const args = process.argv.slice(2);
const measure = args.includes("--measure");
const serveAt = args.indexOf("--serve");
const served = serveAt >= 0 ? args.splice(serveAt, 2)[1] : null;
const [where, queriesFile] = args.filter((arg) => arg !== "--measure");
if (!where || !queriesFile) {
  console.error(
    "usage: node check-search.mjs [--serve <dir>] <base URL or path> <queries JSON file> [--measure]"
  );
  process.exit(2);
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

// A static file server for `dir` on 127.0.0.1; resolves to its port.
function serve(dir) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    try {
      const body = await readFile(join(dir, path));
      response.writeHead(200, { "content-type": TYPES[extname(path)] || "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const server = served ? await serve(served) : null;
const base = server ? `http://127.0.0.1:${server.address().port}${where}` : where;
const { queries } = JSON.parse(readFileSync(queriesFile, "utf8"));
const origin = new URL(base).origin;
const STEP_TIMEOUT_MS = 20000;

const browser = await launchChromium();

const problems = [];
const report = { problems };

function watch(page) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.push(`console ${message.type()} on ${page.url()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`uncaught on ${page.url()}: ${error.message}`));
  page.on("request", (request) => {
    if (new URL(request.url()).origin !== origin) {
      problems.push(`request to another origin: ${request.url()}`);
    }
  });
  page.on("requestfailed", (request) => {
    const error = request.failure()?.errorText;
    // Navigating away aborts requests still in flight; that is the test moving on.
    if (error !== "net::ERR_ABORTED") {
      problems.push(`request failed: ${request.url()}: ${error}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  return page;
}

async function texts(page, selector) {
  return page.locator(selector).evaluateAll((nodes) => nodes.map((n) => n.textContent.trim()));
}

// Waits until the search script has shown the results of what the page asked for.
async function settled(page) {
  await page.waitForFunction(() => {
    const box = document.getElementById("search");
    const status = document.getElementById("search-status");
    return box && (box.dataset.shownAt || (status && status.textContent));
  });
}

async function seen(page) {
  return {
    url: new URL(page.url()).search,
    status: (await page.locator("#search-status").textContent()).trim(),
    names: await texts(page, "#search-results .expert-card-title a"),
    versions: await texts(page, "#search-results .expert-card .version"),
    badges: await page
      .locator("#search-results .expert-card")
      .evaluateAll((cards) =>
        cards.map((card) => Array.from(card.querySelectorAll(".badge, .tag"), (b) => b.textContent))
      ),
    pages: (await page.locator("#search-pages").isVisible())
      ? (await page.locator("#search-pages").textContent()).trim()
      : "",
    form: await page.evaluate(() => {
      const form = document.getElementById("q").form;
      return Object.fromEntries(
        ["q", "scope", "status", "env", "sort"].map((name) => [name, form.elements[name].value])
      );
    }),
  };
}

async function measured(query) {
  const context = await browser.newContext();
  const page = watch(await context.newPage());
  await page.goto(base + "search.html?" + query);
  await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
  const shownAt = Number(await page.locator("#search").getAttribute("data-shown-at"));
  const startedAt = Number(await page.locator("#search").getAttribute("data-started-at"));
  const result = await seen(page);
  // The same search again, its files now in the script's cache: the time the script itself
  // takes to search and show.
  const warmMs = await page.evaluate(async () => {
    const box = document.getElementById("search");
    const input = document.getElementById("q");
    delete box.dataset.shownAt;
    input.form.requestSubmit();
    while (!box.dataset.shownAt) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return Number(box.dataset.shownAt) - Number(box.dataset.startedAt);
  });
  // What the page loaded, from the browser's own timing entries rather than by reading each
  // response over the DevTools protocol, which would compete with the page for the same
  // process and slow what is measured. The caller sizes the files from disk.
  const loaded = await page.evaluate(() =>
    performance
      .getEntriesByType("navigation")
      .concat(performance.getEntriesByType("resource"))
      .map((entry) => ({
        path: new URL(entry.name).pathname,
        start: Math.round(entry.startTime),
        end: Math.round(entry.responseEnd),
      }))
  );
  await context.close();
  return {
    query: query,
    status: result.status,
    first: result.names.slice(0, 3),
    // From navigation to results on screen, and from the search starting to results on screen.
    ms: shownAt,
    searchMs: shownAt - startedAt,
    warmMs: warmMs,
    // Every file loaded, with when its request started and its response ended (ms from
    // navigation), in the order they were requested.
    files: loaded,
  };
}

try {
  if (measure) {
    report.measured = [];
    for (const query of queries) {
      report.measured.push(await measured(query));
    }
  } else {
    const context = await browser.newContext();
    const page = watch(await context.newPage());
    report.queries = {};
    for (const query of queries) {
      await page.goto(base + "search.html?" + query);
      await settled(page);
      report.queries[query] = await seen(page);
    }

    // Typing: the URL follows the box without new history entries; reload keeps the query.
    await page.goto(base + "index.html");
    await page.goto(base + "search.html");
    report.historyBefore = await page.evaluate(() => history.length);
    await page.getByLabel("Search experts").pressSequentially("emal", { delay: 30 });
    await page.waitForFunction(() => new URLSearchParams(location.search).get("q") === "emal");
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.typed = await seen(page);
    report.typedHistory = await page.evaluate(() => history.length);
    await page.reload();
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.reloaded = await seen(page);

    // Paging adds history entries; Back returns to the first page.
    await page.goto(base + "search.html?q=meeting");
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.firstPage = await seen(page);
    await page.locator("#search-pages a[rel=next]").click();
    await page.waitForFunction(() => new URLSearchParams(location.search).get("page") === "2");
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.secondPage = await seen(page);
    await page.goBack();
    await page.waitForFunction(() => !new URLSearchParams(location.search).get("page"));
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.backToFirst = await seen(page);

    // A filter narrows the results and goes into the URL.
    await page.locator("#status").selectOption("deprecated");
    await page.waitForFunction(() => new URLSearchParams(location.search).get("status"));
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    report.filtered = await seen(page);

    // The results are reachable from the keyboard: Tab from the box reaches the first result
    // after the filters.
    await page.goto(base + "search.html?q=tictactoe");
    await page.waitForFunction(() => document.getElementById("search").dataset.shownAt);
    await page.locator("#sort").focus();
    await page.keyboard.press("Tab");
    report.tabbedTo = await page.evaluate(() => document.activeElement.textContent.trim());
    await context.close();

    // Without JavaScript the search page leads to listings that need none.
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = watch(await noScript.newPage());
    await plain.goto(base + "search.html?q=email");
    report.noScript = {
      notice: (await plain.locator("noscript p").textContent()).trim(),
      scopeLinks: await plain.locator("main a[href*='scopes/']").count(),
    };
    await plain.locator("noscript a").click();
    await plain.waitForURL(/browse\/index\.html$/);
    report.noScript.browseHeadings = await texts(plain, "h1, h2");
    await plain.locator("nav[aria-label='Experts by first character'] a", { hasText: /^T$/ }).click();
    await plain.waitForURL(/browse\/experts-t\.html$/);
    report.noScript.letterTitle = (await plain.locator("h1").textContent()).trim();
    report.noScript.letterNames = await texts(plain, ".expert-card-title a");
    await noScript.close();
  }
} catch (error) {
  problems.push(`step failed: ${error.message.split("\n")[0]}`);
} finally {
  await browser.close();
  server?.close();
}

process.stdout.write(JSON.stringify(report, null, 2) + "\n");
