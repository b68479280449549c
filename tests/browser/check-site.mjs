// Walks the built site in Debian's headless Chromium the way a person would, and prints what it
// saw as one JSON document on stdout; tests/site_browser.rs asserts on it.
//
// Usage: node check-site.mjs <base URL ending in /> <screenshot dir> [<hosted base URL>]
//
// It searches for an expert and opens it from the results, follows a delegate link, reads the
// version table and the required environment variables, opens a version's page, copies the
// run command, loads an expert page without JavaScript, and saves screenshots
// of every page type at phone and desktop widths. Every console message of type error,
// uncaught exception, failed request and HTTP error response is recorded.
//
// The hosted base, when given, is a registry built with `[site] url` set to its address, with
// a scope large enough to need several pages; it is served by a host that answers a missing
// address with the registry's 404.html, as static hosts do. There the script follows the
// pages of the scope and loads a missing address deep below the root.
//
// axe-core checks every page type in both colour schemes, at phone and desktop widths.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const [base, shots, hosted] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node check-site.mjs <base URL> <screenshot dir>");
  process.exit(2);
}

const STEP_TIMEOUT_MS = 10000;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

const browser = await launchChromium();

const problems = [];
const report = { problems };

// Addresses expected to answer 404: the missing pages the test asks for on purpose.
const expectedMissing = new Set();

