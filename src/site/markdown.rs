//! An expert's instruction, rendered from Markdown to HTML that is safe to put in a page.
//!
//! The instruction is the heart of a definition, and it is untrusted: anyone may publish one.
//! pulldown-cmark parses it; before its HTML writer sees the events, [`html`] rewrites every
//! one that could reach outside the text:
//!
//! - raw HTML, block or inline, becomes text, so the writer escapes it (no `<script>`, no
//!   `<iframe>`, no attribute ever comes from the definition);
//! - a link keeps its target only if that target, read by the `url` crate as browsers read
//!   it, is `http`, `https`, `mailto` or relative; otherwise only its text remains;
//! - an image is never loaded (the page's Content-Security-Policy allows no outside images, and
//!   a registry should not make readers' browsers call hosts an author picked): it becomes a link
//!   to the image, with its alt text, or just the alt text;
//! - headings move below the section that holds the instruction (the instruction's highest
//!   level becomes `h3`) and never skip a level, so the page keeps one `h1` and an outline
//!   screen readers can follow.
//!
//! Heading ids, footnotes and task-list checkboxes are not enabled: each would put markup or ids
//! chosen by the author into the page.

use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};
use url::Url;

/// The heading level of the section the instruction is shown in; its own headings start one
/// below.
const SECTION_LEVEL: u8 = 2;

/// Renders `markdown` as HTML with nothing the author wrote able to run, load or break out of
/// the page (see the module documentation).
pub fn html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let parsed: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let top = parsed
        .iter()
        .filter_map(|event| match event {
            Event::Start(Tag::Heading { level, .. }) => Some(*level as u8),
            _ => None,
        })
        .min()
        .unwrap_or(1);
    let events = Sanitize::new(
        parsed.into_iter(),
        SECTION_LEVEL + 1 - top.min(SECTION_LEVEL + 1),
    );
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// What became of a link or image that was opened, so its end is rewritten to match.
#[derive(Clone, Copy)]
enum Opened {
    /// Written as a link.
    Link,
    /// Dropped: only its text is shown.
    Text,
}

struct Sanitize<'a, I: Iterator<Item = Event<'a>>> {
    events: std::iter::Peekable<I>,
    /// Links and images still open, innermost last.
    opened: Vec<Opened>,
    /// What is added to a heading's level: the instruction's highest level becomes the one
    /// below the section's.
    shift: u8,
    /// The level the last heading was given.
    last_heading: u8,
    /// The level the open heading was given, which its end must repeat.
    open_heading: Option<HeadingLevel>,
    /// An event to give before reading the next one.
    pending: Option<Event<'a>>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Sanitize<'a, I> {
    fn new(events: I, shift: u8) -> Self {
        Sanitize {
            events: events.peekable(),
            opened: Vec::new(),
            shift,
            last_heading: SECTION_LEVEL,
            open_heading: None,
            pending: None,
        }
    }

    fn inside_link(&self) -> bool {
        self.opened.iter().any(|o| matches!(o, Opened::Link))
    }

    fn link(&mut self, link_type: LinkType, dest_url: CowStr<'a>, title: CowStr<'a>) -> Event<'a> {
        // A link inside a link is not valid HTML; the inner one keeps only its text.
        if self.inside_link() || !safe_target(link_type, &dest_url) {
            self.opened.push(Opened::Text);
            return Event::Text(CowStr::Borrowed(""));
        }
        self.opened.push(Opened::Link);
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id: CowStr::Borrowed(""),
        })
    }

    fn close(&mut self) -> Event<'a> {
        match self.opened.pop() {
            Some(Opened::Link) => Event::End(TagEnd::Link),
            _ => Event::Text(CowStr::Borrowed("")),
        }
    }

    fn heading(&mut self, level: HeadingLevel) -> Event<'a> {
        let wanted = (level as u8).saturating_add(self.shift);
        let given = wanted
            .min(self.last_heading + 1)
            .clamp(SECTION_LEVEL + 1, 6);
        self.last_heading = given;
        let level = HeadingLevel::try_from(usize::from(given)).unwrap_or(HeadingLevel::H6);
        self.open_heading = Some(level);
        Event::Start(Tag::Heading {
            level,
            id: None,
            classes: Vec::new(),
            attrs: Vec::new(),
        })
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Sanitize<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        if let Some(event) = self.pending.take() {
            return Some(event);
        }
        let event = self.events.next()?;
        Some(match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
            Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
            Event::Start(Tag::Heading { level, .. }) => self.heading(level),
            Event::End(TagEnd::Heading(_)) => Event::End(TagEnd::Heading(
                self.open_heading.take().unwrap_or(HeadingLevel::H6),
            )),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            }) => self.link(link_type, dest_url, title),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            }) => {
                let link_type = match link_type {
                    LinkType::Email => LinkType::Email,
                    _ => LinkType::Inline,
                };
                let start = self.link(link_type, dest_url, title);
                // An image without alt text still needs words for its link.
                if matches!(self.events.peek(), Some(Event::End(TagEnd::Image))) {
                    self.pending = Some(Event::Text(CowStr::Borrowed("image")));
                }
                start
            }
            Event::End(TagEnd::Link | TagEnd::Image) => self.close(),
            other => other,
        })
    }
}

