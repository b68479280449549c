// Walks the built site in Debian's headless Chromium the way a person would, and prints what it
// saw as one JSON document on stdout; tests/site_browser.rs asserts on it.
//
// Usage: node check-site.mjs <base URL ending in /> <screenshot dir>
//
// It searches for an expert and opens it from the results, follows a delegate link, reads the
// version table and the required environment variables, loads the search page without
// JavaScript, and saves screenshots of the home and an expert page at phone and desktop
// widths. Every console message of type error, uncaught exception, failed request and HTTP
// error response is recorded.

import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node check-site.mjs <base URL> <screenshot dir>");
  process.exit(2);
}

const STEP_TIMEOUT_MS = 10000;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

// launch() gives the browser a fresh, temporary profile of its own, removed on close.
const browser = await chromium.launch({
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
  page.on("requestfailed", (request) => {
    const error = request.failure()?.errorText;
    // Chromium aborts requests still in flight when the page navigates away, such as the
    // icon, which it fetches after the load event; that is the test moving on, not the site
    // failing. HTTP errors and every other network error are recorded.
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

// What a page must not contain under the Content-Security-Policy: inline scripts, inline
// styles, inline event handlers.
async function inlineCode(page) {
  return page.evaluate(() => {
    const found = [];
    document.querySelectorAll("script:not([src])").forEach(() => found.push("inline script"));
    document.querySelectorAll("style, [style]").forEach(() => found.push("inline style"));
    document.querySelectorAll("*").forEach((node) => {
      for (const attribute of node.attributes) {
        if (attribute.name.startsWith("on")) {
          found.push(`${node.tagName} ${attribute.name}`);
        }
      }
    });
    return found;
  });
}

// The lowest contrast ratio (WCAG 2) between any text on the page and the background behind
// it, with the element that has it.
async function lowestContrast(page) {
  return page.evaluate(() => {
    const channels = (text) => text.match(/[\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
      const linear = (c) => {
        const v = c / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const backdrop = (node) => {
      for (let n = node; n; n = n.parentElement) {
        const color = channels(getComputedStyle(n).backgroundColor);
        if (color.length < 4 || color[3] > 0) {
          return color;
        }
      }
      return [255, 255, 255];
    };
    let lowest = { ratio: 21, where: "", checked: 0 };
    for (const node of document.querySelectorAll("body *")) {
      const hasText = Array.from(node.childNodes).some(
        (child) => child.nodeType === Node.TEXT_NODE && child.textContent.trim()
      );
      if (!hasText || node.getClientRects().length === 0) {
        continue;
      }
      const a = luminance(channels(getComputedStyle(node).color));
      const b = luminance(backdrop(node));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      lowest.checked += 1;
      if (ratio < lowest.ratio) {
        lowest.ratio = Math.round(ratio * 100) / 100;
        lowest.where = `${node.tagName.toLowerCase()}.${node.className}`;
      }
    }
    return lowest;
  });
}

try {
  // Text contrast in both colour schemes, on the pages with the most kinds of text.
  report.contrast = {};
  for (const scheme of ["light", "dark"]) {
    const themed = await browser.newContext({ viewport: DESKTOP, colorScheme: scheme });
    const page = watch(await themed.newPage());
    for (const path of ["index.html", "experts/@acme/researcher/index.html"]) {
      await page.goto(base + path);
      report.contrast[`${scheme} ${path}`] = await lowestContrast(page);
    }
    await themed.close();
  }

  const context = await browser.newContext({ viewport: DESKTOP });
  const page = watch(await context.newPage());

  // Home, then a search submitted from its search box.
  await page.goto(base + "index.html");
  report.homeTitle = await page.title();
  report.homeHeadings = await texts(page, "h1, h2");
  report.landmarks = await page.evaluate(() =>
    ["header", "nav", "main", "footer"].filter((tag) => document.querySelector(tag))
  );
  report.searchLabel = await page.locator("label[for=q]").textContent();
  report.inlineCode = await inlineCode(page);
  await page.screenshot({ path: join(shots, "home-desktop.png"), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(shots, "home-phone.png"), fullPage: true });
  await page.setViewportSize(DESKTOP);

  await page.getByLabel("Search experts").fill("researcher");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/search\.html\?q=researcher/);
  const researcherResult = page.locator("#search-results a", { hasText: "@acme/researcher" });
  await researcherResult.waitFor();
  report.searchResults = await texts(page, "#search-results a");
  report.searchStatus = await page.locator("#search-status").textContent();

  // Typing narrows the results without submitting.
  await page.getByLabel("Search experts").fill("email comp");
  await page.locator("#search-results a", { hasText: "@mailcraft/email-composer" }).waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll("#search-results a").length === 1
  );
  report.typedResults = await texts(page, "#search-results a");

  await page.getByLabel("Search experts").fill("researcher");
  await researcherResult.waitFor();
  await researcherResult.click();
  await page.waitForURL(/experts\/@acme\/researcher\/index\.html$/);
  report.expertTitle = await page.locator("h1").textContent();
  report.expertHeadings = await texts(page, "h2");
  report.command = await page.locator("#command").textContent();
  report.versionRows = await page
    .locator("table.versions tbody tr")
    .evaluateAll((rows) =>
      rows.map((row) =>
        [".version", ".badge", ".reason"].map(
          (selector) => row.querySelector(selector)?.textContent.trim() ?? ""
        ).concat([Array.from(row.querySelectorAll(".tag"), (tag) => tag.textContent).join(" ")])
      )
    );
  report.delegates = await texts(page, "#delegates + ul a");
  report.expertInlineCode = await inlineCode(page);
  await page.screenshot({ path: join(shots, "expert-desktop.png"), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(shots, "expert-phone.png"), fullPage: true });
  report.phoneOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
  await page.setViewportSize(DESKTOP);

  // Follow a delegate to the expert it names.
  await page.locator("#delegates + ul a", { hasText: "@acme/web-searcher" }).click();
  await page.waitForURL(/experts\/@acme\/web-searcher\/index\.html$/);
  report.delegateTitle = await page.locator("h1").textContent();
  report.delegateEnv = await texts(page, "#required-env code");
  report.delegateUsedBy = await texts(page, "#used-by + ul a");

  // Keyboard users see where focus is.
  await page.keyboard.press("Tab");
  report.focusOutline = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return `${document.activeElement.textContent.trim()}: ${style.outlineStyle} ${style.outlineWidth}`;
  });

  // Without JavaScript, the search page still lists every scope.
  const noScript = await browser.newContext({ javaScriptEnabled: false, viewport: PHONE });
  const plain = watch(await noScript.newPage());
  await plain.goto(base + "search.html");
  report.scopesWithoutScript = await texts(plain, "#all-scopes + ul a");
  report.noScriptNotice = await plain.locator("noscript p").textContent();
  await noScript.close();
} catch (error) {
  problems.push(`step failed: ${error.message.split("\n")[0]}`);
} finally {
  await browser.close();
}

process.stdout.write(JSON.stringify(report, null, 2) + "\n");
