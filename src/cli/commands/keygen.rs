//! `keygen`: a key pair for signing the registry's root.

use crate::cli::args::KeygenArgs;
use crate::cli::error::CliError;
use crate::cli::printer::{self, KeygenJson, ReportFormat};
use perstack_registry::common::fsutil;
use perstack_registry::common::signing::SecretKey;

pub fn keygen(args: KeygenArgs) -> Result<(), CliError> {
    let secret = SecretKey::generate().map_err(CliError::environment)?;
    let public = secret.public().to_string();
    let secret_text = secret.to_text();
    let printed_secret = match &args.secret_out {
        Some(path) => {
            fsutil::write_new_private(path, format!("{secret_text}\n").as_bytes())?;
            eprintln!("wrote the secret key to {}; keep it secret", path.display());
            None
        }
        None => Some(secret_text.as_str()),
    };
    match args.format {
        ReportFormat::Json => printer::print_json(&KeygenJson {
            public: &public,
            secret: printed_secret,
        })?,
        ReportFormat::Human => {
            let secret_line = printed_secret.map(|secret| format!("secret {secret}"));
            printer::print_lines(secret_line.into_iter().chain([format!("public {public}")]))?;
        }
    }
    Ok(())
}