/// Whether a link may point at `dest`: read as a browser reads it (relative to a page of this
/// site), it must be `http`, `https` or `mailto`, so `javascript:`, `data:`, `file:` and their
/// disguises (case, entities, control characters) never become links.
fn safe_target(link_type: LinkType, dest: &str) -> bool {
    let dest = match link_type {
        // The writer puts `mailto:` before an email autolink's address.
        LinkType::Email => format!("mailto:{dest}"),
        _ => dest.to_owned(),
    };
    let base = Url::parse("https://page.invalid/experts/").expect("a valid URL");
    base.join(&dest)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https" | "mailto"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html() {
        assert_eq!(
            html("Find **sources** and `cite` them.\n\n- one\n- two\n"),
            "<p>Find <strong>sources</strong> and <code>cite</code> them.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        );
        assert_eq!(
            html("```toml\na = \"<b>\"\n```\n"),
            "<pre><code class=\"language-toml\">a = \"&lt;b&gt;\"\n</code></pre>\n"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        assert_eq!(
            html(
                "<script>alert(1)</script>\n\nHi <iframe src=\"https://evil.example\"></iframe> there <b onmouseover=\"x()\">bold</b>\n"
            ),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;\n</p>\n<p>Hi &lt;iframe src=\"https://evil.example\"&gt;&lt;/iframe&gt; there &lt;b onmouseover=\"x()\"&gt;bold&lt;/b&gt;</p>\n"
        );
        assert_eq!(
            html("<!-- hidden -->\n"),
            "<p>&lt;!-- hidden --&gt;\n</p>\n"
        );
    }

    #[test]
    fn only_web_and_mail_links_are_kept() {
        assert_eq!(
            html(
                "[docs](https://example.com/a?b=1&c) [rel](../other/index.html) [mail](mailto:a@example.com) <b@example.com> <https://example.com>"
            ),
            "<p><a href=\"https://example.com/a?b=1&amp;c\">docs</a> <a href=\"../other/index.html\">rel</a> <a href=\"mailto:a@example.com\">mail</a> <a href=\"mailto:b@example.com\">b@example.com</a> <a href=\"https://example.com\">https://example.com</a></p>\n"
        );
        for hostile in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java&#09;script:alert(1))",
            "[x](javascript&#58;alert(1))",
            "[x](<java\nscript:alert(1)>)",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
            "[x](file:///etc/passwd)",
            "[x]: javascript:alert(1)\n\n[x]",
            "<javascript:alert(1)>",
        ] {
            let out = html(hostile);
            assert!(!out.contains("<a"), "{hostile} gave {out}");
            assert!(!out.to_lowercase().contains("href"), "{hostile} gave {out}");
        }
        assert_eq!(html("[x](javascript:alert(1))"), "<p>x</p>\n");
    }

    #[test]
    fn images_are_links_never_loaded() {
        assert_eq!(
            html(
                "![a chart](https://example.com/c.png \"Chart\") ![](https://example.com/d.png) ![bad](javascript:x)"
            ),
            "<p><a href=\"https://example.com/c.png\" title=\"Chart\">a chart</a> <a href=\"https://example.com/d.png\">image</a> bad</p>\n"
        );
        assert_eq!(
            html("[![logo](https://example.com/l.png)](https://example.com)"),
            "<p><a href=\"https://example.com\">logo</a></p>\n"
        );
        assert!(!html("![x](https://example.com/x.png)").contains("<img"));
    }

    #[test]
    fn headings_sit_below_the_section_and_never_skip_a_level() {
        assert_eq!(
            html("# Role\n\n### Steps\n\n## Rules\n\n###### Deep\n\n# Again\n"),
            "<h3>Role</h3>\n<h4>Steps</h4>\n<h4>Rules</h4>\n<h5>Deep</h5>\n<h3>Again</h3>\n"
        );
        assert_eq!(html("#### Late start\n"), "<h3>Late start</h3>\n");
        assert_eq!(
            html("## Workflow\n\n### Step\n\n## Guidelines\n"),
            "<h3>Workflow</h3>\n<h4>Step</h4>\n<h3>Guidelines</h3>\n"
        );
        assert_eq!(
            html("# Role {#versions .x}\n"),
            "<h3>Role {#versions .x}</h3>\n"
        );
    }
}
