// Expert and version pages: fills in this registry's address where the build did not know it
// (no `[site] url` in registry.toml), and adds copy buttons to the perstack.toml line and the
// command. Without JavaScript the page keeps its placeholder address and the note that says
// what to write instead, and the text can still be selected and copied by hand.
"use strict";

(() => {
  const address = document.querySelector(".registry-url");
  // A page opened from disk has no address a runtime could reach.
  if (address && (location.protocol === "https:" || location.protocol === "http:")) {
    // data-root leads from this page to the registry's root, as every relative link does.
    const root = new URL(address.dataset.root || "./", location.href);
    root.search = "";
    root.hash = "";
    address.textContent = root.href.replace(/\/$/, "");
    for (const note of document.querySelectorAll(".registry-url-note")) {
      note.hidden = true;
    }
  }

  // The clipboard API exists only in secure contexts (https, localhost).
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  document.querySelector("main").append(status);
  for (const pre of document.querySelectorAll("pre[data-copy]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", pre.dataset.copy);
    let restore;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pre.textContent);
        button.textContent = "Copied";
        status.textContent = "Copied.";
      } catch {
        button.textContent = "Not copied";
        status.textContent = "Could not copy: select the text and copy it instead.";
      }
      clearTimeout(restore);
      restore = setTimeout(() => {
        button.textContent = "Copy";
      }, 2000);
    });
    const wrap = document.createElement("div");
    wrap.className = "copyable";
    pre.replaceWith(wrap);
    wrap.append(pre, button);
  }
})();
