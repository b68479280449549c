//! `_headers`: the caching, type and security headers of every file a build writes, in the
//! syntax of Netlify- and Cloudflare-Pages-style hosts, and the Content-Security-Policy the
//! website's pages declare. One place for both, since the pages' `<meta>` policy and the
//! header must say the same thing.

/// Where the headers file is written, relative to the registry root.
pub const HEADERS_PATH: &str = "_headers";

/// The policy every page declares. `frame-ancestors` is only honoured as a header (see
/// `_headers`), so pages carry the rest in a `<meta>` element, which also holds on hosts that
/// send no headers.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'";

/// `PAGE_POLICY` plus what only a header can say.
pub fn header_policy() -> String {
    format!("{PAGE_POLICY}; frame-ancestors 'none'")
}

/// `_headers` for Netlify- and Cloudflare-Pages-style hosts: hash-named files (the website
/// manifest's included) never change, so they are cached for a year as immutable, and so are the publish log's tiles (each width of a
/// partial tile has its own path); the root, the log's checkpoint and hint files, readable documents and Perstack API
/// documents change per publish, so caches must revalidate them after a minute (the API
/// documents have no file extension, so their type is set here). The website's pages, search
/// index and recent list revalidate like the root, its hash-named assets are immutable, and every
/// response carries the site's Content-Security-Policy. No two rules set the same header for
/// one path, since such hosts join the values of every matching rule.
pub fn headers_file() -> String {
    let policy = header_policy();
    format!(
        "\
/v1/blobs/*
  Cache-Control: public, max-age=31536000, immutable
  Content-Type: text/plain; charset=utf-8
  X-Content-Type-Options: nosniff
/v1/index/*
  Cache-Control: public, max-age=31536000, immutable
/v1/bins/*
  Cache-Control: public, max-age=31536000, immutable
/v1/snapshots/*
  Cache-Control: public, max-age=31536000, immutable
/v1/site/*
  Cache-Control: public, max-age=31536000, immutable
/v1/log/tile/*
  Cache-Control: public, max-age=31536000, immutable
  Content-Type: application/octet-stream
/v1/log/checkpoint
  Cache-Control: public, max-age=60, must-revalidate
  Content-Type: text/plain; charset=utf-8
/v1/log/experts/*
  Cache-Control: public, max-age=60, must-revalidate
/v1/root.json
  Cache-Control: public, max-age=60, must-revalidate
/v1/experts/*
  Cache-Control: public, max-age=60, must-revalidate
/v1/*
  Access-Control-Allow-Origin: *
/api/*
  Content-Type: application/json
  Cache-Control: public, max-age=60, must-revalidate
  Access-Control-Allow-Origin: *
/*
  Content-Security-Policy: {policy}
  Referrer-Policy: no-referrer
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff
/search/*
  Cache-Control: public, max-age=60, must-revalidate
  X-Content-Type-Options: nosniff
/experts/*
  Cache-Control: public, max-age=60, must-revalidate
/scopes/*
  Cache-Control: public, max-age=60, must-revalidate
/browse/*
  Cache-Control: public, max-age=60, must-revalidate
/
  Cache-Control: public, max-age=60, must-revalidate
/index.html
  Cache-Control: public, max-age=60, must-revalidate
/search.html
  Cache-Control: public, max-age=60, must-revalidate
/api.html
  Cache-Control: public, max-age=60, must-revalidate
/404.html
  Cache-Control: public, max-age=60, must-revalidate
/recent.json
  Cache-Control: public, max-age=60, must-revalidate
"
    )
}
