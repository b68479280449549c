// Search over the registry's static index, run in the browser. src/site/search/mod.rs
// describes the files; this script splits a query the way the build split the text, fetches
// the term shards of its words (base and delta), the exact-name file of the whole query and the
// records of the page of results shown, and nothing else.
//
// The terms are in two layers with the same expert numbers: the base (`search/t/`), rebuilt
// rarely, and the delta (`search/d/`), which every publish touches. An expert's postings are in
// one of them: the manifest lists as `superseded` the experts whose base postings the delta
// replaces, and the script skips those in the base. A word reads the terms a single index
// would have shown it, those starting with its base key, from both layers.
//
// A query word matches a term equal to it, a term it starts, or (from four characters, and
// without digits) a term one typo away (from five, one typo away from the start of a term). Every word must match;
// stop words are dropped unless the query has nothing else. `@scope` keeps that scope's
// experts. An exact name (`@acme/researcher`, `researcher`, `tictactoe`) ranks first. Experts
// are numbered in publish order, so results of equal score show oldest first, and "newest"
// lists the matches from the last published back. The query and the filters live in the URL,
// so Back and reload keep them.
//
// Names and descriptions are untrusted text: results are built with textContent, never
// innerHTML.
"use strict";

(function () {
  const box = document.getElementById("search");
  const input = document.getElementById("q");
  const form = input && input.form;
  const status = document.getElementById("search-status");
  const list = document.getElementById("search-results");
  const pager = document.getElementById("search-pages");
  if (!box || !input || !form || !status || !list || !pager) {
    return;
  }
  const root = box.dataset.root || "";
  const FORMAT = 4;
  const STATUS_TERMS = ["!deprecated", "!disabled"];
  const PAGE_SIZE = 20;
  // A word short enough to start terms in more shards than this matches whole terms only:
  // fetching them all would break the download budget.
  const MAX_PREFIX_SHARDS = 8;
  // Above every score a query's words can add up to, so an exact name always ranks first.
  const EXACT_NAME_BONUS = 1000000;
  const FILTERS = ["scope", "status", "env", "sort"];
  const QUALITY = { exact: 4, prefix: 2, typo: 1 };

  const cache = new Map();
  let index = null;
  let generation = 0;
  let timer = 0;

  function load(url) {
    if (!cache.has(url)) {
      const request = fetch(url).then((response) => {
        if (!response.ok) {
          throw new Error(url + ": " + response.status);
        }
        return response.json();
      });
      // A failed request may succeed later: do not keep the failure.
      request.catch(() => cache.delete(url));
      cache.set(url, request);
    }
    return cache.get(url);
  }

  async function manifest() {
    if (!index) {
      // The page carries the manifest (search/index.json) so the search starts at once.
      const data = box.dataset.index
        ? JSON.parse(box.dataset.index)
        : await load(root + "search/index.json");
      if (data.format !== FORMAT) {
        throw new Error("search index format " + data.format);
      }
      const superseded = new Uint8Array(data.experts);
      eachId(data.superseded, (id) => {
        superseded[id] = 1;
      });
      index = {
        experts: data.experts,
        records: data.records,
        buckets: data.buckets,
        weights: data.weights,
        stop: new Set(data.stop),
        base: layer("t", 2, data.shards, data.split),
        delta: layer("d", 1, data.delta.shards, data.delta.split),
        superseded: superseded,
      };
    }
    return index;
  }

  // One layer's shards: where they are, how many characters their keys start with.
  function layer(folder, chars, keys, split) {
    return {
      folder: folder,
      chars: chars,
      keys: keys,
      shards: new Set(keys),
      split: new Set(split),
    };
  }

  function terms(text) {
    return text
      .split(/[^\p{Alphabetic}\p{N}]+/u)
      .filter((word) => Array.from(word).length >= 2)
      .map((word) => word.toLowerCase());
  }

  // The same key as text::name_key in the build.
  function nameKey(text) {
    return text.toLowerCase().replace(/[^a-z0-9@/]/g, "");
  }

  // 32-bit FNV-1a of the UTF-8 bytes, as text::fnv1a.
  function fnv1a(text) {
    let hash = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) {
      hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    }
    return hash;
  }

  // The file of a shard key in a layer; its name as text::file_stem.
  function shardUrl(layer, key) {
    const stem = /^[a-z0-9]+$/.test(key)
      ? key
      : "u-" +
        Array.from(new TextEncoder().encode(key), (b) => b.toString(16).padStart(2, "0")).join("");
    return root + "search/" + layer.folder + "/" + stem + ".json";
  }

  // The key of the layer's shard that holds `term`, following split shards down.
  function keyFor(layer, term) {
    const chars = Array.from(term);
    let length = Math.min(layer.chars, chars.length);
    let key = chars.slice(0, length).join("");
    while (layer.split.has(key) && chars.length > length) {
      length += 1;
      key = chars.slice(0, length).join("");
    }
    return key;
  }

  // Whether `a` is at most one edit (insert, delete, substitute, swap two neighbours) from `b`,
  // or with `prefix` from some start of `b`.
  function oneEdit(a, b, prefix) {
    const m = a.length;
    const n = prefix ? Math.min(b.length, m + 1) : b.length;
    if (Math.abs(m - n) > 1 && !prefix) {
      return false;
    }
    let before = null;
    let previous = Array.from({ length: n + 1 }, (_, j) => j);
    for (let i = 1; i <= m; i += 1) {
      const row = [i];
      let smallest = i;
      for (let j = 1; j <= n; j += 1) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        let d = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          d = Math.min(d, before[j - 2] + 1);
        }
        row.push(d);
        smallest = Math.min(smallest, d);
      }
      if (smallest > 1) {
        return false;
      }
      before = previous;
      previous = row;
    }
    return prefix ? Math.min(...previous.slice(Math.max(0, m - 1))) <= 1 : previous[n] <= 1;
  }

  function quality(term, word) {
    if (term === word) {
      return QUALITY.exact;
    }
    if (term.startsWith(word)) {
      return QUALITY.prefix;
    }
    // A word with a digit is a number or an identifier, where one character more or less
    // names something else (`expert-9000`, `expert-9001`): it matches exactly or by prefix.
    if (word.length >= 4 && !/\d/.test(word) && oneEdit(word, term, word.length >= 5)) {
      return QUALITY.typo;
    }
    return 0;
  }

  // The layer's shards that hold every term starting with `prefix`: the one that holds it,
  // and when that is split (`prefix` is then exactly its key), the shards below it.
  function shardsStarting(layer, prefix) {
    const own = keyFor(layer, prefix);
    const below = layer.split.has(own)
      ? layer.keys.filter((key) => key !== own && key.startsWith(prefix))
      : [];
    return { own: layer.shards.has(own) ? [own] : [], below: below };
  }

  // The shards to read for a word in each layer, the prefix every term it may match starts
  // with, and whether it matches whole terms only. Both are decided by the base, the larger
  // layer, as one index would decide them; the delta is read for the same terms.
  function shardsFor(ix, word) {
    const prefix = keyFor(ix.base, word);
    const base = shardsStarting(ix.base, prefix);
    // The word is exactly a split key and starts terms in too many shards: it matches whole
    // terms only, which are in the shard of its own key.
    if (base.below.length > MAX_PREFIX_SHARDS) {
      const own = keyFor(ix.delta, word);
      return {
        base: base.own,
        delta: ix.delta.shards.has(own) ? [own] : [],
        prefix: prefix,
        partial: true,
      };
    }
    const delta = shardsStarting(ix.delta, prefix);
    return {
      base: base.own.concat(base.below),
      delta: delta.own.concat(delta.below),
      prefix: prefix,
      partial: false,
    };
  }

  function eachId(gaps, visit) {
    let id = 0;
    for (const gap of gaps) {
      id += gap;
      visit(id);
    }
  }

  // Per expert, the best score of any term the word matches (0: none).
  async function wordScores(ix, word) {
    const found = shardsFor(ix, word);
    const [base, delta] = await Promise.all([
      Promise.all(found.base.map((key) => load(shardUrl(ix.base, key)))),
      Promise.all(found.delta.map((key) => load(shardUrl(ix.delta, key)))),
    ]);
    const best = new Uint8Array(ix.experts);
    const score = (shards, skip) => {
      for (const shard of shards) {
        for (const [term, lists] of Object.entries(shard)) {
          // A delta shard may be keyed by fewer characters than the base's: only the terms
          // the base would have offered count. Matching whole terms only, only the word.
          if (found.partial ? term !== word : !term.startsWith(found.prefix)) {
            continue;
          }
          const q = quality(term, word);
          if (q === 0) {
            continue;
          }
          for (const [field, gaps] of Object.entries(lists)) {
            const value = q * (ix.weights[field] || 0);
            eachId(gaps, (id) => {
              if (best[id] < value && !skip[id]) {
                best[id] = value;
              }
            });
          }
        }
      }
    };
    score(base, ix.superseded);
    score(delta, NONE);
    return { best: best, partial: found.partial };
  }

  // Skips nothing: the delta's postings all count.
  const NONE = new Uint8Array(0);

  // The experts a filter term lists (`@acme`, `!deprecated`, ...).
  async function filterSet(ix, term) {
    const set = new Uint8Array(ix.experts);
    const add = (lists, skip) => {
      for (const gaps of Object.values(lists || {})) {
        eachId(gaps, (id) => {
          if (!skip[id]) {
            set[id] = 1;
          }
        });
      }
    };
    if (STATUS_TERMS.includes(term)) {
      add((await load(root + "search/status.json"))[term], NONE);
      return set;
    }
    const baseKey = keyFor(ix.base, term);
    const deltaKey = keyFor(ix.delta, term);
    const [base, delta] = await Promise.all([
      ix.base.shards.has(baseKey) ? load(shardUrl(ix.base, baseKey)) : {},
      ix.delta.shards.has(deltaKey) ? load(shardUrl(ix.delta, deltaKey)) : {},
    ]);
    add(base[term], ix.superseded);
    add(delta[term], NONE);
    return set;
  }

  async function exactNames(ix, key) {
    if (key.length < 2) {
      return [];
    }
    const bucket = await load(root + "search/k/" + (fnv1a(key) % ix.buckets) + ".json");
    return Object.prototype.hasOwnProperty.call(bucket, key) ? bucket[key] : [];
  }

  function scopeTerm(value) {
    const scope = value.trim().toLowerCase();
    if (!scope) {
      return null;
    }
    if (scope === "unscoped") {
      return "!unscoped";
    }
    return scope.startsWith("@") ? scope : "@" + scope;
  }

  // The query and filters: what must match, what is ranked, what is filtered out.
  function parse(ix, state) {
    const scopes = [];
    const rest = state.q.replace(/(^|\s)(@[a-z0-9][a-z0-9_.-]*)(?=\s|$)/gi, (_, space, scope) => {
      scopes.push(scope.toLowerCase());
      return space + " ";
    });
    const filterScope = scopeTerm(state.scope);
    if (filterScope) {
      scopes.push(filterScope);
    }
    const all = Array.from(new Set(terms(rest)));
    const meaningful = all.filter((word) => !ix.stop.has(word));
    const words = meaningful.length > 0 ? meaningful : all;
    const required = [];
    const excluded = [];
    if (state.status === "active") {
      excluded.push("!deprecated", "!disabled");
    } else if (state.status === "deprecated" || state.status === "disabled") {
      required.push("!" + state.status);
    }
    if (state.env === "yes") {
      required.push("!env");
    } else if (state.env === "no") {
      excluded.push("!env");
    }
    return {
      words: words,
      scopes: Array.from(new Set(scopes)),
      required: required,
      excluded: excluded,
      nameKey: nameKey(state.q.trim()),
    };
  }

  // Every expert the query matches, best first (or newest first), with notes for the reader.
  async function search(state) {
    const ix = await manifest();
    const query = parse(ix, state);
    const filtered = query.scopes.length + query.required.length + query.excluded.length > 0;
    if (query.words.length === 0 && !filtered && query.nameKey.length < 2) {
      return null;
    }
    // The first record file (the last, newest first) is fetched with the shards, not after
    // them: results of equal score are in id order, so the first page of a query matching many
    // experts is mostly in it, and those results then show after one round of requests
    // instead of two.
    const newest = state.sort === "newest";
    load(recordUrl(newest ? Math.floor(Math.max(0, ix.experts - 1) / ix.records) : 0)).catch(
      () => {}
    );
    const files = Promise.all([
      Promise.all(query.words.map((word) => wordScores(ix, word))),
      exactNames(ix, query.nameKey),
      Promise.all(query.scopes.map((term) => filterSet(ix, term))),
      Promise.all(query.required.map((term) => filterSet(ix, term))),
      Promise.all(query.excluded.map((term) => filterSet(ix, term))),
    ]);
    // The requests are out: make the number format now, while they travel. Its first use
    // loads the browser's locale data, 13 to 21 ms on a fresh page, which would otherwise
    // delay the first results.
    numbers();
    const [scored, exact, scopes, required, excluded] = await files;
    const count = ix.experts;
    const score = new Uint32Array(count);
    // Without words, the filters alone choose (a query of `@acme` lists the scope).
    const matched = new Uint8Array(count).fill(query.words.length > 0 ? 1 : filtered ? 1 : 0);
    // One plain loop per list rather than a test of every list per expert: this runs over
    // every expert of the registry, on a page whose code the browser has not optimized yet.
    for (const { best } of scored) {
      for (let id = 0; id < count; id += 1) {
        const value = best[id];
        if (value === 0) {
          matched[id] = 0;
        } else {
          score[id] += value;
        }
      }
    }
    for (const set of scopes.concat(required)) {
      for (let id = 0; id < count; id += 1) {
        matched[id] &= set[id];
      }
    }
    for (const set of excluded) {
      for (let id = 0; id < count; id += 1) {
        if (set[id]) {
          matched[id] = 0;
        }
      }
    }
    // Exact names match whatever the words, but not past the filters.
    const allowed = (id) =>
      scopes.every((set) => set[id]) &&
      required.every((set) => set[id]) &&
      !excluded.some((set) => set[id]);
    for (const id of exact) {
      if (allowed(id)) {
        matched[id] = 1;
      }
      score[id] += EXACT_NAME_BONUS;
    }
    const ids = [];
    for (let id = 0; id < count; id += 1) {
      if (matched[id]) {
        ids.push(id);
      }
    }
    const partial = query.words.filter((_, i) => scored[i].partial);
    // Experts are numbered in publish order, so ids reversed are newest first. (There is no
    // name order: it would need the name of every match, for a common word every record file,
    // megabytes where a query has 100 KB.)
    return { ids: newest ? ids.reverse() : byScore(ids, score), partial: partial };
  }

  // Best score first, then oldest (lowest id) first: the ids grouped by score in one pass (scores take few
  // values), which keeps a word found in 100,000 experts fast where a sort would not be.
  function byScore(ids, score) {
    const groups = new Map();
    for (const id of ids) {
      const group = groups.get(score[id]);
      if (group) {
        group.push(id);
      } else {
        groups.set(score[id], [id]);
      }
    }
    if (groups.size < 2) {
      return ids;
    }
    const scores = Array.from(groups.keys()).sort((a, b) => b - a);
    return [].concat(...scores.map((value) => groups.get(value)));
  }

  function recordUrl(n) {
    return root + "search/r/" + n + ".json";
  }

  async function records(ix, ids) {
    const files = Array.from(new Set(ids.map((id) => Math.floor(id / ix.records))));
    const loaded = await Promise.all(files.map((n) => load(recordUrl(n))));
    const byFile = new Map(files.map((n, i) => [n, loaded[i]]));
    return ids.map((id) => byFile.get(Math.floor(id / ix.records))[id % ix.records]);
  }

  let numberFormat = null;

  // Counts as people read them (`22,717`), made on first use: see search().
  function numbers() {
    if (!numberFormat) {
      numberFormat = new Intl.NumberFormat("en-US");
    }
    return numberFormat;
  }

  function card(record) {
    const [name, latest, state, needsEnv, description] = record;
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
    if (state !== "available") {
      const badge = document.createElement("span");
      badge.className = "badge badge-" + state;
      badge.textContent = state;
      item.append(" ", badge);
    }
    if (needsEnv) {
      const env = document.createElement("span");
      env.className = "tag";
      env.textContent = "needs environment variables";
      item.append(" ", env);
    }
    const text = document.createElement("p");
    text.textContent = description;
    item.append(text);
    return item;
  }

  function pageLink(state, page, text, rel) {
    const link = document.createElement("a");
    link.href = urlFor(Object.assign({}, state, { page: page })).search || "?";
    link.textContent = text;
    link.rel = rel;
    link.dataset.page = String(page);
    return link;
  }

  async function show(found, state, mine) {
    if (found === null) {
      list.replaceChildren();
      pager.replaceChildren();
      pager.hidden = true;
      status.textContent = state.q.trim() ? "Type at least two letters or digits." : "";
      return;
    }
    const total = found.ids.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const page = Math.min(Math.max(1, state.page), pages);
    const first = (page - 1) * PAGE_SIZE;
    const shown = found.ids.slice(first, first + PAGE_SIZE);
    const ix = await manifest();
    const rows = await records(ix, shown);
    if (mine !== generation) {
      return;
    }
    let message;
    if (total === 0) {
      message = state.q.trim()
        ? "No expert matches \u201c" + state.q.trim() + "\u201d."
        : "No expert matches the filters.";
    } else if (total === 1) {
      message = "1 expert matches.";
    } else if (pages === 1) {
      message = numbers().format(total) + " experts match.";
    } else {
      message =
        numbers().format(total) +
        " experts match; showing " +
        numbers().format(first + 1) +
        "\u2013" +
        numbers().format(first + shown.length) +
        ".";
    }
    if (found.partial.length > 0) {
      message +=
        " \u201c" +
        found.partial.join("\u201d, \u201c") +
        "\u201d matched whole words only: type more letters to match longer words.";
    }
    status.textContent = message;
    list.replaceChildren(...rows.map(card));
    pager.replaceChildren();
    pager.hidden = pages === 1;
    if (page > 1) {
      pager.append(pageLink(state, page - 1, "Previous", "prev"), " ");
    }
    const where = document.createElement("span");
    where.textContent = "Page " + numbers().format(page) + " of " + numbers().format(pages);
    pager.append(where);
    if (page < pages) {
      pager.append(" ", pageLink(state, page + 1, "Next", "next"));
    }
    box.dataset.shownAt = String(Math.round(performance.now()));
  }

  function readState() {
    const state = {
      q: input.value,
      page: Number.parseInt(new URLSearchParams(window.location.search).get("page"), 10) || 1,
    };
    for (const name of FILTERS) {
      const field = form.elements[name];
      state[name] = field ? field.value : "";
    }
    return state;
  }

  function urlFor(state) {
    const url = new URL(window.location.href);
    url.search = "";
    if (state.q.trim()) {
      url.searchParams.set("q", state.q);
    }
    for (const name of FILTERS) {
      if (state[name] && !(name === "sort" && state[name] === "relevance")) {
        url.searchParams.set(name, state[name]);
      }
    }
    if (state.page > 1) {
      url.searchParams.set("page", String(state.page));
    }
    return url;
  }

  function run(state) {
    const mine = ++generation;
    delete box.dataset.shownAt;
    box.dataset.startedAt = String(Math.round(performance.now()));
    search(state)
      .then((found) => (mine === generation ? show(found, state, mine) : null))
      .catch(() => {
        if (mine === generation) {
          list.replaceChildren();
          pager.replaceChildren();
          pager.hidden = true;
          status.textContent =
            "Search is unavailable right now; browse the experts by name or by scope below.";
        }
      });
  }

  // A new query or filter starts again at page 1; the URL follows without adding history
  // entries, so Back leaves the search page as a person expects.
  function changed() {
    const state = readState();
    state.page = 1;
    window.history.replaceState(null, "", urlFor(state));
    run(state);
  }

  function fromUrl() {
    const params = new URLSearchParams(window.location.search);
    input.value = params.get("q") || "";
    for (const name of FILTERS) {
      const field = form.elements[name];
      if (field) {
        field.value = params.get(name) || (name === "sort" ? "relevance" : "");
      }
    }
    run(readState());
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    changed();
  });
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(changed, 150);
  });
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field) {
      field.addEventListener("change", changed);
    }
  }
  pager.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-page]");
    if (!link) {
      return;
    }
    event.preventDefault();
    // Pages are history entries: Back returns to the page before.
    window.history.pushState(null, "", link.href);
    run(readState());
    status.scrollIntoView({ block: "nearest" });
  });
  window.addEventListener("popstate", fromUrl);
  fromUrl();
})();
