// Search over the registry's static index (see search/index.json), run in the browser.
// Queries are split into terms exactly as the build splits names and descriptions; each term
// loads only the shard for its first characters. Results are built with textContent, never
// innerHTML: names and descriptions are untrusted text.
"use strict";

(function () {
  const box = document.getElementById("search");
  const input = document.getElementById("q");
  const form = input && input.form;
  const status = document.getElementById("search-status");
  const list = document.getElementById("search-results");
  if (!box || !input || !form || !status || !list) {
    return;
  }
  const root = box.dataset.root || "";
  const manifestUrl = box.dataset.manifest;
  const MAX_SHOWN = 50;
  const cache = new Map();
  let manifest = null;
  let generation = 0;
  let timer = 0;

  function terms(text) {
    return text
      .split(/[^\p{Alphabetic}\p{N}]+/u)
      .filter((word) => Array.from(word).length >= 2)
      .map((word) => word.toLowerCase());
  }

  function load(url) {
    if (!cache.has(url)) {
      cache.set(
        url,
        fetch(url).then((response) => {
          if (!response.ok) {
            throw new Error(url + ": " + response.status);
          }
          return response.json();
        })
      );
    }
    return cache.get(url);
  }

  async function loadManifest() {
    if (!manifest) {
      const data = await load(manifestUrl);
      manifest = { shards: data.shards, split: new Set(data.split), experts: data.experts };
    }
    return manifest;
  }

  // The shard that holds every term starting with `word`, or null when there is none.
  function shardFor(index, word) {
    const chars = Array.from(word);
    let length = 2;
    let key = chars.slice(0, length).join("");
    while (index.split.has(key) && chars.length > length) {
      length += 1;
      key = chars.slice(0, length).join("");
    }
    return index.shards[key] || null;
  }

  // name -> {score, record} for the experts with a term that starts with `word`.
  function matches(shard, word) {
    const found = new Map();
    for (const [term, postings] of Object.entries(shard.terms)) {
      if (!term.startsWith(word)) {
        continue;
      }
      const boost = term === word ? 2 : 1;
      for (let i = 0; i < postings.length; i += 2) {
        const record = shard.experts[postings[i]];
        const score = postings[i + 1] * boost;
        const seen = found.get(record[0]);
        if (!seen || seen.score < score) {
          found.set(record[0], { score: score, record: record });
        }
      }
    }
    return found;
  }

  async function search(query) {
    const words = Array.from(new Set(terms(query)));
    if (words.length === 0) {
      return null;
    }
    const index = await loadManifest();
    const files = words.map((word) => shardFor(index, word));
    if (files.includes(null)) {
      return [];
    }
    const shards = await Promise.all(files.map((file) => load(root + file)));
    let results = null;
    words.forEach((word, i) => {
      const found = matches(shards[i], word);
      if (results === null) {
        results = found;
        return;
      }
      const next = new Map();
      for (const [name, hit] of results) {
        const other = found.get(name);
        if (other) {
          next.set(name, { score: hit.score + other.score, record: hit.record });
        }
      }
      results = next;
    });
    return Array.from(results.values()).sort(
      (a, b) => b.score - a.score || (a.record[0] < b.record[0] ? -1 : 1)
    );
  }

  function show(results, query) {
    list.replaceChildren();
    if (results === null) {
      status.textContent = query.trim() ? "Type at least two letters or digits." : "";
      return;
    }
    if (results.length === 0) {
      status.textContent = "No expert matches \u201c" + query.trim() + "\u201d.";
      return;
    }
    const shown = results.slice(0, MAX_SHOWN);
    status.textContent =
      results.length === 1
        ? "1 expert matches."
        : results.length > MAX_SHOWN
          ? results.length + " experts match; showing the best " + MAX_SHOWN + "."
          : results.length + " experts match.";
    for (const hit of shown) {
      const [name, latest, description] = hit.record;
      const item = document.createElement("li");
      item.className = "expert-card";
      const heading = document.createElement("h2");
      heading.className = "expert-card-title";
      const link = document.createElement("a");
      link.href = root + "experts/" + name + "/index.html";
      link.textContent = name;
      heading.append(link);
      item.append(heading);
      if (latest) {
        const version = document.createElement("span");
        version.className = "version";
        version.textContent = latest;
        item.append(" ", version);
      }
      const text = document.createElement("p");
      text.textContent = description;
      item.append(text);
      list.append(item);
    }
  }

  function run() {
    const query = input.value;
    const mine = ++generation;
    search(query).then(
      (results) => {
        if (mine === generation) {
          show(results, query);
        }
      },
      () => {
        if (mine === generation) {
          list.replaceChildren();
          status.textContent = "Search is unavailable right now; browse the scopes below.";
        }
      }
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = new URL(window.location.href);
    url.searchParams.set("q", input.value);
    window.history.replaceState(null, "", url);
    run();
  });
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, 150);
  });

  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial) {
    input.value = initial;
    run();
  }
})();
