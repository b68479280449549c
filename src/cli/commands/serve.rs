//! `serve`: a built registry over HTTP(S) on this machine.

use crate::cli::args::ServeArgs;
use crate::cli::error::CliError;
use crate::cli::printer;
use perstack_registry::serve::{ServeOptions, Server};

pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    let options = ServeOptions {
        tls_dir: args.tls_dir()?,
        dir: args.dir,
        listen: args.listen,
    };
    let server = Server::bind(&options)?;
    if let Some(note) = server.note() {
        printer::status(args.quiet, &format!("note: {note}"));
    }
    let url = server.url();
    let mut lines = vec![format!("serving {} at {url}", options.dir.display())];
    match server.ca_certificate() {
        Some(ca) => {
            lines.push(format!("perstackApiBaseUrl = \"{url}\""));
            lines.push(format!("certificate: {}", ca.display()));
            lines.push(format!(
                "export NODE_EXTRA_CA_CERTS={}",
                shell_word(&ca.display().to_string())
            ));
        }
        None => printer::status(
            args.quiet,
            "note: the Perstack runtime requires an https perstackApiBaseUrl; add --tls to use this registry from it",
        ),
    }
    // Flushed at once: whoever started the server may be waiting for the URL on a pipe.
    printer::print_lines(lines)?;
    let quiet = args.quiet;
    server.run(move |event| {
        if !quiet {
            eprintln!("{}", crate::cli::printer::terminal_safe(&event.to_string()));
        }
    })?;
    Ok(())
}

/// `word` as one shell word, quoted only when it must be.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+@%,:=".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
