//! `accolade bake` and `accolade unbake`: a credential into a badge image and back out
//! (Open Badges 3.0 §5.3 "Baked Badge": §5.3.1 PNG, §5.3.2 SVG).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;

use crate::bake::{self, Baked, ImageKind};

#[derive(Debug, Args)]
pub struct BakeArgs {
    /// The badge image, PNG or SVG (told apart by content); `-` reads standard input.
    pub image: PathBuf,
    /// The credential: a compact JWT, or a file holding one.
    pub jwt: String,
    /// Where to write the baked image, in the format of IMAGE; `-` for standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct UnbakeArgs {
    /// A baked PNG or SVG badge; `-` reads standard input.
    pub file: PathBuf,
}

/// Bakes the JWT into the image; exit code 0, or an error (exit 1).
pub fn run_bake(args: &BakeArgs) -> anyhow::Result<i32> {
    let jwt = read_jwt(&args.jwt)?;
    let image = read(&args.image)?;
    let baked = match bake::sniff(&image) {
        Some(ImageKind::Png) => bake::bake_png(&image, &jwt),
        Some(ImageKind::Svg) => std::str::from_utf8(&image)
            .map_err(|_| bake::Error::MalformedSvg("not UTF-8".into()))
            .and_then(|svg| bake::bake_svg(svg, &jwt))
            .map(String::into_bytes),
        None => bail!("{} is neither a PNG nor an SVG image", args.image.display()),
    }
    .with_context(|| format!("cannot bake {}", args.image.display()))?;
    write(&args.output, &baked)?;
    Ok(0)
}

/// Prints the credential baked into the image: the JWT, or the JSON credential.
pub fn run_unbake(args: &UnbakeArgs) -> anyhow::Result<i32> {
    let image = read(&args.file)?;
    let kind = bake::sniff(&image)
        .ok_or_else(|| anyhow!("{} is neither a PNG nor an SVG image", args.file.display()))?;
    let text = match bake::extract(kind, &image)
        .with_context(|| format!("no credential read from {}", args.file.display()))?
    {
        Baked::Jwt(jwt) => jwt,
        Baked::Json(json) => serde_json::to_string_pretty(&json)?,
        Baked::Ob2(text) => text,
    };
    println!("{text}");
    Ok(0)
}

/// The JWT argument: a file holding a compact JWT (surrounding white space ignored),
/// or the JWT itself.
fn read_jwt(arg: &str) -> anyhow::Result<String> {
    // A file first: a name like `badge.jwt.txt` has the shape of a compact JWS too.
    let (jwt, source) = match std::fs::read(arg) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| anyhow!("{arg} is not text"))?;
            (text.trim().to_owned(), format!("{arg} does not hold"))
        }
        Err(_) => (
            arg.trim().to_owned(),
            "the JWT argument is neither a file nor".to_owned(),
        ),
    };
    if !bake::is_compact_jws(&jwt) {
        bail!("{source} a compact JWT (three base64url parts separated by dots)");
    }
    Ok(jwt)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        return Ok(out.flush()?);
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6d2ViOmV4YW1wbGUuZWR1In0.c2lnbmF0dXJl";
    const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>"#;

    #[test]
    fn bake_then_unbake_an_svg_through_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let image = dir.path().join("badge.svg");
        let out = dir.path().join("baked.svg");
        let jwt_file = dir.path().join("badge.jwt.txt");
        std::fs::write(&image, SVG).expect("write");
        std::fs::write(&jwt_file, format!("{JWS}\n")).expect("write");
        let args = BakeArgs {
            image,
            jwt: jwt_file.display().to_string(),
            output: out.clone(),
        };
        assert_eq!(run_bake(&args).expect("baked"), 0);
        let baked = std::fs::read(&out).expect("read");
        assert_eq!(
            bake::extract(ImageKind::Svg, &baked).expect("extract"),
            Baked::Jwt(JWS.into())
        );
        assert_eq!(run_unbake(&UnbakeArgs { file: out }).expect("unbaked"), 0);
    }

    #[test]
    fn a_jwt_argument_is_taken_as_it_is() {
        assert_eq!(read_jwt(JWS).expect("jwt"), JWS);
    }

    #[test]
    fn something_that_is_not_a_compact_jwt_is_refused() {
        for arg in ["not a jwt", "a.b", "{\"id\": 1}", "/no/such/file.json"] {
            let err = read_jwt(arg).expect_err("refused");
            assert!(err.to_string().contains("compact JWT"), "{err}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cred.json");
        std::fs::write(&file, "{}").expect("write");
        let err = read_jwt(&file.display().to_string()).expect_err("refused");
        assert!(
            err.to_string().contains("does not hold a compact JWT"),
            "{err}"
        );
    }

    #[test]
    fn unbaking_an_image_without_a_credential_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let image = dir.path().join("plain.svg");
        std::fs::write(&image, SVG).expect("write");
        let err = run_unbake(&UnbakeArgs { file: image }).expect_err("nothing baked");
        assert!(format!("{err:#}").contains("no credential"), "{err:#}");
        let text = dir.path().join("x.txt");
        std::fs::write(&text, "hello").expect("write");
        let err = run_unbake(&UnbakeArgs { file: text }).expect_err("not an image");
        assert!(
            err.to_string().contains("neither a PNG nor an SVG"),
            "{err}"
        );
    }

    #[test]
    fn baking_something_that_is_not_an_image_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = dir.path().join("x.txt");
        std::fs::write(&text, "hello").expect("write");
        let args = BakeArgs {
            image: text,
            jwt: JWS.into(),
            output: dir.path().join("out"),
        };
        let err = run_bake(&args).expect_err("not an image");
        assert!(
            err.to_string().contains("neither a PNG nor an SVG"),
            "{err}"
        );
    }
}