function watch(page) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("console", (message) => {
    // Chromium logs the 404 of a page asked for on purpose as an error; a missing file the
    // page itself loads is still recorded, by the response handler below.
    const expected =
      expectedMissing.has(page.url()) && message.text().includes("status of 404");
    if ((message.type() === "error" || message.type() === "warning") && !expected) {
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
    if (response.status() >= 400 && !expectedMissing.has(response.url())) {
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

// Runs axe-core on the page and returns its violations as "rule (impact): target" strings.
// The script is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy does not govern, so the page is tested with its policy in force.
async function axeViolations(page) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return violations.flatMap((v) => v.targets.map((t) => `${v.id} (${v.impact}): ${t}`));
}

try {
  // axe-core on every page type, in both colour schemes, at phone and desktop widths.
  const axePages = [
    "index.html",
    "experts/@acme/researcher/index.html",
    "experts/@acme/researcher/1.0.0.html",
    "experts/@acme/data-analyst/0.1.0-alpha.1.html",
    "scopes/@acme/index.html",
    "api.html",
  ].map((path) => base + path);
  if (hosted) {
    axePages.push(hosted + "scopes/@bulk/index.html", hosted + "a/b/c/missing");
    expectedMissing.add(hosted + "a/b/c/missing");
  }
  report.axe = {};
  for (const scheme of ["light", "dark"]) {
    for (const [width, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      const themed = await browser.newContext({ viewport, colorScheme: scheme });
      const page = watch(await themed.newPage());
      for (const url of axePages) {
        await page.goto(url);
        const found = await axeViolations(page);
        report.axe[`${scheme} ${width} ${url.replace(base, "").replace(hosted, "hosted/")}`] = found;
      }
      await themed.close();
    }
  }

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
  report.config = await page.locator("#config").textContent();
  report.configNoteHidden = await page.locator(".registry-url-note").isHidden();
  report.commandFontSize = await page.evaluate(() => [
    getComputedStyle(document.querySelector("#command")).fontSize,
    getComputedStyle(document.body).fontSize,
  ]);
  report.instructionHeadings = await texts(page, ".instruction h3");
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
  report.versionLinks = await texts(page, "table.versions th a");
  report.dates = await page
    .locator("table.versions time")
    .evaluateAll((times) => times.map((t) => [t.textContent, t.dateTime]));

  // The copy buttons copy what they sit beside.
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  report.copyLabels = await page
    .locator("button.copy")
    .evaluateAll((buttons) => buttons.map((b) => b.getAttribute("aria-label")));
  await page.getByRole("button", { name: "Copy the command" }).click();
  await page.getByRole("button", { name: "Copy the command" }).filter({ hasText: "Copied" }).waitFor();
  report.copied = await page.evaluate(() => navigator.clipboard.readText());
  report.copyStatus = await page.locator("main [role=status]").last().textContent();
  report.expertInlineCode = await inlineCode(page);
  await page.screenshot({ path: join(shots, "expert-desktop.png"), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(shots, "expert-phone.png"), fullPage: true });
  report.phoneOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
  await page.setViewportSize(DESKTOP);

  // An older version's own page, from the version table.
  await page.locator("table.versions th a", { hasText: "1.0.0" }).click();
  await page.waitForURL(/experts\/@acme\/researcher\/1\.0\.0\.html$/);
  report.versionTitle = await page.locator("h1").textContent();
  report.versionFacts = await texts(page, ".facts li");
  report.versionNotice = await page.locator(".notice").textContent();
  report.versionCommand = await page.locator("#command").textContent();
  report.versionInlineCode = await inlineCode(page);
  await page.screenshot({ path: join(shots, "version-desktop.png"), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(shots, "version-phone.png"), fullPage: true });
  report.versionPhoneOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
  await page.setViewportSize(DESKTOP);
  await page.locator(".breadcrumb a", { hasText: "@acme/researcher" }).click();
  await page.waitForURL(/experts\/@acme\/researcher\/index\.html$/);

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

  // Without JavaScript (the search page without it is checked by check-search.mjs).
  const noScript = await browser.newContext({ javaScriptEnabled: false, viewport: PHONE });
  const plain = watch(await noScript.newPage());
  // Without JavaScript an expert page keeps its placeholder address, says what to write
  // instead, and shows no copy button that could not work.
  await plain.goto(base + "experts/@acme/researcher/index.html");
  report.configWithoutScript = await plain.locator("#config").textContent();
  report.configNoteWithoutScript = await plain.locator(".registry-url-note").isVisible();
  report.copyButtonsWithoutScript = await plain.locator("button.copy").count();
  await noScript.close();

  if (hosted) {
    const hostedContext = await browser.newContext({ viewport: DESKTOP });
    const site = watch(await hostedContext.newPage());

    // With [site] url set, the page shows it as built, without waiting for the script.
    await site.goto(hosted + "experts/@acme/researcher/index.html");
    report.hostedConfig = await site.locator("#config").textContent();

    // A hostile instruction: its script, frame, image and javascript: links are shown as text
    // or dropped, so nothing runs and nothing loads from elsewhere.
    const dialogs = [];
    site.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss();
    });
    await site.goto(hosted + "experts/@evil/markdown/index.html");
    report.hostileDialogs = dialogs;
    report.hostileElements = await site
      .locator(".instruction script, .instruction iframe, .instruction img, .instruction [onerror]")
      .count();
    report.hostileLinks = await site
      .locator(".instruction a")
      .evaluateAll((links) => links.map((a) => [a.textContent, a.href]).sort());
    report.hostileText = await site.locator(".instruction").textContent();

    // A scope too large for one page: its pages follow each other.
    await site.goto(hosted + "scopes/@bulk/index.html");
    report.scopeCount = await site.locator("#listing-count").textContent();
    report.scopeFirst = await texts(site, ".expert-card-title a");
    report.scopePages = await texts(site, ".pagination a");
    await site.screenshot({ path: join(shots, "scope-desktop.png"), fullPage: true });
    await site.getByRole("link", { name: "Next page" }).click();
    await site.waitForURL(/scopes\/@bulk\/from-[a-z0-9_-]+\.html$/);
    report.scopeSecondUrl = site.url().slice(hosted.length);
    report.scopeSecond = await texts(site, ".expert-card-title a");
    report.scopeSecondCount = await site.locator("#listing-count").textContent();
    report.scopeSecondPages = await texts(site, ".pagination a");
    await site.setViewportSize(PHONE);
    await site.screenshot({ path: join(shots, "scope-phone.png"), fullPage: true });
    await site.setViewportSize(DESKTOP);

    // A missing address deep below the root: the host answers with 404.html, whose styles,
    // links and search still work from there.
    const missing = hosted + "a/b/c/missing";
    const response = await site.goto(missing);
    report.notFoundStatus = response.status();
    report.notFoundTitle = await site.locator("h1").textContent();
    report.notFoundStyled = await site.evaluate(
      () => getComputedStyle(document.querySelector(".site-header")).borderBottomStyle
    );
    report.notFoundIcon = await site
      .locator(".brand img")
      .evaluate((img) => img.complete && img.naturalWidth > 0);
    await site.screenshot({ path: join(shots, "404-desktop.png"), fullPage: true });
    await site.setViewportSize(PHONE);
    await site.screenshot({ path: join(shots, "404-phone.png"), fullPage: true });
    await site.setViewportSize(DESKTOP);
    await site.getByLabel("Search experts").fill("researcher");
    await site.getByRole("button", { name: "Search" }).click();
    await site.waitForURL(/search\.html\?q=researcher/);
    report.notFoundSearch = site.url().replace(hosted, "hosted/");
    await site.goto(missing);
    await site.getByRole("link", { name: "Back to the home page" }).click();
    await site.waitForURL(/index\.html$/);
    report.notFoundHome = site.url().replace(hosted, "hosted/");
    await hostedContext.close();
  }
} catch (error) {
  problems.push(`step failed: ${error.message.split("\n")[0]}`);
} finally {
  await browser.close();
}

process.stdout.write(JSON.stringify(report, null, 2) + "\n");
